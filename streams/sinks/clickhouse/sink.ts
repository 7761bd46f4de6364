// The ClickHouse sink: a durable pull consumer that batches events into the events table by size and
// by time, acks only after the insert succeeded, and never stores an event twice.
//
// Exactly-once effect on at-least-once delivery:
//  1. Producer retries: Nats-Msg-Id = event_id, the stream drops duplicates within its window.
//  2. In one batch: rows are unique by event_id.
//  3. Redelivery (a crash or timeout after insert, before ack): messages JetStream redelivers are
//     checked against the table and skipped when already stored.
//  4. A retried insert carries the same insert_deduplication_token, so the server drops it if the
//     first attempt did land.
//  5. Anything else (the same event re-published after the duplicate window): ReplacingMergeTree
//     keyed on event_id collapses it, and exact queries use FINAL.
//
// One message never stops the sink (poison isolation):
//  - A message that does not decode, validate (occurred_at at most MAX_FUTURE_SKEW_MS after its
//    JetStream time) or make a row is dead-lettered with its reason and acked; the loop goes on.
//  - An insert is cut by the table's partition key (toYYYYMM(occurred_at)) into blocks of at most
//    100 months, so no batch hits "Too many partitions for single INSERT block".
//  - An insert ClickHouse rejects for its DATA is bisected: the halves are inserted apart (each with
//    its own dedup token) until the rows at fault are alone; those go to the dead-letter stream as
//    `store_rejected` with ClickHouse's error code, the rest are stored.
//  - When ClickHouse is unavailable (no answer, timeouts, operational error codes: store.ts), the batch
//    in hand is retried in place with backoff, its messages kept in progress (m.working()), so an
//    outage burns no JetStream delivery and holds at most one batch in memory; stop() ends the wait
//    and naks the batch for redelivery.
//  - A message that still exhausts the consumer's max_deliver is caught by streams/advisories.ts.
//
// Lag is visible: lag() gives the events not yet stored and the age of the oldest (gauges
// shopstream_sink_pending_messages, shopstream_sink_oldest_unstored_seconds), and health() (the
// service's /healthz) fails when events wait and nothing was stored for SINK_STALL_AFTER, or the
// oldest waited longer than SINK_MAX_LAG: the events stream refuses new events when full, so a
// stalled sink is seen long before anything would be lost.
import { createHash } from 'node:crypto';
import type { Consumer, JsMsg, NatsConnection } from 'nats';
import type { ClickHouseClient } from '../../../infra/clickhouse/client';
import type { Config } from '../../../infra/config';
import type { Logger } from '../../../infra/logger';
import type { Metrics } from '../../../infra/metrics';
import { publishDeadLetter } from '../../dlq';
import { checkTopology, names, type DlqReason } from '../../topology';
import type { EventRow } from './rows';
import type { CouponCodeView } from './rows';
import { messageToRow } from './steps';
import { byPartitionGroups, classifyInsertError } from './store';
import { sleep } from '../../../infra/sleep';

export interface SinkStats {
  batches: number;
  /** Rows inserted; `stored` counts them once acked. inserted > stored: between insert and ack. */
  inserted: number;
  stored: number;
  duplicatesSkipped: number;
  deadLettered: number;
  /** Insert attempts that failed because ClickHouse was unavailable (retried in place). */
  insertFailures: number;
  /** Rows ClickHouse rejected for their data, dead-lettered as store_rejected. */
  storeRejected: number;
  /** Whether the sink is waiting for ClickHouse to come back, holding a batch. */
  waitingForClickHouse: boolean;
  /** Epoch ms of the last batch fully handled (stored, dead-lettered, skipped), or of the start. */
  lastProgressAt: number;
}

/** How far behind the sink is: events on the stream it has not stored (nor dead-lettered) yet. */
export interface SinkLag {
  /** Messages not yet acked by the sink: never delivered plus in hand. */
  pending: number;
  /** Age of the oldest of them on the stream (ms since it was published); 0 when none. */
  oldestUnstoredMs: number;
  /** Since the sink last finished a batch or found nothing to do. */
  sinceProgressMs: number;
}

export interface SinkHealth extends SinkLag {
  ok: boolean;
  /** Why not ok: stalled (pending events, no progress for SINK_STALL_AFTER) or lagging (SINK_MAX_LAG). */
  problem?: 'stalled' | 'lagging';
}

export interface ClickHouseSink {
  /** Runs until stop(); resolves when the loop has ended. */
  run(): Promise<void>;
  /** Reads the consumer's state; also sets the pending / oldest-unstored gauges. */
  lag(): Promise<SinkLag>;
  /** Not ok when events are pending and nothing was stored for SINK_STALL_AFTER, or lag passes SINK_MAX_LAG. */
  health(): Promise<SinkHealth>;
  /** Finishes the batch in hand, then stops. Idempotent. */
  stop(): Promise<void>;
  stats(): SinkStats;
}

export interface SinkDeps {
  nc: NatsConnection;
  /** What a coupon code in an event is stored as (a keyed ref); default: masked (rows.ts). */
  couponView?: CouponCodeView;
  ch: ClickHouseClient;
  config: Config;
  logger: Logger;
  metrics?: Metrics;
  /** Failpoints for crash tests: a pause between a durable insert and its acks, from batch N on. */
  failpoints?: { afterInsertMs?: number; fromBatch?: number };
  /** Longest wait between retries while ClickHouse is unavailable (default 30 s). */
  maxRetryDelayMs?: number;
}

/** Thrown inside the sink when stop() ends a wait for ClickHouse; the batch is nak'd. */
class SinkStopping extends Error {
  override readonly name = 'SinkStopping';
  readonly code = 'SINK_STOPPING';
}

type Good = { m: JsMsg; row: EventRow };
type Dead = { m: JsMsg; reason: DlqReason; detail: string };

export class SinkStartupError extends Error {
  override readonly name = 'SinkStartupError';
  readonly code = 'SINK_STARTUP';
}

export async function createClickHouseSink(deps: SinkDeps): Promise<ClickHouseSink> {
  const { nc, ch, config, logger, metrics } = deps;
  const n = names(config.nats.prefix);
  const db = config.clickhouse.database;
  const table = `${db}.events`;
  await checkTopology(await nc.jetstreamManager(), config, {
    consumers: [{ stream: n.eventsStream, name: n.sinkConsumer }],
  });
  const exists = await ch.query({ query: `EXISTS TABLE ${table}`, format: 'JSONEachRow' });
  const [row] = await exists.json<{ result: number | string }>();
  if (!row || Number(row.result) !== 1) {
    throw new SinkStartupError(
      `ClickHouse table ${table} does not exist: run \`npx shopstream migrate\` (the service does this at start).`,
    );
  }
  const js = nc.jetstream();
  const consumer: Consumer = await js.consumers.get(n.eventsStream, n.sinkConsumer);
  const stats: SinkStats = {
    batches: 0,
    inserted: 0,
    stored: 0,
    duplicatesSkipped: 0,
    deadLettered: 0,
    insertFailures: 0,
    storeRejected: 0,
    waitingForClickHouse: false,
    lastProgressAt: Date.now(),
  };
  let stopping = false;
  let current: { stop(err?: Error): void } | undefined;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  const maxRetryDelayMs = deps.maxRetryDelayMs ?? 30_000;
  // keep messages in progress well within ack_wait while waiting for ClickHouse
  const workingEveryMs = Math.max(100, Math.floor(config.sink.ackWaitMs / 3));

  /** Sleeps up to `ms`, telling JetStream every `workingEveryMs` that `inFlight` is still being worked on. */
  async function holdFor(ms: number, inFlight: JsMsg[]): Promise<void> {
    const until = Date.now() + ms;
    while (!stopping && Date.now() < until) {
      for (const m of inFlight) m.working();
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, Math.min(workingEveryMs, until - Date.now()));
      });
      wake = undefined;
    }
    if (stopping) throw new SinkStopping('the sink is stopping');
  }

  /**
   * Runs a ClickHouse call until it answers: an unavailable ClickHouse is waited for in place (the
   * batch's messages kept in progress); a data rejection is returned; stop() ends the wait.
   */
  async function untilAnswered(
    what: string,
    inFlight: JsMsg[],
    call: () => Promise<void>,
  ): Promise<{ ok: true } | { ok: false; code: string; type: string; message: string }> {
    for (let attempt = 0; ; attempt++) {
      try {
        await call();
        if (stats.waitingForClickHouse)
          logger.info({ what, attempts: attempt + 1 }, 'ClickHouse answers again');
        stats.waitingForClickHouse = false;
        return { ok: true };
      } catch (err) {
        const f = classifyInsertError(err);
        if (f.kind === 'rejected') return { ok: false, code: f.code, type: f.type, message: f.message };
        stats.insertFailures++;
        stats.waitingForClickHouse = true;
        metrics?.sinkRetries.inc({ kind: 'unavailable' });
        const delay = Math.min(maxRetryDelayMs, 250 * 2 ** Math.min(attempt, 10));
        logger.warn(
          {
            what,
            err: f.message.slice(0, 300),
            code: f.code,
            attempt,
            retryInMs: delay,
            held: inFlight.length,
          },
          'ClickHouse unavailable; holding the batch and retrying in place',
        );
        await holdFor(delay, inFlight);
      }
    }
  }

  async function alreadyStored(ids: string[], inFlight: JsMsg[]): Promise<Set<string>> {
    let found = new Set<string>();
    if (ids.length === 0) return found;
    const r = await untilAnswered('dedup check', inFlight, async () => {
      const rs = await ch.query({
        query: `SELECT event_id FROM ${table} WHERE event_id IN {ids:Array(String)}`,
        query_params: { ids },
        format: 'JSONEachRow',
      });
      found = new Set((await rs.json<{ event_id: string }>()).map((r) => r.event_id));
    });
    // a SELECT by ids cannot blame the events: keep waiting as for an outage
    if (!r.ok) throw new Error(`dedup check failed: ${r.code} ${r.message}`);
    return found;
  }

  function insertOnce(rows: EventRow[]): Promise<void> {
    const token = createHash('sha256')
      .update(
        rows
          .map((r) => r.event_id)
          .sort()
          .join(','),
      )
      .digest('hex');
    return ch
      .insert({
        table,
        values: rows,
        format: 'JSONEachRow',
        clickhouse_settings: { insert_deduplication_token: token },
      })
      .then(() => undefined);
  }

  /**
   * Inserts `items`; when ClickHouse rejects them for their data, bisects until the rows at fault are
   * alone and returns those with the error, having stored all the others.
   */
  async function store(items: Good[], inFlight: JsMsg[]): Promise<{ stored: Good[]; rejected: Dead[] }> {
    const r = await untilAnswered('insert', inFlight, () => insertOnce(items.map((g) => g.row)));
    if (r.ok) return { stored: items, rejected: [] };
    if (items.length === 1) {
      return {
        stored: [],
        rejected: [
          {
            m: items[0]!.m,
            reason: 'store_rejected',
            detail: `ClickHouse ${r.code} ${r.type}: ${r.message}`,
          },
        ],
      };
    }
    logger.warn(
      { code: r.code, type: r.type, rows: items.length },
      'ClickHouse rejected an insert for its data; splitting it to find the rows at fault',
    );
    const half = Math.ceil(items.length / 2);
    const a = await store(items.slice(0, half), inFlight);
    const b = await store(items.slice(half), inFlight);
    return { stored: [...a.stored, ...b.stored], rejected: [...a.rejected, ...b.rejected] };
  }

  async function deadLetter(dead: Dead[]): Promise<void> {
    // acked only once the dead-letter stream has them
    for (const d of dead) {
      try {
        await publishDeadLetter(js, config.nats.prefix, {
          reason: d.reason,
          detail: d.detail,
          data: d.m.data,
          sourceSubject: d.m.subject,
          sourceSequence: d.m.seq,
          msgId: `dlq:${n.eventsStream}:${d.m.seq}`,
        });
        d.m.ack();
        stats.deadLettered++;
        if (d.reason === 'store_rejected') stats.storeRejected++;
        metrics?.dlqPublished.inc({ reason: d.reason });
        metrics?.sinkEvents.inc({ result: 'dead_lettered' });
      } catch (err) {
        logger.error({ err: (err as Error).message, seq: d.m.seq }, 'dead-letter publish failed; will retry');
        d.m.nak(1000);
      }
    }
  }

  async function handleBatch(msgs: JsMsg[]): Promise<void> {
    const started = performance.now();
    const good: Good[] = [];
    const dead: Dead[] = [];
    const seen = new Set<string>();
    const ackNow: JsMsg[] = [];
    for (const m of msgs) {
      const r = messageToRow(m.data, m.seq, m.info.timestampNanos / 1e6, deps.couponView);
      if (r.kind === 'dlq') dead.push({ m, reason: r.reason, detail: r.detail });
      else if (r.kind === 'drop') ackNow.push(m);
      else if (seen.has(r.value.event_id)) {
        stats.duplicatesSkipped++;
        ackNow.push(m);
      } else {
        seen.add(r.value.event_id);
        good.push({ m, row: r.value });
      }
    }
    await deadLetter(dead);

    // held in progress while ClickHouse is waited for: everything not yet settled
    const inFlight = [...good.map((g) => g.m), ...ackNow];
    try {
      let rows = good;
      const redelivered = good.filter((g) => g.m.info.redeliveryCount > 1).map((g) => g.row.event_id);
      if (redelivered.length > 0) {
        const stored = await alreadyStored(redelivered, inFlight);
        if (stored.size > 0) {
          rows = good.filter((g) => !stored.has(g.row.event_id));
          for (const g of good) if (stored.has(g.row.event_id)) ackNow.push(g.m);
          stats.duplicatesSkipped += stored.size;
          metrics?.sinkEvents.inc({ result: 'duplicate' }, stored.size);
        }
      }
      const storedRows: Good[] = [];
      const rejected: Dead[] = [];
      for (const group of byPartitionGroups(rows)) {
        const r = await store(group, inFlight);
        storedRows.push(...r.stored);
        rejected.push(...r.rejected);
      }
      if (storedRows.length > 0) {
        stats.inserted += storedRows.length;
        const fp = deps.failpoints;
        if (fp?.afterInsertMs && stats.batches + 1 >= (fp.fromBatch ?? 1)) await sleep(fp.afterInsertMs);
        metrics?.sinkBatchRows.observe(storedRows.length);
        let newest = 0;
        for (const g of storedRows)
          newest = Math.max(newest, Date.parse(`${g.row.occurred_at.replace(' ', 'T')}Z`));
        metrics?.sinkLagSeconds.set((Date.now() - newest) / 1000);
      }
      for (const g of storedRows) g.m.ack();
      stats.stored += storedRows.length;
      metrics?.sinkEvents.inc({ result: 'stored' }, storedRows.length);
      await deadLetter(rejected);
      for (const m of ackNow) m.ack();
      stats.lastProgressAt = Date.now();
    } catch (err) {
      if (!(err instanceof SinkStopping)) throw err;
      // stopping while ClickHouse is away: hand the batch back for the next instance
      for (const m of inFlight) m.nak();
      metrics?.sinkEvents.inc({ result: 'retried' }, inFlight.length);
      logger.warn({ held: inFlight.length }, 'stopped while waiting for ClickHouse; batch handed back');
    }
    await nc.flush();
    stats.batches++;
    metrics?.sinkBatchSeconds.observe((performance.now() - started) / 1000);
  }

  async function runLoop(): Promise<void> {
    const expires = Math.max(1000, config.sink.flushMs);
    while (!stopping) {
      let msgs: JsMsg[] = [];
      try {
        const batch = await consumer.fetch({ max_messages: config.sink.batchSize, expires });
        current = batch;
        for await (const m of batch) msgs.push(m);
      } catch (err) {
        if (stopping) break;
        logger.warn({ err: (err as Error).message }, 'fetch failed; retrying');
        await sleep(1000);
        msgs = [];
      } finally {
        current = undefined;
      }
      if (msgs.length === 0) {
        if (!stopping) stats.lastProgressAt = Date.now(); // caught up: nothing to do is progress
        continue;
      }
      try {
        await handleBatch(msgs);
      } catch (err) {
        // never expected (every step returns a result): the batch is redelivered, the loop goes on
        logger.error(
          { err: (err as Error).message, messages: msgs.length },
          'sink batch failed; redelivering it',
        );
        for (const m of msgs) m.nak(1000);
        await sleep(1000);
      }
    }
  }

  const jsm = await nc.jetstreamManager();
  async function lag(): Promise<SinkLag> {
    const info = await consumer.info();
    const pending = info.num_pending + info.num_ack_pending;
    let oldestUnstoredMs = 0;
    if (pending > 0) {
      try {
        // the first message the sink has not acked: the one after its ack floor (or the first left)
        const first = (await jsm.streams.info(n.eventsStream)).state.first_seq;
        const sm = await jsm.streams.getMessage(n.eventsStream, {
          seq: Math.max(info.ack_floor.stream_seq + 1, first),
        });
        oldestUnstoredMs = Math.max(0, Date.now() - sm.time.getTime());
      } catch (err) {
        logger.debug({ err: (err as Error).message }, 'oldest unstored event not readable');
      }
    }
    metrics?.sinkPending.set(pending);
    metrics?.sinkOldestUnstoredSeconds.set(oldestUnstoredMs / 1000);
    return { pending, oldestUnstoredMs, sinceProgressMs: Date.now() - stats.lastProgressAt };
  }

  return {
    run(): Promise<void> {
      loop ??= runLoop();
      return loop;
    },
    lag,
    async health(): Promise<SinkHealth> {
      const l = await lag();
      if (l.pending > 0 && l.sinceProgressMs > config.sink.stallAfterMs)
        return { ok: false, problem: 'stalled', ...l };
      if (l.oldestUnstoredMs > config.sink.maxLagMs) return { ok: false, problem: 'lagging', ...l };
      return { ok: true, ...l };
    },
    async stop(): Promise<void> {
      stopping = true;
      current?.stop();
      wake?.();
      await loop;
    },
    stats: () => ({ ...stats }),
  };
}
