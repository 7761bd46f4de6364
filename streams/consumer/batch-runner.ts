// The shared consumer runner of the batch stages (the ClickHouse sink, the interest processor): what
// runner.ts does for one message at a time, for a batch at a time, where a batch is the unit of work
// (one insert, one coalesced KV write per user). Per consumer: fetch up to `batchSize` messages (or
// what came within `expiresMs`), hand them to the step in stream order, and settle each message by
// the result the step returned for it. With `fetchPending` a fetch asks for what the consumer has
// pending (the last message's count), at least one and at most `batchSize`: it returns as soon as
// those are there, so at a moderate rate an event waits for no batch to fill, and under a backlog
// the batches are full. Settling:
//   ok    acked (the effect is durable: the step returns only after it)
//   drop  acked (nothing to do: a duplicate, our own output, or what the sink dead-letters)
//   dlq   dead-lettered with its reason, then acked; a dead letter that cannot be stored is nak'd
//   retry nak'd: handed back for redelivery (the step was stopped while waiting for its store)
// A step that throws fails its batch: every message is nak'd and redelivered after `nakDelayMs`, and
// the stage must be idempotent for it (the sink's dedup check, the interest watermark). An ack only
// ever follows the effect (or the dead letter) being durable. Consumers run side by side; stop() lets
// the batch in hand finish (the step sees `stopping()`) and the fetch in progress end (within
// expiresMs: its messages are nak'd), and returns.
import type { Consumer, JsMsg } from 'nats';
import { sleep } from '../../infra/sleep';
import { decodeEnvelope } from '../../schemas/codec';
import { publishDeadLetter } from '../dlq';
import type { StepResult } from '../results';
import type { ConsumerOptions } from './runner';

export type BatchResult<T> = StepResult<T> | { kind: 'retry' };

export interface BatchContext {
  /** The consumer the batch came from (the interest processor reads its ack floor). */
  consumer: Consumer;
  /** True once stop() was called: a step waiting for its store gives up and answers retry. */
  stopping(): boolean;
}

export interface BatchRunnerOptions<T> extends ConsumerOptions {
  batchSize: number;
  /** How long a fetch waits for a full batch. */
  expiresMs: number;
  /** Fetch what is pending (at least 1, at most batchSize) instead of a full batch. */
  fetchPending?: boolean;
  /** One result per message, in the order given. */
  step(msgs: readonly JsMsg[], ctx: BatchContext): Promise<BatchResult<T>[]>;
  /** The dead letter's Nats-Msg-Id, so a redelivered message is dead-lettered once. */
  deadLetterId(m: JsMsg): string;
  /** Each message once settled (acked after its effect or dead letter): the stage's counters. */
  settled?(result: StepResult<T>, m: JsMsg): void;
  /** A fetch that came back empty: caught up. */
  idle?(): void;
  /** Wait before a failed batch is redelivered. Default 1000 ms. */
  nakDelayMs?: number;
}

export interface BatchRunnerHealth {
  state: 'running' | 'retrying' | 'stopped';
  /** Epoch ms of the last batch settled or empty fetch. */
  lastProgressAt?: string;
  lastError?: string;
}

export interface BatchRunner {
  run(): Promise<void>;
  stop(): Promise<void>;
  health(): BatchRunnerHealth;
}

export function createBatchRunner<T>(opts: BatchRunnerOptions<T>): BatchRunner {
  const { nc, logger, label } = opts;
  const js = nc.jetstream();
  const nakDelayMs = opts.nakDelayMs ?? 1000;
  let stopping = false;
  let failing = 0;
  let lastProgressAt: number | undefined;
  let lastError: string | undefined;

  async function settle(m: JsMsg, r: BatchResult<T>): Promise<void> {
    if (r.kind === 'retry') return m.nak();
    if (r.kind === 'dlq') {
      try {
        const d = decodeEnvelope(m.data);
        await publishDeadLetter(js, opts.prefix, {
          reason: r.reason,
          detail: r.detail,
          data: m.data,
          sourceSubject: m.subject,
          sourceSequence: m.seq,
          ...(d.ok && d.envelope.shopId ? { shopId: d.envelope.shopId } : {}),
          msgId: opts.deadLetterId(m),
        });
      } catch (err) {
        logger.error({ err: (err as Error).message, seq: m.seq }, `${label}: dead letter not stored; nak'd`);
        return m.nak(nakDelayMs);
      }
    }
    m.ack();
    opts.settled?.(r, m);
  }

  async function consume(name: string): Promise<void> {
    let consumer: Consumer | undefined;
    /** Messages the consumer had pending after the last one fetched (fetchPending). */
    let pending = opts.batchSize;
    while (!stopping) {
      // with several instances, only while this one holds the consumer's lease; a batch is settled
      // before the next check, so nothing is in hand when it says it yielded (streams/consumer/leases.ts)
      if (opts.leases && !opts.leases.holds(name)) {
        opts.leases.yielded(name);
        await sleep(250);
        continue;
      }
      let msgs: JsMsg[] = [];
      try {
        consumer ??= await js.consumers.get(opts.stream, name);
        const size = opts.fetchPending ? Math.min(opts.batchSize, Math.max(1, pending)) : opts.batchSize;
        const batch = await consumer.fetch({ max_messages: size, expires: opts.expiresMs });
        for await (const m of batch) msgs.push(m);
        pending = msgs.length > 0 ? msgs[msgs.length - 1]!.info.pending : 0;
        if (msgs.length === 0) {
          if (!stopping) {
            lastProgressAt = Date.now();
            opts.idle?.();
          }
          continue;
        }
        if (stopping) {
          for (const m of msgs) m.nak(); // not started: handed back to the next instance
          await nc.flush();
          break;
        }
        const results = await opts.step(msgs, { consumer, stopping: () => stopping });
        if (results.length !== msgs.length)
          throw new Error(`step answered ${results.length} results for ${msgs.length} messages`);
        for (let i = 0; i < msgs.length; i++) await settle(msgs[i]!, results[i]!);
        await nc.flush(); // the acks are on the wire before the next batch
        lastProgressAt = Date.now();
        msgs = [];
      } catch (err) {
        if (stopping) {
          for (const m of msgs) m.nak(); // handed back to the next instance
          break;
        }
        lastError = (err as Error).message;
        // not acked: redelivered, and the stage's idempotence skips what was done
        logger.error(
          { err: lastError, consumer: name, messages: msgs.length },
          `${label}: batch failed; redelivering it`,
        );
        for (const m of msgs) m.nak(nakDelayMs);
        failing++;
        await sleep(1000);
        failing--;
      }
    }
  }

  let loop: Promise<void> | undefined;
  return {
    run: () => (loop ??= Promise.all(opts.consumers.map((c) => consume(c))).then(() => undefined)),
    async stop() {
      // the fetches in progress end on their own (within expiresMs), and their messages are nak'd: a
      // fetch stopped early leaves the server delivering its pull to nobody, and those messages come
      // back only after their ack wait, behind later ones (another instance's: out of order)
      stopping = true;
      await loop;
    },
    health: () => ({
      state: stopping ? 'stopped' : failing > 0 ? 'retrying' : 'running',
      ...(lastProgressAt ? { lastProgressAt: new Date(lastProgressAt).toISOString() } : {}),
      ...(lastError ? { lastError } : {}),
    }),
  };
}
