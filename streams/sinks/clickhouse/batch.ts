// The ClickHouse sink's batch handling: rows from messages, dead letters, the dedup check of
// redeliveries, inserts by partition group with bisection of data rejections, and waiting in place
// (messages kept in progress) while ClickHouse is unavailable. The loop, lag and health are in sink.ts.
import { sleep } from '../../../infra/sleep';
import { createHash } from 'node:crypto';
import type { JetStreamClient, JsMsg, NatsConnection } from 'nats';
import type { ClickHouseClient } from '../../../infra/clickhouse/client';
import type { Config } from '../../../infra/config';
import type { Logger } from '../../../infra/logger';
import type { Metrics } from '../../../infra/metrics';
import { publishDeadLetter } from '../../dlq';
import type { DlqReason } from '../../topology';
import type { CouponCodeView, EventRow } from './rows';
import { messageToRow } from './steps';
import { byPartitionGroups, classifyInsertError } from './store';

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

/** Thrown inside the sink when stop() ends a wait for ClickHouse; the batch is nak'd. */
class SinkStopping extends Error {
  override readonly name = 'SinkStopping';
  readonly code = 'SINK_STOPPING';
}

type Good = { m: JsMsg; row: EventRow };
type Dead = { m: JsMsg; reason: DlqReason; detail: string };

export interface BatchContext {
  nc: NatsConnection;
  js: JetStreamClient;
  ch: ClickHouseClient;
  /** The events table, database-qualified. */
  table: string;
  eventsStream: string;
  config: Config;
  logger: Logger;
  metrics?: Metrics;
  /** Counted into as batches are handled. */
  stats: SinkStats;
  couponView?: CouponCodeView;
  failpoints?: { afterInsertMs?: number; fromBatch?: number };
  maxRetryDelayMs: number;
  /** True once stop() was called: ends a wait for ClickHouse. */
  stopping(): boolean;
}

export interface BatchHandler {
  handleBatch: (msgs: JsMsg[]) => Promise<void>;
  /** Ends the current wait between retries at once (on stop). */
  wake: () => void;
}

export function createBatchHandler(ctx: BatchContext): BatchHandler {
  const { nc, js, ch, table, config, logger, metrics, stats, maxRetryDelayMs } = ctx;
  let wake: (() => void) | undefined;
  // keep messages in progress well within ack_wait while waiting for ClickHouse
  const workingEveryMs = Math.max(100, Math.floor(config.sink.ackWaitMs / 3));

  /** Sleeps up to `ms`, telling JetStream every `workingEveryMs` that `inFlight` is still being worked on. */
  async function holdFor(ms: number, inFlight: JsMsg[]): Promise<void> {
    const until = Date.now() + ms;
    while (!ctx.stopping() && Date.now() < until) {
      for (const m of inFlight) m.working();
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, Math.min(workingEveryMs, until - Date.now()));
      });
      wake = undefined;
    }
    if (ctx.stopping()) throw new SinkStopping('the sink is stopping');
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
          msgId: `dlq:${ctx.eventsStream}:${d.m.seq}`,
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
      const r = messageToRow(m.data, m.seq, m.info.timestampNanos / 1e6, ctx.couponView);
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
        const fp = ctx.failpoints;
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

  return { handleBatch, wake: () => wake?.() };
}
