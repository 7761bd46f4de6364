// The ClickHouse sink's batch step: rows from messages, the dedup check of redeliveries, inserts by
// partition group with bisection of data rejections, and waiting in place (messages kept in
// progress) while ClickHouse is unavailable; it answers one result per message and the shared batch
// runner (streams/consumer/batch-runner.ts) acks and dead-letters by them. Lag and health: sink.ts.
import { sleep } from '../../../infra/sleep';
import { createHash } from 'node:crypto';
import type { JsMsg } from 'nats';
import type { ClickHouseClient } from '../../../infra/clickhouse/client';
import type { Config } from '../../../infra/config';
import type { Logger } from '../../../infra/logger';
import type { Metrics } from '../../../infra/metrics';
import type { BatchResult } from '../../consumer/batch-runner';
import { dlq, drop, ok, type StepResult } from '../../results';
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
  ch: ClickHouseClient;
  /** The events table, database-qualified. */
  table: string;
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
  handleBatch: (msgs: readonly JsMsg[]) => Promise<BatchResult<'stored'>[]>;
  settled: (r: StepResult<'stored'>) => void;
  /** Ends the current wait between retries at once (on stop). */
  wake: () => void;
}

/** A batch's insert_deduplication_token: its event ids, sorted, hashed (a redelivered batch repeats it). */
export function insertDedupToken(rows: readonly EventRow[]): string {
  return createHash('sha256')
    .update(
      rows
        .map((r) => r.event_id)
        .sort()
        .join(','),
    )
    .digest('hex');
}

export function createBatchHandler(ctx: BatchContext): BatchHandler {
  const { ch, table, config, logger, metrics, stats, maxRetryDelayMs } = ctx;
  let wake: (() => void) | undefined;
  // keep messages in progress well within ack_wait while waiting for ClickHouse
  const workingEveryMs = Math.max(100, Math.floor(config.sink.ackWaitMs / 3));

  /** Sleeps up to `ms`, telling JetStream every `workingEveryMs` that `inFlight` is still being worked on. */
  async function holdFor(ms: number, inFlight: readonly JsMsg[]): Promise<void> {
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
    inFlight: readonly JsMsg[],
    call: () => Promise<void>,
  ): Promise<{ ok: true } | { ok: false; code: string; type: string; message: string }> {
    for (let attempt = 0; ; attempt++) {
      // in progress while ClickHouse works too: an insert slower than ack_wait must not have JetStream
      // hand the batch to another sink (a redelivery storm, found by make chaos)
      const heartbeat = setInterval(() => {
        for (const m of inFlight) m.working();
      }, workingEveryMs);
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
      } finally {
        clearInterval(heartbeat);
      }
    }
  }

  async function alreadyStored(ids: string[], inFlight: readonly JsMsg[]): Promise<Set<string>> {
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
    const token = insertDedupToken(rows);
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
  async function store(
    items: Good[],
    inFlight: readonly JsMsg[],
  ): Promise<{ stored: Good[]; rejected: Dead[] }> {
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

  /** One result per message: stored (ok), a duplicate (drop), dead-lettered (dlq) or handed back. */
  async function handleBatch(msgs: readonly JsMsg[]): Promise<BatchResult<'stored'>[]> {
    const started = performance.now();
    const results = new Map<JsMsg, BatchResult<'stored'>>();
    const good: Good[] = [];
    const seen = new Set<string>();
    for (const m of msgs) {
      const r = messageToRow(m.data, m.seq, m.info.timestampNanos / 1e6, ctx.couponView);
      if (r.kind !== 'ok') results.set(m, r);
      else if (seen.has(r.value.event_id)) {
        stats.duplicatesSkipped++;
        results.set(m, drop('a duplicate within the batch'));
      } else {
        seen.add(r.value.event_id);
        good.push({ m, row: r.value });
      }
    }

    // the whole batch is held in progress while ClickHouse is waited for
    const inFlight = [...msgs];
    try {
      let rows = good;
      const redelivered = good.filter((g) => g.m.info.redeliveryCount > 1).map((g) => g.row.event_id);
      if (redelivered.length > 0) {
        const stored = await alreadyStored(redelivered, inFlight);
        if (stored.size > 0) {
          rows = good.filter((g) => !stored.has(g.row.event_id));
          for (const g of good) if (stored.has(g.row.event_id)) results.set(g.m, drop('already stored'));
          stats.duplicatesSkipped += stored.size;
          metrics?.sinkEvents.inc({ result: 'duplicate' }, stored.size);
        }
      }
      const storedRows: Good[] = [];
      for (const group of byPartitionGroups(rows)) {
        const r = await store(group, inFlight);
        storedRows.push(...r.stored);
        for (const d of r.rejected) results.set(d.m, dlq(d.reason, d.detail));
      }
      for (const g of storedRows) results.set(g.m, ok('stored'));
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
      stats.lastProgressAt = Date.now();
    } catch (err) {
      if (!(err instanceof SinkStopping)) throw err;
      // stopping while ClickHouse is away: what is not settled is handed back for the next instance
      const held = msgs.filter((m) => !results.has(m));
      for (const m of held) results.set(m, { kind: 'retry' });
      metrics?.sinkEvents.inc({ result: 'retried' }, held.length);
      logger.warn({ held: held.length }, 'stopped while waiting for ClickHouse; batch handed back');
    }
    stats.batches++;
    metrics?.sinkBatchSeconds.observe((performance.now() - started) / 1000);
    return msgs.map((m) => results.get(m)!);
  }

  /** Counts a message once the batch runner settled it (acked after its row or its dead letter). */
  function settled(r: StepResult<'stored'>): void {
    if (r.kind === 'ok') {
      stats.stored++;
      metrics?.sinkEvents.inc({ result: 'stored' });
    } else if (r.kind === 'dlq') {
      stats.deadLettered++;
      if (r.reason === 'store_rejected') stats.storeRejected++;
      metrics?.dlqPublished.inc({ reason: r.reason });
      metrics?.sinkEvents.inc({ result: 'dead_lettered' });
    }
  }

  return { handleBatch, settled, wake: () => wake?.() };
}
