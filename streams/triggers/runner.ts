// What every trigger from the stream shares: a durable pull consumer (created if missing, its bounded
// redelivery kept up to date), run by the shared consumer runner: events applied one user at a time in
// stream order while users run in parallel, retries of a Temporal call for as long as Temporal is
// unavailable (a bounded number for anything else, then the event goes to the dead-letter stream with
// reason processing_failed), and the ack only after the call was accepted, skipped on purpose or the
// event dead-lettered. Redeliveries are safe because every trigger's calls are idempotent by workflow id.
//
// Temporal down: with `ready` (the service passes a connect probe), a trigger starts anyway and waits,
// fetching nothing, until Temporal answers; a call failing because Temporal went away waits for it
// the same way, holding its event unacked (`working()` keeps JetStream from redelivering it). health()
// says which: running, waiting_for_temporal (since when) or retrying, and the time of the last ack.
import {
  AckPolicy,
  DeliverPolicy,
  nanos,
  type ConsumerConfig,
  type JetStreamManager,
  type NatsConnection,
} from 'nats';
import type { Logger } from '../../infra/logger';
import { isNotFound } from '../../infra/nats';
import type { Envelope, EventType } from '../../schemas/events';
import type { LeaseGate } from '../consumer/leases';
import { createRunner, type Delivery } from '../consumer/runner';
import type { StepResult } from '../results';

/**
 * Temporal or NATS unreachable, overloaded or slow: wait and retry for as long as it takes. A
 * Temporal ServiceError is judged by its gRPC cause (INVALID_ARGUMENT and the like are not transient);
 * NATS says TIMEOUT or 503 (no responders) while JetStream is away.
 */
export function isUnavailable(err: unknown): boolean {
  const e = err as { code?: number | string; name?: string; message?: string; cause?: unknown };
  if (e?.name === 'ServiceError' && e.cause) return isUnavailable(e.cause);
  return (
    e?.code === 14 || // UNAVAILABLE
    e?.code === 4 || // DEADLINE_EXCEEDED
    e?.code === 8 || // RESOURCE_EXHAUSTED
    e?.code === 'TIMEOUT' ||
    e?.code === '503' ||
    /unavailable|deadline|connect|timeout|no responders/i.test(e?.message ?? '')
  );
}

/** Deliveries of one event to a trigger: on the last one, a failure dead-letters it at once. */
export const TRIGGER_MAX_DELIVER = 8;
/** Waits before each redelivery (an event is redelivered only when its process died or its batch failed). */
export const TRIGGER_BACKOFF_MS = [30_000, 60_000, 120_000, 300_000, 600_000];

/**
 * A trigger's durable consumer on the events stream: explicit acks, redelivered with backoff unless
 * `working()`, at most TRIGGER_MAX_DELIVER times (the runner dead-letters an event that fails on its
 * last delivery; one that is never acked at all is left to the max-deliveries advisory). DeliverPolicy.New: a
 * consumer created on a stream that already holds days of events does not start flows for old facts.
 */
export function triggerConsumerConfig(name: string, description: string, filterSubjects: string[]) {
  return {
    durable_name: name,
    description,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.New,
    filter_subjects: filterSubjects,
    ack_wait: nanos(TRIGGER_BACKOFF_MS[0]!),
    max_ack_pending: 1000,
    max_deliver: TRIGGER_MAX_DELIVER,
    backoff: TRIGGER_BACKOFF_MS.map((ms) => nanos(ms)),
    max_waiting: 64,
  };
}

/**
 * Binds to a durable consumer, creating it from `config` when it does not exist; an existing one
 * gets the config's redelivery bounds (consumers made before them redelivered forever).
 */
export async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  config: Partial<ConsumerConfig> & { durable_name: string },
): Promise<void> {
  let current: ConsumerConfig;
  try {
    current = (await jsm.consumers.info(stream, config.durable_name)).config;
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await jsm.consumers.add(stream, config);
    return;
  }
  const bounds = { max_deliver: config.max_deliver, backoff: config.backoff, ack_wait: config.ack_wait };
  const same = (Object.keys(bounds) as (keyof typeof bounds)[]).every(
    (k) => JSON.stringify(current[k] ?? null) === JSON.stringify(bounds[k] ?? null),
  );
  if (!same) await jsm.consumers.update(stream, config.durable_name, bounds);
}

export interface TriggerCounters {
  events: number;
  retries: number;
  /** Events whose call kept failing: dead-lettered (processing_failed), then acked. */
  failed: number;
  /** Events the trigger refused (another user's conversation...): dead-lettered, then acked. */
  refused: number;
}

export type TriggerState = 'running' | 'waiting_for_temporal' | 'retrying' | 'stopped';

/** What /healthz shows of a trigger. */
export interface TriggerHealth {
  state: TriggerState;
  /** Since when it waits (waiting_for_temporal or retrying), ISO time. */
  waitingSince?: string;
  /** The last event acked, ISO time; absent before the first. */
  lastProgressAt?: string;
  /** The last failure's message, while not running. */
  lastError?: string;
}

/** What apply() may answer instead of doing it: the event goes to the dead-letter stream. */
export type TriggerRefusal = Extract<StepResult<never>, { kind: 'dlq' }>;

/** What the server says about a message, beyond its (client-made) bytes. */
export type MessageMeta = Delivery;

export interface TriggerLoopOptions<A> {
  nc: NatsConnection;
  /** The subject prefix (config.nats.prefix): dead letters go to its dead-letter stream. */
  prefix: string;
  stream: string;
  consumer: string;
  logger: Logger;
  /** For log lines: 'coupon triggers'. */
  label: string;
  /** What one event asks for (pure); `meta` holds what the server, not the client, says. */
  decide(envelope: Envelope, type: EventType, meta: MessageMeta): A;
  /** Does what the action asks; a refusal dead-letters the event (the caller counts it). */
  apply(action: A): Promise<void | TriggerRefusal>;
  /** Whether Temporal answers (a cheap probe): while not, nothing is fetched or retried. */
  ready?(): Promise<boolean>;
  /** What a log line may say about an action: ids only, never personal data. */
  describe?(action: A): Record<string, unknown>;
  /** Messages the server pushes ahead. Default 100. */
  batchSize?: number;
  /** Attempts of a call that fails with something other than unavailability. Default 5. */
  maxAttempts?: number;
  /** Events applied at once (across users). Default 32. */
  userConcurrency?: number;
  /** With several instances: consume only the consumers this one holds (streams/consumer/leases.ts). */
  leases?: LeaseGate;
}

/** A trigger as the service runs it. */
export interface TriggerProcessor<S extends TriggerCounters> {
  run(): Promise<void>;
  stop(): Promise<void>;
  stats(): S;
  health(): TriggerHealth;
}

export interface TriggerLoop {
  run(): Promise<void>;
  stop(): Promise<void>;
  counters(): TriggerCounters;
  health(): TriggerHealth;
}

/** A Temporal call that failed because Temporal is away (a gRPC status, not JetStream's). */
function isTemporalError(err: unknown): boolean {
  const e = err as { name?: string; code?: unknown };
  return e?.name === 'ServiceError' || typeof e?.code === 'number';
}

/**
 * A trigger on the shared consumer runner (streams/consumer/runner.ts): the runner pulls, keeps each
 * user's events in order, holds them while Temporal is away (`ready`, and `transient` for a call that
 * finds it gone), retries and dead-letters; this adds the trigger's decide-then-apply step and its
 * counters and states.
 */
export function createTriggerLoop<A>(opts: TriggerLoopOptions<A>): TriggerLoop {
  const counters = { refused: 0 };
  const ready = opts.ready?.bind(opts);
  const runner = createRunner<'applied'>({
    nc: opts.nc,
    prefix: opts.prefix,
    stream: opts.stream,
    consumers: [opts.consumer],
    label: opts.label,
    logger: opts.logger,
    ...(opts.leases ? { leases: opts.leases } : {}),
    maxInFlight: opts.userConcurrency ?? 32,
    prefetch: opts.batchSize ?? 100,
    maxAttempts: opts.maxAttempts ?? 5,
    maxDeliver: TRIGGER_MAX_DELIVER,
    ...(ready ? { ready: () => ready() } : {}),
    transient: (err) =>
      isUnavailable(err) ? (isTemporalError(err) && opts.ready ? 'waiting' : 'retrying') : false,
    async step(envelope, type, delivery) {
      const action = opts.decide(envelope, type, delivery);
      const out = await opts.apply(action);
      if (out?.kind !== 'dlq') return { kind: 'ok', value: 'applied' };
      counters.refused++;
      opts.logger.warn(
        { subject: delivery.subject, seq: delivery.seq, ...opts.describe?.(action) },
        `${opts.label}: ${out.detail}`,
      );
      return out;
    },
  });
  return {
    run: () => runner.run(),
    stop: () => runner.stop(),
    counters() {
      const c = runner.counts();
      // a dead letter is a refusal (the step said so) or a call given up on after its attempts
      const failed = (c.dead_lettered ?? 0) - counters.refused;
      return { events: c.events, retries: (c.failed ?? 0) - failed, failed, refused: counters.refused };
    },
    health() {
      const h = runner.health();
      const state: TriggerState = h.state === 'waiting' ? 'waiting_for_temporal' : h.state;
      return {
        state,
        ...(h.waitingSince && state !== 'running' ? { waitingSince: h.waitingSince } : {}),
        ...(h.lastProgressAt ? { lastProgressAt: h.lastProgressAt } : {}),
        ...(h.lastError && state !== 'running' ? { lastError: h.lastError } : {}),
      };
    },
  };
}
