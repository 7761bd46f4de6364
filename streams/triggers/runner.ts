// What every trigger from the stream shares: a durable pull consumer (created if missing, its bounded
// redelivery kept up to date), batches whose events are applied one user at a time in stream order
// while users run in parallel, retries of a Temporal call for as long as Temporal is unavailable (a
// bounded number for anything else, then the event goes to the dead-letter stream with reason
// processing_failed), and the ack only after the call was accepted, skipped on purpose or the event
// dead-lettered. Redeliveries are safe because every trigger's calls are idempotent by workflow id.
//
// Temporal down: with `ready` (the service passes a connect probe), a trigger starts anyway and waits,
// fetching nothing, until Temporal answers; a call failing because Temporal went away waits for it
// the same way, holding its event unacked (`working()` keeps JetStream from redelivering it). health()
// says which: running, waiting_for_temporal (since when) or retrying, and the time of the last ack.
import {
  AckPolicy,
  DeliverPolicy,
  nanos,
  type Consumer,
  type ConsumerConfig,
  type JetStreamManager,
  type JsMsg,
  type NatsConnection,
} from 'nats';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from '../../infra/logger';
import { isNotFound } from '../../infra/nats';
import { decodeEnvelope } from '../../schemas/codec';
import type { Envelope, EventType } from '../../schemas/events';
import { publishDeadLetter } from '../dlq';
import type { StepResult } from '../results';
import { userKey, type DlqReason } from '../topology';

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
export interface MessageMeta {
  /** When the event reached JetStream (the server's message timestamp), epoch ms: a client cannot set it. */
  streamTime: number;
  subject: string;
  seq: number;
}

/** A message's server-side facts. */
export function messageMeta(m: JsMsg): MessageMeta {
  return { streamTime: Math.floor(m.info.timestampNanos / 1e6), subject: m.subject, seq: m.seq };
}

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
  /** The action for a message that does not decode (it is in the dead-letter stream already). */
  ignore(reason: string): A;
  /** Does what the action asks; a refusal dead-letters the event (the caller counts it). */
  apply(action: A): Promise<void | TriggerRefusal>;
  /** Whether Temporal answers (a cheap probe): while not, nothing is fetched or retried. */
  ready?(): Promise<boolean>;
  /** What a log line may say about an action: ids only, never personal data. */
  describe?(action: A): Record<string, unknown>;
  batchSize?: number;
  /** Attempts of a call that fails with something other than unavailability. Default 5. */
  maxAttempts?: number;
  /** Users applied at once within a batch. Default 32. */
  userConcurrency?: number;
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

export function createTriggerLoop<A>(opts: TriggerLoopOptions<A>): TriggerLoop {
  const { nc, logger, label } = opts;
  const batchSize = opts.batchSize ?? 100;
  const maxAttempts = opts.maxAttempts ?? 5;
  const userConcurrency = opts.userConcurrency ?? 32;
  const counters: TriggerCounters = { events: 0, retries: 0, failed: 0, refused: 0 };
  const fetches = new Set<{ stop(): void }>();
  const stopped = new AbortController();
  let stopping = false;
  let state: TriggerState = opts.ready ? 'waiting_for_temporal' : 'running';
  let waitingSince: number | undefined = opts.ready ? Date.now() : undefined;
  let lastProgressAt: number | undefined;
  let lastError: string | undefined;
  const js = nc.jetstream();

  /** Sleeps; returns early (without throwing) on stop. */
  const pause = (ms: number): Promise<void> =>
    delay(ms, undefined, { signal: stopped.signal }).catch(() => undefined);

  const waiting = (next: TriggerState, err?: unknown): void => {
    if (state === 'running' || state !== next) waitingSince = Date.now();
    state = next;
    if (err) lastError = (err as Error).message;
  };
  const progressed = (): void => {
    lastProgressAt = Date.now();
    if (state !== 'running' && !stopping) {
      if (state === 'waiting_for_temporal') logger.info(`${label}: Temporal answers again`);
      state = 'running';
      waitingSince = undefined;
      lastError = undefined;
    }
  };

  /** Until `ready()` says Temporal answers (at once without a probe); false if stopped meanwhile. */
  async function untilReady(): Promise<boolean> {
    if (!opts.ready) return !stopping;
    for (let logged = false; !stopping; logged = true) {
      if (await opts.ready().catch(() => false)) return true;
      if (!logged) logger.warn(`${label}: Temporal does not answer; events are held until it does`);
      waiting('waiting_for_temporal');
      await pause(2000);
    }
    return false;
  }

  async function deadLetter(
    m: JsMsg,
    detail: string,
    reason: DlqReason = 'processing_failed',
  ): Promise<void> {
    await publishDeadLetter(js, opts.prefix, {
      reason,
      detail: `${label}: ${detail}`,
      data: m.data,
      sourceSubject: m.subject,
      sourceSequence: m.seq,
      // a redelivered event is dead-lettered once (within the dead-letter stream's duplicate window)
      msgId: `${opts.consumer}:${m.seq}`,
    });
  }

  /** Applies until done, refused (dead-lettered) or given up on (dead-lettered); throws only on stop. */
  async function applyWithRetry(action: A, m: JsMsg): Promise<void> {
    // the last delivery JetStream makes: a failure dead-letters at once, there is no next one
    const lastDelivery = m.info.redeliveryCount >= TRIGGER_MAX_DELIVER;
    for (let attempt = 1; ; attempt++) {
      // keeps JetStream from redelivering while a call is slow or being retried
      const heartbeat = setInterval(() => m.working(), 10_000);
      try {
        const out = await opts.apply(action);
        if (out?.kind === 'dlq') {
          counters.refused++;
          logger.warn(
            { subject: m.subject, seq: m.seq, ...opts.describe?.(action) },
            `${label}: ${out.detail}`,
          );
          await deadLetter(m, out.detail, out.reason);
        }
        return;
      } catch (err) {
        if (stopping) throw err;
        const unavailable = isUnavailable(err);
        if (!unavailable && (attempt >= maxAttempts || lastDelivery)) {
          counters.failed++;
          const detail = `call failed ${attempt} times: ${(err as Error).message}`;
          logger.error(
            { err: (err as Error).message, subject: m.subject, seq: m.seq, ...opts.describe?.(action) },
            `${label}: call failed; event dead-lettered`,
          );
          await deadLetter(m, detail); // if this fails too, the batch fails: redelivered later
          return;
        }
        counters.retries++;
        waiting(unavailable && isTemporalError(err) ? 'waiting_for_temporal' : 'retrying', err);
        m.working();
        await pause(Math.min(10_000, 200 * 2 ** Math.min(attempt, 6)));
        if (state === 'waiting_for_temporal' && !(await untilReady())) throw err;
      } finally {
        clearInterval(heartbeat);
      }
    }
  }

  async function handleBatch(msgs: JsMsg[]): Promise<void> {
    const byUser = new Map<string, { m: JsMsg; action: A }[]>();
    for (const m of msgs) {
      counters.events++;
      const d = decodeEnvelope(m.data);
      // one user's events stay in order: grouped by shop and user (undecodable ones together)
      const user = d.ok ? `${d.envelope.shopId}\u0000${userKey(d.envelope)}` : '';
      const action = d.ok
        ? opts.decide(d.envelope, d.type, messageMeta(m))
        : opts.ignore(`undecodable: ${d.reason}`);
      let list = byUser.get(user);
      if (!list) byUser.set(user, (list = []));
      list.push({ m, action });
    }
    // a bounded number of users at once; each user's events in stream order
    const queue = [...byUser.values()];
    const worker = async (): Promise<void> => {
      // on stop, no new user is started; what is not acked is redelivered to the next instance
      for (let items = queue.shift(); items && !stopping; items = queue.shift())
        for (const { m, action } of items) {
          await applyWithRetry(action, m);
          m.ack();
          progressed();
        }
    };
    // every worker finishes its current user before the batch (and stop()) is over
    const results = await Promise.allSettled(
      Array.from({ length: Math.min(userConcurrency, queue.length) }, worker),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  async function loop(): Promise<void> {
    const consumer: Consumer = await nc.jetstream().consumers.get(opts.stream, opts.consumer);
    while (!stopping) {
      if (state === 'waiting_for_temporal' && !(await untilReady())) break;
      const msgs: JsMsg[] = [];
      try {
        const batch = await consumer.fetch({ max_messages: batchSize, expires: 1000 });
        fetches.add(batch);
        try {
          for await (const m of batch) msgs.push(m);
        } finally {
          fetches.delete(batch);
        }
        if (msgs.length > 0) await handleBatch(msgs);
        else if (state === 'waiting_for_temporal') progressed(); // Temporal answers, nothing to do
      } catch (err) {
        if (stopping) break;
        // what was not acked is redelivered after its backoff; the calls are idempotent
        logger.error({ err: (err as Error).message, messages: msgs.length }, `${label}: batch failed`);
        await pause(1000);
      }
    }
    state = 'stopped';
  }

  let running: Promise<void> | undefined;
  return {
    run: () => (running ??= loop()),
    async stop(): Promise<void> {
      stopping = true;
      stopped.abort();
      for (const f of fetches) f.stop();
      await running;
      state = 'stopped';
    },
    counters: () => ({ ...counters }),
    health: () => ({
      state,
      ...(waitingSince !== undefined && state !== 'running'
        ? { waitingSince: new Date(waitingSince).toISOString() }
        : {}),
      ...(lastProgressAt !== undefined ? { lastProgressAt: new Date(lastProgressAt).toISOString() } : {}),
      ...(lastError && state !== 'running' ? { lastError } : {}),
    }),
  };
}
