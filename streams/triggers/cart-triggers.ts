// Triggers from the stream: cart and order events become calls on the cart-recovery workflows.
//
// One workflow per (shop, user, cart) under cartRecoveryWorkflowId. A cart change is a
// signal-with-start of `cartChanged` (the first change starts the flow, later ones reset its
// abandonment timer); an order placed signals `orderPlaced` to its cart's flow, which ends it whatever
// the order's event time (a late order still ends it). Both calls are idempotent by workflow id, so a
// redelivered event is safe: the message is acked only after Temporal accepted the call.
//
// Workflow id reuse: starts use WorkflowIdReusePolicy.REJECT_DUPLICATE. Signal-with-start always
// signals a *running* workflow with that id (that is its conflict behaviour), and REJECT_DUPLICATE
// makes it refuse to start a new run when a *closed* one exists (within the namespace's retention),
// so a cart event arriving after the flow ended (bought, emptied, completed) does not restart
// reminders for that cart: the call fails with WorkflowExecutionAlreadyStartedError and the event is
// skipped. (ALLOW_DUPLICATE, the default, would start a second recovery of an already bought cart.)
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type WorkflowClient,
} from '@temporalio/client';
import type { NatsConnection } from 'nats';
import type { Config } from '../../infra/config';
import type { Logger } from '../../infra/logger';
import type { Envelope, EventType } from '../../schemas/events';
import {
  cartChanged,
  cartRecoveryWorkflow,
  cartRecoveryWorkflowId,
  orderPlaced,
  type CartRecoveryInput,
  type CartSnapshot,
} from '../../workflows/cart-recovery';
import type { Flow, Tier } from '../../workflows/dsl';
import { cartRecovery } from '../../workflows/flows/cart-recovery';
import { segment } from '../processors/interest/tags';
import { isKnownTimeZone } from '../../schemas/time-zone';
import type { ProfileStore } from '../processors/interest/store';
import { names, userKey } from '../topology';
import type { LeaseGate } from '../consumer/leases';
import {
  createTriggerLoop,
  ensureConsumer,
  triggerConsumerConfig,
  type TriggerCounters,
  type TriggerProcessor,
} from './runner';

/** The event types the cart triggers consume. */
export const CART_TRIGGER_TYPES = [
  'cart_item_added',
  'cart_item_removed',
  'cart_item_quantity_changed',
  'order_placed',
] as const satisfies readonly EventType[];
export type CartTriggerType = (typeof CART_TRIGGER_TYPES)[number];

export const CART_TRIGGER_CONSUMER = 'triggers_cart';

export type CartAction =
  | {
      kind: 'cart_changed';
      shopId: string;
      userId: string;
      cartId: string;
      workflowId: string;
      cart: CartSnapshot;
    }
  | {
      kind: 'order_placed';
      shopId: string;
      userId: string;
      cartId: string;
      workflowId: string;
      orderId: string;
      eventTime: number;
    }
  | { kind: 'none'; reason: string };

/**
 * What one event asks of the cart-recovery flows. Pure. The item count is not in the events (they
 * carry the cart total and the product changed), so it is a lower bound: 0 only when the cart is known
 * to be empty (a removal or a quantity change to 0 that leaves a total of 0), else at least 1.
 */
export function triggerFor(envelope: Envelope, type: EventType): CartAction {
  const shopId = envelope.shopId;
  const userId = userKey(envelope);
  if (!userId) return { kind: 'none', reason: 'no user id or anonymous id' };
  const eventTime = Number(envelope.occurredAt);
  switch (type) {
    case 'cart_item_added':
    case 'cart_item_removed':
    case 'cart_item_quantity_changed': {
      const p =
        type === 'cart_item_added'
          ? envelope.cartItemAdded
          : type === 'cart_item_removed'
            ? envelope.cartItemRemoved
            : envelope.cartItemQuantityChanged;
      if (!p?.cartId) return { kind: 'none', reason: `${type} without a cart id` };
      const totalMinor = Number(p.cartTotalMinor ?? 0);
      const quantity = p.product?.quantity ?? 0;
      let itemCount: number;
      if (type === 'cart_item_added') itemCount = Math.max(1, quantity);
      else if (totalMinor > 0) itemCount = Math.max(1, type === 'cart_item_quantity_changed' ? quantity : 1);
      else itemCount = type === 'cart_item_removed' || quantity === 0 ? 0 : Math.max(1, quantity);
      const cart: CartSnapshot = { totalMinor, itemCount, eventTime };
      if (p.currency) cart.currency = p.currency;
      return {
        kind: 'cart_changed',
        shopId,
        userId,
        cartId: p.cartId,
        workflowId: cartRecoveryWorkflowId(shopId, userId, p.cartId),
        cart,
      };
    }
    case 'order_placed': {
      const o = envelope.orderPlaced;
      if (!o?.cartId) return { kind: 'none', reason: 'order without a cart id' };
      return {
        kind: 'order_placed',
        shopId,
        userId,
        cartId: o.cartId,
        workflowId: cartRecoveryWorkflowId(shopId, userId, o.cartId),
        orderId: o.orderId ?? '',
        eventTime,
      };
    }
    default:
      return { kind: 'none', reason: `${type} triggers nothing` };
  }
}

/** The filter subjects of the trigger consumer: cart and order events of every partition. */
export function cartTriggerSubjects(prefix: string): string[] {
  return CART_TRIGGER_TYPES.map((t) => `${prefix}.events.*.${t}`);
}

/**
 * The durable consumer (for topology.ts consumerConfigs). DeliverPolicy.New: a consumer created on a
 * stream that already holds days of events does not start recovery flows for carts long abandoned.
 */
export function cartTriggerConsumerConfig(cfg: Config, name = CART_TRIGGER_CONSUMER) {
  return triggerConsumerConfig(
    name,
    'cart triggers: cart and order events to cart-recovery workflows',
    cartTriggerSubjects(cfg.nats.prefix),
  );
}

/** A tierOf backed by the interest processor's profiles: segment(state, now, config.tiers).tier. */
export function tierFromProfiles(store: ProfileStore, tiers: Config['tiers']) {
  return async (shopId: string, user: string): Promise<Tier> =>
    segment((await store.load(shopId, user)).state, Date.now(), tiers).tier;
}

/**
 * A timeZoneOf backed by the interest processor's profiles: the user's latest time zone (by event
 * time), or 'UTC' when none is known or the stored one is not usable.
 */
export function timeZoneFromProfiles(store: ProfileStore) {
  return async (shopId: string, user: string): Promise<string> => {
    const zone = (await store.load(shopId, user)).state.timeZone;
    return zone && isKnownTimeZone(zone) ? zone : 'UTC';
  };
}

export interface CartTriggerStats extends TriggerCounters {
  started: number;
  signalled: number;
  /** Cart events for a cart whose flow already ended (not restarted). */
  endedSkipped: number;
  /** Orders whose cart has no running flow. */
  noFlow: number;
  ignored: number;
}

export type CartTriggerProcessor = TriggerProcessor<CartTriggerStats>;

/** Runs remembered for the `started` count: the most recent ones (a run is signalled in a burst). */
export const SEEN_RUNS_MAX = 10_000;

/** A set that forgets its least recently used entries past `max`. */
export function boundedSet(max: number) {
  const entries = new Set<string>();
  return {
    /** Adds it (as the most recent); false if it was there already. */
    add(key: string): boolean {
      const had = entries.delete(key);
      entries.add(key);
      if (entries.size > max) entries.delete(entries.values().next().value!);
      return !had;
    },
    get size(): number {
      return entries.size;
    },
  };
}

export interface CartTriggerDeps {
  nc: NatsConnection;
  client: WorkflowClient;
  config: Config;
  logger: Logger;
  /** Default triggers_cart; created with cartTriggerConsumerConfig if missing. */
  consumerName?: string;
  /** The user's value tier for the coupon; default 'new'. */
  tierOf?: (shopId: string, userId: string) => Promise<Tier>;
  /** The user's time zone for quiet hours; default 'UTC'. */
  timeZoneOf?: (shopId: string, userId: string) => Promise<string>;
  /** The flow a new recovery runs; default the shipped cart-recovery flow. */
  flowFor?: (shopId: string, userId: string) => Flow;
  /** Default config.temporal.taskQueue. */
  taskQueue?: string;
  batchSize?: number;
  /** Attempts of a Temporal call that fails with something other than unavailability. Default 5. */
  maxAttempts?: number;
  /** Whether Temporal answers; while not, events are held (see runner.ts). Default: always. */
  ready?: () => Promise<boolean>;
  /** With several instances: consume only the consumers this one holds (streams/consumer/leases.ts). */
  leases?: LeaseGate;
}

export async function createCartTriggerProcessor(deps: CartTriggerDeps): Promise<CartTriggerProcessor> {
  const { nc, client, config, logger } = deps;
  const n = names(config.nats.prefix);
  const consumerName = deps.consumerName ?? CART_TRIGGER_CONSUMER;
  const taskQueue = deps.taskQueue ?? config.temporal.taskQueue;
  const batchSize = deps.batchSize ?? 100;
  const maxAttempts = deps.maxAttempts ?? 5;
  await ensureConsumer(
    await nc.jetstreamManager(),
    n.eventsStream,
    cartTriggerConsumerConfig(config, consumerName),
  );
  const stats: Omit<CartTriggerStats, 'events' | 'retries' | 'failed' | 'refused'> = {
    started: 0,
    signalled: 0,
    endedSkipped: 0,
    noFlow: 0,
    ignored: 0,
  };
  // bounded: a long-running service sees millions of runs; `started` may count a run again only
  // after SEEN_RUNS_MAX other runs were signalled since its last change (a count, not a decision)
  const seenRuns = boundedSet(SEEN_RUNS_MAX);

  async function apply(action: CartAction): Promise<void> {
    if (action.kind === 'none') {
      stats.ignored++;
      return;
    }
    if (action.kind === 'cart_changed') {
      const { shopId, userId, cartId, workflowId, cart } = action;
      const [tier, timeZone] = await Promise.all([
        deps.tierOf ? deps.tierOf(shopId, userId) : Promise.resolve<Tier>('new'),
        deps.timeZoneOf ? deps.timeZoneOf(shopId, userId) : Promise.resolve('UTC'),
      ]);
      const input: CartRecoveryInput = {
        flow: deps.flowFor?.(shopId, userId) ?? cartRecovery,
        shopId,
        userId,
        cartId,
        tier,
        timeZone,
        cart,
      };
      try {
        const handle = await client.signalWithStart(cartRecoveryWorkflow, {
          workflowId,
          taskQueue,
          args: [input],
          signal: cartChanged,
          signalArgs: [cart],
          workflowIdReusePolicy: 'REJECT_DUPLICATE', // WorkflowIdReusePolicy.REJECT_DUPLICATE
        });
        // signaledRunId is the run that got the signal: new or already running, we cannot tell
        // cheaply, so count signals; `started` counts the first change seen per workflow in this process.
        stats.signalled++;
        if (seenRuns.add(handle.signaledRunId)) stats.started++;
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        stats.endedSkipped++; // the flow of this cart already ended: a late change does not restart it
        logger.debug({ workflowId }, 'cart flow already ended; late cart event skipped');
      }
      return;
    }
    try {
      await client
        .getHandle(action.workflowId)
        .signal(orderPlaced, { orderId: action.orderId, eventTime: action.eventTime });
      stats.signalled++;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      stats.noFlow++; // no flow for this cart, or it already ended
    }
  }
  const loop = createTriggerLoop<CartAction>({
    nc,
    prefix: config.nats.prefix,
    ...(deps.ready ? { ready: deps.ready } : {}),
    ...(deps.leases ? { leases: deps.leases } : {}),
    stream: n.eventsStream,
    consumer: consumerName,
    logger,
    label: 'cart triggers',
    decide: triggerFor,
    apply,
    describe: (a) => (a.kind === 'none' ? { kind: a.kind } : { kind: a.kind, workflowId: a.workflowId }),
    batchSize,
    maxAttempts,
  });

  return {
    run: () => loop.run(),
    stop: () => loop.stop(),
    health: () => loop.health(),
    stats: () => ({ ...stats, ...loop.counters() }),
  };
}
