// Triggers from the stream for coupons: tier changes start the tier flows, and orders that carry a
// coupon code redeem it.
//
//   tier_changed  -> a move up starts couponReleaseWorkflow for every tier flow whose audience names
//                    the new tier (a move down, after a refund, starts nothing), under
//                    couponReleaseWorkflowId: one run per user, flow and tier, ever (REJECT_DUPLICATE,
//                    so a user who drops out of a tier and comes back, or a redelivered event,
//                    starts nothing new).
//   order_placed  -> with a coupon code: redeemed in the ledger (JetStream KV, compare-and-set, once
//                    per code; the same order again is an idempotent success), then a coupon_redeemed
//                    event (its id derived from the code, so a redelivery publishes a duplicate that
//                    JetStream drops), then couponRedeemed signalled to the user's tier flows of the
//                    coupon's tier. A code that is unknown, expired, already used by another order, or
//                    another user's is not redeemed: counted by reason and logged (the order itself is
//                    in ClickHouse with its code). Every order also signals orderPlaced to the tier
//                    flows that exit on purchase.
//
// Acked only after all of it is durable; see runner.ts for batching, order and retries.
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type WorkflowClient,
} from '@temporalio/client';
import type { NatsConnection } from 'nats';
import { maskCode, withCouponRef } from '../../coupons/coupon-ledger';
import {
  CouponRedeemError,
  normalizeCode,
  type CouponErrorType,
  type KvCouponLedger,
} from '../../coupons/kv-coupon-ledger';
import type { FlowEvent } from '../../activities/types';
import type { Config } from '../../infra/config';
import type { Logger } from '../../infra/logger';
import type { Envelope, EventType } from '../../schemas/events';
import {
  couponRedeemed,
  couponReleaseWorkflow,
  couponReleaseWorkflowId,
  orderPlaced,
  type CouponReleaseInput,
} from '../../workflows/coupon-release';
import { TIERS, type Flow, type Tier } from '../../workflows/dsl';
import { couponRedeemed as couponRedeemedEvent } from '../../workflows/flow-events';
import { names, userKey } from '../topology';
import type { LeaseGate } from '../consumer/leases';
import {
  createTriggerLoop,
  ensureConsumer,
  triggerConsumerConfig,
  type MessageMeta,
  type TriggerCounters,
  type TriggerProcessor,
} from './runner';

export const COUPON_TRIGGER_TYPES = ['tier_changed', 'order_placed'] as const satisfies readonly EventType[];
export const COUPON_TRIGGER_CONSUMER = 'triggers_coupons';

export type CouponAction =
  | { kind: 'tier_reached'; shopId: string; userId: string; tier: Tier; previousTier?: Tier }
  | {
      kind: 'order_placed';
      shopId: string;
      userId: string;
      orderId: string;
      /** Normalised; absent for an order without one. */
      couponCode?: string;
      /** What the client says it took off: informational; the ledger's amount is what counts. */
      discountMinor: number;
      currency?: string;
      /** The order's occurred_at (client data): never used to judge a coupon. */
      eventTime: number;
      /** When the order reached JetStream (server time): what expiry is judged by. */
      receivedAt: number;
    }
  | { kind: 'none'; reason: string };

const isTier = (s: string | null | undefined): s is Tier => (TIERS as readonly string[]).includes(s ?? '');

/**
 * What one event asks of the coupon flows. Pure. An order's coupon is judged by server facts only:
 * the time the order reached JetStream (`meta.streamTime`), not its occurred_at, and the amount the
 * ledger issued, not the order's discount, so a backdated or inflated order gains nothing.
 */
export function couponTriggerFor(
  envelope: Envelope,
  type: EventType,
  meta: Pick<MessageMeta, 'streamTime'>,
): CouponAction {
  const shopId = envelope.shopId;
  const userId = userKey(envelope);
  if (!userId) return { kind: 'none', reason: 'no user id or anonymous id' };
  if (type === 'tier_changed') {
    const t = envelope.tierChanged;
    if (!isTier(t?.tier)) return { kind: 'none', reason: `unknown tier '${t?.tier ?? ''}'` };
    return {
      kind: 'tier_reached',
      shopId,
      userId,
      tier: t.tier,
      ...(isTier(t.previousTier) ? { previousTier: t.previousTier } : {}),
    };
  }
  if (type === 'order_placed') {
    const o = envelope.orderPlaced;
    if (!o?.orderId) return { kind: 'none', reason: 'order without an order id' };
    const code = o.couponCode ? normalizeCode(o.couponCode) : '';
    return {
      kind: 'order_placed',
      shopId,
      userId,
      orderId: o.orderId,
      ...(code ? { couponCode: code } : {}),
      discountMinor: Number(o.discountMinor ?? 0),
      ...(o.currency ? { currency: o.currency } : {}),
      eventTime: Number(envelope.occurredAt),
      receivedAt: meta.streamTime,
    };
  }
  return { kind: 'none', reason: `${type} triggers nothing` };
}

export function couponTriggerConsumerConfig(cfg: Config, name = COUPON_TRIGGER_CONSUMER) {
  return triggerConsumerConfig(
    name,
    'coupon triggers: tier changes to tier flows, orders with a coupon code to redemptions',
    COUPON_TRIGGER_TYPES.map((t) => `${cfg.nats.prefix}.events.*.${t}`),
  );
}

/** Why a code on an order was not redeemed. */
export type RejectReason = CouponErrorType | 'NotTheOwner';

export interface CouponTriggerStats extends TriggerCounters {
  flowsStarted: number;
  /** tier_changed for a flow that already ran for this user and tier. */
  alreadyRan: number;
  /** tier_changed to a lower tier (after a refund): no flow. */
  downgrades: number;
  redeemed: number;
  /** Orders redeeming a code they had already redeemed (a redelivery): nothing new. */
  redeemedAgain: number;
  rejected: Partial<Record<RejectReason, number>>;
  signalled: number;
  ignored: number;
}

export type CouponTriggerProcessor = TriggerProcessor<CouponTriggerStats>;

export interface CouponTriggerDeps {
  nc: NatsConnection;
  client: WorkflowClient;
  config: Config;
  logger: Logger;
  ledger: KvCouponLedger;
  /** Publishes a flow event with Nats-Msg-Id = its event id (streams/producer/flow-events.ts). */
  publish(event: FlowEvent): Promise<void>;
  /** The tier_reached flows to run. */
  flows: readonly Flow[];
  /** The user's time zone for quiet hours; default 'UTC'. */
  timeZoneOf?: (shopId: string, userId: string) => Promise<string>;
  consumerName?: string;
  taskQueue?: string;
  batchSize?: number;
  /** Whether Temporal answers; while not, events are held (see runner.ts). Default: always. */
  ready?: () => Promise<boolean>;
  /** With several instances: consume only the consumers this one holds (streams/consumer/leases.ts). */
  leases?: LeaseGate;
}

export async function createCouponTriggerProcessor(deps: CouponTriggerDeps): Promise<CouponTriggerProcessor> {
  const { nc, client, config, logger, ledger } = deps;
  const tierFlows = deps.flows.filter((f) => f.trigger === 'tier_reached');
  const consumer = deps.consumerName ?? COUPON_TRIGGER_CONSUMER;
  const taskQueue = deps.taskQueue ?? config.temporal.taskQueue;
  const stream = names(config.nats.prefix).eventsStream;
  await ensureConsumer(await nc.jetstreamManager(), stream, couponTriggerConsumerConfig(config, consumer));
  const stats: Omit<CouponTriggerStats, 'events' | 'retries' | 'failed' | 'refused'> = {
    flowsStarted: 0,
    alreadyRan: 0,
    downgrades: 0,
    redeemed: 0,
    redeemedAgain: 0,
    rejected: {},
    signalled: 0,
    ignored: 0,
  };

  /** Signals a workflow if it runs; false if there is none (never started, or ended). */
  async function signalIfRunning(run: () => Promise<void>): Promise<boolean> {
    try {
      await run();
      stats.signalled++;
      return true;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }

  async function startTierFlows(a: Extract<CouponAction, { kind: 'tier_reached' }>): Promise<void> {
    // tier flows welcome a customer who moved up; a refund that moves them down releases nothing
    if (a.previousTier && TIERS.indexOf(a.previousTier) > TIERS.indexOf(a.tier)) {
      stats.downgrades++;
      return;
    }
    const timeZone = deps.timeZoneOf ? await deps.timeZoneOf(a.shopId, a.userId) : 'UTC';
    for (const flow of tierFlows) {
      if (!flow.audience?.tiers?.includes(a.tier)) continue;
      const input: CouponReleaseInput = {
        flow,
        shopId: a.shopId,
        userId: a.userId,
        tier: a.tier,
        ...(a.previousTier ? { previousTier: a.previousTier } : {}),
        timeZone,
      };
      try {
        await client.start(couponReleaseWorkflow, {
          workflowId: couponReleaseWorkflowId(a.shopId, a.userId, flow.name, a.tier),
          taskQueue,
          args: [input],
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
        });
        stats.flowsStarted++;
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        stats.alreadyRan++;
      }
    }
  }

  async function redeem(a: Extract<CouponAction, { kind: 'order_placed' }>, code: string): Promise<void> {
    const reject = (reason: RejectReason, detail: string): void => {
      stats.rejected[reason] = (stats.rejected[reason] ?? 0) + 1;
      logger.warn({ code: maskCode(code), orderId: a.orderId, reason }, `coupon not redeemed: ${detail}`);
    };
    const coupon = await ledger.get(code);
    if (coupon && (coupon.shopId !== a.shopId || coupon.userId !== a.userId))
      return reject('NotTheOwner', 'the code was issued to another user');
    let result;
    try {
      // expiry by the server's clock: a backdated order cannot redeem an expired coupon
      result = await ledger.redeem(code, a.orderId, a.receivedAt);
    } catch (err) {
      if (err instanceof CouponRedeemError) return reject(err.type, err.message);
      throw err;
    }
    if (result.newlyRedeemed) stats.redeemed++;
    else stats.redeemedAgain++; // published and signalled again below: both are idempotent
    const c = result.coupon;
    // the ledger's amount and currency, never the order's (client data)
    const currency = c.currency ?? a.currency;
    // the event carries the code's ref, never the code (analysts join issued to redeemed on it)
    const publish = (e: FlowEvent): Promise<void> => deps.publish(withCouponRef(e, (x) => ledger.ref(x)));
    await publish(
      couponRedeemedEvent({
        shopId: a.shopId,
        userId: a.userId,
        campaign: c.campaign,
        code: c.code,
        orderId: a.orderId,
        discountMinor: c.amountMinor,
        ...(currency ? { currency } : {}),
        at: result.coupon.redeemed?.at ?? a.receivedAt,
      }),
    );
    for (const flow of tierFlows)
      await signalIfRunning(() =>
        client
          .getHandle(couponReleaseWorkflowId(a.shopId, a.userId, flow.name, c.tier))
          .signal(couponRedeemed, { code: c.code, orderId: a.orderId, eventTime: a.receivedAt }),
      );
  }

  async function apply(a: CouponAction): Promise<void> {
    if (a.kind === 'none') {
      stats.ignored++;
      return;
    }
    if (a.kind === 'tier_reached') return startTierFlows(a);
    if (a.couponCode) await redeem(a, a.couponCode);
    for (const flow of tierFlows) {
      if (!flow.exit.some((e) => e.on === 'purchase')) continue;
      for (const tier of flow.audience?.tiers ?? [])
        await signalIfRunning(() =>
          client
            .getHandle(couponReleaseWorkflowId(a.shopId, a.userId, flow.name, tier))
            .signal(orderPlaced, { orderId: a.orderId, eventTime: a.eventTime }),
        );
    }
  }

  const loop = createTriggerLoop<CouponAction>({
    nc,
    prefix: config.nats.prefix,
    ...(deps.ready ? { ready: deps.ready } : {}),
    ...(deps.leases ? { leases: deps.leases } : {}),
    stream,
    consumer,
    logger,
    label: 'coupon triggers',
    decide: couponTriggerFor,
    apply,
    describe: (a) => (a.kind === 'none' ? { kind: a.kind } : { kind: a.kind, shopId: a.shopId }),
    ...(deps.batchSize ? { batchSize: deps.batchSize } : {}),
  });

  return {
    run: () => loop.run(),
    stop: () => loop.stop(),
    health: () => loop.health(),
    stats: () => ({ ...stats, rejected: { ...stats.rejected }, ...loop.counters() }),
  };
}
