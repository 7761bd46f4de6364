// The order view processor: order events (placed, paid, shipped, delivered, refunded) of every
// partition, from the durable consumer `orders_view`, into each user's recent orders in the KV bucket
// ordersBucket (model.ts says how an event changes them).
//
// handle(envelope) is the whole step: it returns a typed result and never throws for bad input.
//   ok       applied, duplicate (a redelivery), or unchanged (the fact is in the view already)
//   drop     not an order event, or one that fails validation (the ClickHouse sink dead-letters it)
//   dlq      an order event the view cannot use (a tracking number that is no code): dead-lettered
//            (processing_failed) and acked, the partition goes on
// A KV error other than a compare-and-set conflict throws: the loop retries it, then dead-letters.
//
// It runs on the shared consumer runner (streams/consumer/runner.ts): one user's events in stream
// order, users in parallel, an ack only after the write is stored. The state
// is written with compare-and-set on the revision, re-read and re-applied on a conflict, so two
// instances never lose each other's updates. Logs carry ids and counts only.
import type { KV, NatsConnection } from 'nats';
import type { Config } from '../../../infra/config';
import type { Logger } from '../../../infra/logger';
import type { Metrics } from '../../../infra/metrics';
import { isKvConflict } from '../../../infra/nats';
import { eventTypeOf, type Envelope } from '../../../schemas/events';
import { validateEnvelope } from '../../../schemas/validate';
import { drop, ok, type StepResult } from '../../results';
import { names, userKey } from '../../topology';
import { checkTopology } from '../../topology-apply';
import type { LeaseGate } from '../../consumer/leases';
import { createRunner, type Delivery, type RunnerHealth } from '../../consumer/runner';
import {
  applyFact,
  decodeOrders,
  emptyOrders,
  encodeOrders,
  isOrderEventType,
  MAX_STATE_BYTES,
  orderFactOf,
  ordersKey,
  type OrdersState,
} from './model';

export interface OrdersStats {
  events: number;
  /** Failed attempts, retried. */
  retries: number;
  /** Events whose KV write kept failing: dead-lettered (processing_failed), then acked. */
  failed: number;
  /** Order events the view cannot use: dead-lettered, then acked. */
  refused: number;
  applied: number;
  /** Redeliveries (event id applied before). */
  duplicates: number;
  /** Facts already in the view, or orders older than every kept one. */
  unchanged: number;
  /** Events failing validation: acked and skipped (the ClickHouse sink dead-letters them). */
  invalid: number;
  /** Events that are no order events, or do not decode (the sink dead-letters those). */
  ignored: number;
  /** Stored states that did not decode: started afresh. */
  unreadable: number;
  /** Compare-and-set conflicts (re-read and re-applied). */
  conflicts: number;
}

export type OrderStep = 'applied' | 'duplicate' | 'unchanged';

export interface OrdersProcessor {
  run(): Promise<void>;
  stop(): Promise<void>;
  stats(): OrdersStats;
  health(): RunnerHealth;
  /** One event, start to end (what the loop calls for each message). */
  handle(envelope: Envelope, meta?: Pick<Delivery, 'streamTime'>): Promise<StepResult<OrderStep>>;
}

export interface OrdersProcessorDeps {
  nc: NatsConnection;
  config: Config;
  logger: Logger;
  /** Events applied at once. Default config.orders.maxInFlight. */
  maxInFlight?: number;
  /** Attempts of a KV call that keeps failing before the event is dead-lettered. Default 5. */
  maxAttempts?: number;
  metrics?: Pick<Metrics, 'orderViewEvents' | 'orderViewApplySeconds'>;
  /** With several instances: consume only the consumers this one holds (streams/consumer/leases.ts). */
  leases?: LeaseGate;
}

const MAX_CAS_ATTEMPTS = 20;

export async function createOrdersProcessor(deps: OrdersProcessorDeps): Promise<OrdersProcessor> {
  const { nc, config, logger } = deps;
  const n = names(config.nats.prefix);
  const jsm = await nc.jetstreamManager();
  await checkTopology(jsm, config, {
    streams: [n.eventsStream, n.dlqStream],
    buckets: [n.ordersBucket],
    consumers: [{ stream: n.eventsStream, name: n.ordersConsumer }],
  });
  const kv: KV = await nc.jetstream().views.kv(n.ordersBucket, { bindOnly: true });
  const stats = {
    applied: 0,
    duplicates: 0,
    unchanged: 0,
    invalid: 0,
    ignored: 0,
    unreadable: 0,
    conflicts: 0,
    refused: 0,
  };

  async function load(key: string): Promise<{ state: OrdersState | undefined; revision: number }> {
    const entry = await kv.get(key);
    if (!entry || entry.operation !== 'PUT' || entry.value.length === 0)
      return { state: undefined, revision: 0 };
    const state = decodeOrders(entry.value);
    if (!state) {
      stats.unreadable++;
      logger.warn({ key }, 'orders: stored view unreadable; starting it afresh');
    }
    return { state, revision: entry.revision };
  }

  /** handle, measured: its time and its result. */
  async function measured(
    envelope: Envelope,
    meta?: Pick<Delivery, 'streamTime'>,
  ): Promise<StepResult<OrderStep>> {
    const end = deps.metrics?.orderViewApplySeconds.startTimer();
    const r = await handle(envelope, meta);
    end?.();
    const result =
      r.kind === 'ok'
        ? r.value
        : r.kind === 'dlq'
          ? 'refused'
          : r.why.startsWith('invalid')
            ? 'invalid'
            : 'ignored';
    deps.metrics?.orderViewEvents.inc({ result });
    return r;
  }

  async function handle(
    envelope: Envelope,
    meta: Pick<Delivery, 'streamTime'> = { streamTime: Date.now() },
  ): Promise<StepResult<OrderStep>> {
    const type = envelope.payload ? eventTypeOf(envelope.payload) : undefined;
    if (!type || !isOrderEventType(type)) {
      stats.ignored++;
      return drop(`${type ?? 'no payload'}: not an order event`);
    }
    if (validateEnvelope(envelope, { receivedAt: meta.streamTime }).length > 0) {
      stats.invalid++;
      return drop('invalid: the ClickHouse sink dead-letters it');
    }
    const fact = orderFactOf(envelope, type);
    if (fact.kind !== 'ok') return fact;
    const user = userKey(envelope);
    const key = ordersKey(envelope.shopId, user);
    for (let attempt = 1; ; attempt++) {
      const { state, revision } = await load(key);
      const out = applyFact(state ?? emptyOrders(envelope.shopId, user), fact.value);
      if (out.kind !== 'applied') {
        stats[out.kind === 'duplicate' ? 'duplicates' : 'unchanged']++;
        return ok(out.kind);
      }
      const bytes = encodeOrders(out.state);
      if (bytes.length > MAX_STATE_BYTES)
        return {
          kind: 'dlq',
          reason: 'processing_failed',
          detail: `order view over ${MAX_STATE_BYTES} bytes`,
        };
      try {
        if (revision === 0) await kv.create(key, bytes);
        else await kv.update(key, bytes, revision);
        stats.applied++;
        return ok('applied');
      } catch (err) {
        if (!isKvConflict(err) || attempt >= MAX_CAS_ATTEMPTS) throw err;
        stats.conflicts++;
      }
    }
  }

  const runner = createRunner<OrderStep>({
    nc,
    prefix: config.nats.prefix,
    stream: n.eventsStream,
    consumers: [n.ordersConsumer],
    label: 'orders',
    logger,
    ...(deps.leases ? { leases: deps.leases } : {}),
    maxInFlight: deps.maxInFlight ?? config.orders.maxInFlight,
    maxAttempts: deps.maxAttempts ?? 5,
    step: async (envelope, _type, delivery) => {
      const r = await measured(envelope, delivery);
      if (r.kind === 'dlq') stats.refused++;
      return r;
    },
  });

  return {
    run: () => runner.run(),
    stop: () => runner.stop(),
    health: () => runner.health(),
    stats: () => {
      const c = runner.counts();
      // undecodable messages are dropped by the runner: the ClickHouse sink dead-letters them
      const undecodable = (c.dropped ?? 0) - (stats.ignored + stats.invalid);
      return {
        ...stats,
        ignored: stats.ignored + Math.max(0, undecodable),
        events: c.events,
        retries: c.failed ?? 0,
        failed: (c.dead_lettered ?? 0) - stats.refused,
      };
    },
    handle: measured,
  };
}
