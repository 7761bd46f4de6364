// The shared consumer runner of the per-message processors (the chat bot, the order view, the
// triggers): durable pull consumers on the events stream, messages handled as they arrive (no batch to
// fill first), one user's events in stream order while users run in parallel, a bounded window in
// flight. A step returns a typed result (streams/results.ts) and the runner does the rest:
//   ok    acked
//   drop  acked (not this processor's event, or invalid: the ClickHouse sink dead-letters those)
//   dlq   dead-lettered with its reason, then acked; the user's later events go on
//   throw retried in place with backoff (the user's later events wait behind it), dead-lettered
//         (processing_failed) after maxAttempts, or at once on the consumer's last delivery
// A throw that `transient` calls an outage (a dependency away, not this event's fault) is retried for
// as long as it lasts, burning no attempt; 'waiting' also closes the gate: with `ready` (a cheap probe
// of the dependency) nothing new is taken until it answers, and the runner starts in that state. A
// message in the window is kept in progress (`working()`) the whole time, so a wait burns no
// JetStream delivery. An ack only ever follows the effect (or the dead letter) being durable. A
// message that does not decode is acked as a drop: the sink keeps it in the dead-letter stream.
import type { Consumer, ConsumerMessages, JsMsg, NatsConnection } from 'nats';
import { setMaxListeners } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from '../../infra/logger';
import { decodeEnvelope } from '../../schemas/codec';
import type { Envelope, EventType } from '../../schemas/events';
import { publishDeadLetter } from '../dlq';
import type { StepResult } from '../results';
import { userKey } from '../topology';
import type { LeaseGate } from './leases';

/** What the server says about a message, beyond its (client-made) bytes. */
export interface Delivery {
  /** When the event reached JetStream (the server's timestamp), epoch ms: a client cannot set it. */
  streamTime: number;
  subject: string;
  seq: number;
  /** 1 on the first delivery. */
  attempt: number;
}

export type Outcome<T extends string> = T | 'dropped' | 'dead_lettered' | 'failed';

/** Where a runner (this one, or the batch runner) consumes, and how it names itself. */
export interface ConsumerOptions {
  nc: NatsConnection;
  /** The subject prefix (config.nats.prefix): dead letters go to its dead-letter stream. */
  prefix: string;
  stream: string;
  /** Durable consumers (one per partition, or one for all), consumed side by side. */
  consumers: readonly string[];
  /** For log lines and dead-letter details: 'chat bot'. */
  label: string;
  logger: Logger;
  /**
   * With several instances (streams/consumer/leases.ts): a consumer is consumed only while this
   * instance holds its lease, and settled before it is handed over. Without: always.
   */
  leases?: LeaseGate;
}

export interface RunnerOptions<T extends string> extends ConsumerOptions {
  step(envelope: Envelope, type: EventType, delivery: Delivery): Promise<StepResult<T>>;
  /** Messages handled at once (across users). */
  maxInFlight: number;
  /** Attempts of a message whose step keeps throwing before it is dead-lettered. */
  maxAttempts: number;
  /** Each outcome, as it happens (metrics). */
  observe?(outcome: Outcome<T>, seconds: number): void;
  /**
   * Messages the server pushes ahead per consumer. Default 64. Keep consumers x prefetch near
   * maxInFlight: a message pushed ahead waits outside the window with its ack wait running.
   */
  prefetch?: number;
  /** The consumer's max_deliver, when above maxAttempts: a failure on that delivery dead-letters at once. */
  maxDeliver?: number;
  /** Whether the dependency the step calls answers (a cheap probe); polled while the gate is closed. */
  ready?(): Promise<boolean>;
  /** A throw that is an outage, retried without limit: 'waiting' (closes the gate) or 'retrying'. */
  transient?(err: unknown): 'waiting' | 'retrying' | false;
}

/** Messages seen (`events`), and how many ended in each outcome (absent: none yet). */
export type RunnerCounts<T extends string> = { readonly events: number } & {
  readonly [O in Outcome<T>]?: number;
};

export interface RunnerHealth {
  /**
   * retrying: a step or the consumer keeps failing (lastError says why); waiting: the dependency
   * behind `ready` does not answer, and events are held until it does.
   */
  state: 'running' | 'waiting' | 'retrying' | 'stopped';
  /** Since when it waits or retries, ISO time. */
  waitingSince?: string;
  inFlight: number;
  lastProgressAt?: string;
  lastError?: string;
}

export interface Runner<T extends string> {
  run(): Promise<void>;
  stop(): Promise<void>;
  /** Messages seen, and each outcome's count. */
  counts(): RunnerCounts<T>;
  health(): RunnerHealth;
}

/** The wait before a failed step is tried again: 0.5 s, doubling, at most 10 s. */
export const retryDelayMs = (attempt: number): number =>
  Math.min(10_000, 500 * 2 ** Math.max(0, attempt - 1));

export function createRunner<T extends string>(opts: RunnerOptions<T>): Runner<T> {
  const { nc, logger, label } = opts;
  const js = nc.jetstream();
  const counts: Record<string, number> = { events: 0 };
  let stopping = false;
  const stopped = new AbortController();
  // every event in the window may pause on it at once (a dependency away): not a leak
  setMaxListeners(opts.maxInFlight + 16, stopped.signal);
  /** Sleeps; returns early (without throwing) on stop. */
  const pause = (ms: number): Promise<void> =>
    delay(ms, undefined, { signal: stopped.signal }).catch(() => undefined);
  let inFlight = 0;
  let retrying = 0;
  let lastProgressAt: number | undefined;
  let lastError: string | undefined;
  /** The gate: closed (a time) while the dependency behind `ready` is away, from the start with one. */
  let waitingSince: number | undefined = opts.ready ? Date.now() : undefined;
  let retryingSince: number | undefined;
  let gate: Promise<boolean> | undefined;
  const maxDeliver = Math.max(opts.maxAttempts, opts.maxDeliver ?? 0);
  const chains = new Map<string, Promise<void>>();
  const subs = new Set<ConsumerMessages>();
  const waiters: (() => void)[] = [];

  /** Resolves once `ready` answers (true), or on stop (false); one probe loop for every waiter. */
  function untilReady(): Promise<boolean> {
    if (waitingSince === undefined || !opts.ready) return Promise.resolve(!stopping);
    return (gate ??= (async () => {
      for (let logged = false; !stopping; logged = true) {
        if (await opts.ready!().catch(() => false)) {
          if (logged) logger.info(`${label}: the dependency answers again`);
          waitingSince = undefined;
          lastError = undefined;
          return true;
        }
        if (!logged) logger.warn(`${label}: the dependency does not answer; events are held until it does`);
        await pause(2000);
      }
      return false;
    })().finally(() => (gate = undefined)));
  }

  const count = (o: Outcome<T>, started: number): void => {
    counts[o] = (counts[o] ?? 0) + 1;
    opts.observe?.(o, (performance.now() - started) / 1000);
  };

  async function deadLetter(m: JsMsg, reason: 'processing_failed' | 'invalid_event', detail: string) {
    await publishDeadLetter(js, opts.prefix, {
      reason,
      detail: `${label}: ${detail}`,
      data: m.data,
      sourceSubject: m.subject,
      sourceSequence: m.seq,
      // a redelivered message is dead-lettered once (the dead-letter stream's duplicate window)
      msgId: `${label}:${m.seq}`,
    });
  }

  async function handle(m: JsMsg): Promise<void> {
    const started = performance.now();
    counts['events']!++;
    const d = decodeEnvelope(m.data);
    if (!d.ok) {
      m.ack();
      count('dropped', started);
      return;
    }
    const delivery: Delivery = {
      streamTime: Math.floor(m.info.timestampNanos / 1e6),
      subject: m.subject,
      seq: m.seq,
      attempt: m.info.redeliveryCount,
    };
    for (let attempt = 1, failures = 0; ; attempt++) {
      try {
        const r = await opts.step(d.envelope, d.type, delivery);
        if (r.kind === 'dlq') {
          logger.warn({ subject: m.subject, seq: m.seq }, `${label}: ${r.detail}; dead-lettered`);
          await deadLetter(m, r.reason === 'invalid_event' ? 'invalid_event' : 'processing_failed', r.detail);
        }
        m.ack();
        count(r.kind === 'ok' ? r.value : r.kind === 'drop' ? 'dropped' : 'dead_lettered', started);
        lastProgressAt = Date.now();
        if (attempt > 1) retried(-1);
        return;
      } catch (err) {
        lastError = (err as Error).message;
        count('failed', started);
        if (stopping) {
          if (attempt > 1) retried(-1);
          return; // not acked: redelivered to the next instance
        }
        const outage = opts.transient?.(err) ?? false;
        if (!outage) failures++;
        // retried in place, so the user's later events keep waiting behind it; a message that
        // already failed its deliveries (a crash each time) is not retried again
        if (!outage && (failures >= opts.maxAttempts || delivery.attempt >= maxDeliver)) {
          if (attempt > 1) retried(-1);
          logger.error(
            { err: lastError, subject: m.subject, seq: m.seq },
            `${label}: event keeps failing; dead-lettered`,
          );
          await deadLetter(m, 'processing_failed', `failed ${failures} times: ${lastError}`);
          m.ack();
          count('dead_lettered', started);
          return;
        }
        if (attempt === 1) retried(1);
        if (outage === 'waiting' && opts.ready) waitingSince ??= Date.now();
        logger.warn(
          { err: lastError, subject: m.subject, seq: m.seq, attempt },
          `${label}: event failed; retrying`,
        );
        // a dependency that is away ('waiting') is then awaited at the gate, which probes it every 2 s:
        // a short pause here, so a held event goes again soon after it answers (10 s made the held
        // events start their flows up to 16 s after Temporal was back; found by make chaos)
        const cap = outage === 'waiting' && opts.ready ? 2000 : 10_000;
        await pause(outage ? Math.min(cap, 200 * 2 ** Math.min(attempt, 6)) : retryDelayMs(attempt));
        if (waitingSince !== undefined) await untilReady();
        if (stopping) {
          retried(-1);
          return; // not acked: redelivered to the next instance
        }
      }
    }
  }

  function retried(delta: 1 | -1): void {
    retrying += delta;
    if (retrying === 0) retryingSince = undefined;
    else retryingSince ??= Date.now();
  }

  /**
   * Queues a message behind its user's earlier ones; waits while the in-flight window is full.
   * Resolves, once queued, to its handling (wrapped: awaiting it does not wait for the handling).
   */
  async function dispatch(m: JsMsg, ackWaitMs: number): Promise<{ handled: Promise<void> }> {
    // in progress from the moment it is taken: a message waiting for the window, a step that is slow,
    // retried, or queued behind the user's earlier events burns no JetStream delivery. Well within
    // the consumer's ack wait (a heartbeat every 10 s on the bot's 10 s ack wait came too late: turns
    // waiting in the window were redelivered and answered again from the outbox)
    const heartbeat = setInterval(() => m.working(), Math.max(250, Math.min(10_000, ackWaitMs / 3)));
    while (inFlight >= opts.maxInFlight) await new Promise<void>((r) => waiters.push(r));
    const d = decodeEnvelope(m.data);
    const key = d.ok ? `${d.envelope.shopId}\u0000${userKey(d.envelope)}` : `\u0000${m.seq}`;
    inFlight++;
    const next = (chains.get(key) ?? Promise.resolve())
      .then(() => handle(m))
      .catch((err: unknown) => {
        // the dead letter itself failed: not acked, redelivered after ack_wait
        lastError = (err as Error).message;
        logger.error({ err: lastError, subject: m.subject, seq: m.seq }, `${label}: message left unacked`);
      })
      .finally(() => {
        clearInterval(heartbeat);
        inFlight--;
        if (chains.get(key) === next) chains.delete(key);
        waiters.shift()?.();
      });
    chains.set(key, next);
    return { handled: next };
  }

  const { leases } = opts;
  const holds = (name: string): boolean => !leases || leases.holds(name);

  async function consume(name: string): Promise<void> {
    let consumer: Consumer | undefined;
    while (!stopping) {
      if (!holds(name)) {
        leases!.yielded(name);
        await pause(250);
        continue;
      }
      try {
        // inside the retry: a slow or busy moment (a request timing out) is retried, not fatal
        consumer ??= await js.consumers.get(opts.stream, name);
        // the first delivery's ack wait (JetStream uses backoff[0] when there is a backoff)
        const { ack_wait, backoff } = (await consumer.info(true)).config;
        const ackWaitMs = (backoff?.[0] ?? ack_wait ?? 30e9) / 1e6;
        if (!(await untilReady())) break; // nothing is taken while the dependency is away
        const messages = await consumer.consume({ max_messages: opts.prefetch ?? 64 });
        subs.add(messages);
        // this consumer's messages in hand: settled before its lease is handed over
        const taken = new Set<Promise<void>>();
        const handOver = leases && setInterval(() => !holds(name) && messages.stop(), 250);
        try {
          for await (const m of messages) {
            if (stopping) break; // not acked: redelivered to the next instance
            if (!holds(name)) {
              m.nak(); // handed over: the next holder gets it first (redeliveries go before new ones)
              continue;
            }
            if (waitingSince !== undefined) {
              const held = setInterval(() => m.working(), 10_000);
              const open = await untilReady().finally(() => clearInterval(held));
              if (!open) break;
            }
            const p = (await dispatch(m, ackWaitMs)).handled;
            taken.add(p);
            void p.finally(() => taken.delete(p));
          }
        } finally {
          clearInterval(handOver);
          subs.delete(messages);
        }
        if (leases) await Promise.allSettled([...taken]);
      } catch (err) {
        if (stopping) break;
        retried(1);
        lastError = (err as Error).message;
        logger.warn({ err: lastError, consumer: name }, `${label}: consume failed; retrying`);
        await pause(1000);
        retried(-1);
      }
    }
  }

  let loop: Promise<void> | undefined;
  return {
    run: () => (loop ??= Promise.all(opts.consumers.map((c) => consume(c))).then(() => undefined)),
    async stop() {
      stopping = true;
      stopped.abort();
      for (const s of subs) s.stop();
      await loop;
      await Promise.allSettled([...chains.values()]);
    },
    counts: () => ({ ...counts }) as RunnerCounts<T>,
    health: () => {
      const since = waitingSince ?? retryingSince;
      return {
        state: stopping
          ? 'stopped'
          : waitingSince !== undefined
            ? 'waiting'
            : retrying > 0
              ? 'retrying'
              : 'running',
        ...(since !== undefined && !stopping ? { waitingSince: new Date(since).toISOString() } : {}),
        inFlight,
        ...(lastProgressAt ? { lastProgressAt: new Date(lastProgressAt).toISOString() } : {}),
        ...(lastError ? { lastError } : {}),
      };
    },
  };
}
