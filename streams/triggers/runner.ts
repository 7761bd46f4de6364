// What every trigger from the stream shares: a durable pull consumer (created if missing), batches
// whose events are applied one user at a time in stream order while users run in parallel, retries
// of a Temporal call for as long as Temporal is unavailable (a bounded number for anything else), and
// the ack only after the call was accepted (or skipped on purpose). Redeliveries are safe because
// every trigger's calls are idempotent by workflow id.
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
import type { Logger } from '../../infra/logger';
import { decodeEnvelope } from '../../schemas/codec';
import type { Envelope, EventType } from '../../schemas/events';
import { userKey } from '../topology';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A NATS "not found" (stream, consumer or key) answer. */
export function isNotFound(err: unknown): boolean {
  const e = err as { code?: string; api_error?: { err_code?: number }; message?: string };
  return e?.code === '404' || e?.api_error?.err_code === 10014 || /not found/i.test(e?.message ?? '');
}

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

/**
 * A trigger's durable consumer on the events stream: explicit acks, redelivered after 30 s unless
 * `working()`, forever (a trigger never drops an event on its own). DeliverPolicy.New: a consumer
 * created on a stream that already holds days of events does not start flows for old facts.
 */
export function triggerConsumerConfig(name: string, description: string, filterSubjects: string[]) {
  return {
    durable_name: name,
    description,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.New,
    filter_subjects: filterSubjects,
    ack_wait: nanos(30_000),
    max_ack_pending: 1000,
    max_deliver: -1,
    max_waiting: 64,
  };
}

/** Binds to a durable consumer, creating it from `config` when it does not exist. */
export async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  config: Partial<ConsumerConfig> & { durable_name: string },
): Promise<void> {
  try {
    await jsm.consumers.info(stream, config.durable_name);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await jsm.consumers.add(stream, config);
  }
}

export interface TriggerCounters {
  events: number;
  retries: number;
  /** Events whose call kept failing: acked and logged (the event itself is in ClickHouse). */
  failed: number;
}

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
  stream: string;
  consumer: string;
  logger: Logger;
  /** For log lines: 'coupon triggers'. */
  label: string;
  /** What one event asks for (pure); `meta` holds what the server, not the client, says. */
  decide(envelope: Envelope, type: EventType, meta: MessageMeta): A;
  /** The action for a message that does not decode (it is in the dead-letter stream already). */
  ignore(reason: string): A;
  apply(action: A): Promise<void>;
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
}

export interface TriggerLoop {
  run(): Promise<void>;
  stop(): Promise<void>;
  counters(): TriggerCounters;
}

export function createTriggerLoop<A>(opts: TriggerLoopOptions<A>): TriggerLoop {
  const { nc, logger, label } = opts;
  const batchSize = opts.batchSize ?? 100;
  const maxAttempts = opts.maxAttempts ?? 5;
  const userConcurrency = opts.userConcurrency ?? 32;
  const counters: TriggerCounters = { events: 0, retries: 0, failed: 0 };
  const fetches = new Set<{ stop(): void }>();
  let stopping = false;

  async function applyWithRetry(action: A, m: JsMsg): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await opts.apply(action);
        return;
      } catch (err) {
        if (stopping) throw err;
        if (!isUnavailable(err) && attempt >= maxAttempts) {
          counters.failed++;
          logger.error(
            { err: (err as Error).message, subject: m.subject, seq: m.seq, ...opts.describe?.(action) },
            `${label}: call failed; event skipped`,
          );
          return;
        }
        counters.retries++;
        m.working(); // keep JetStream from redelivering while we retry
        await sleep(Math.min(10_000, 200 * 2 ** Math.min(attempt, 6)));
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
      } catch (err) {
        if (stopping) break;
        // what was not acked is redelivered after ack_wait; the calls are idempotent
        logger.error({ err: (err as Error).message, messages: msgs.length }, `${label}: batch failed`);
        await sleep(1000);
      }
    }
  }

  let running: Promise<void> | undefined;
  return {
    run: () => (running ??= loop()),
    async stop(): Promise<void> {
      stopping = true;
      for (const f of fetches) f.stop();
      await running;
    },
    counters: () => ({ ...counters }),
  };
}
