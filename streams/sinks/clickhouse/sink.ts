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
// This file: startup checks, lag and health, stop; the batch step is in batch.ts, run by the shared
// batch runner (streams/consumer/batch-runner.ts), which fetches, acks and dead-letters by its results.
import type { Consumer, NatsConnection } from 'nats';
import type { ClickHouseClient } from '../../../infra/clickhouse/client';
import type { Config } from '../../../infra/config';
import type { Logger } from '../../../infra/logger';
import type { Metrics } from '../../../infra/metrics';
import { names } from '../../topology';
import { checkTopology } from '../../topology-apply';
import { createBatchRunner } from '../../consumer/batch-runner';
import { createBatchHandler, type SinkStats } from './batch';
import type { CouponCodeView } from './rows';

export type { SinkStats } from './batch';

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
  /**
   * Longest wait between retries while ClickHouse is unavailable (default 5 s: an insert every 5 s
   * costs nothing, and ClickHouse back is noticed within 5 s; 30 s made a 20 s outage take 17 s more).
   */
  maxRetryDelayMs?: number;
}

export class SinkStartupError extends Error {
  override readonly name = 'SinkStartupError';
  readonly code = 'SINK_STARTUP';
}

/** How often the running sink refreshes its lag gauges (pending, oldest unstored). */
const LAG_REFRESH_MS = 5_000;

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
  const { handleBatch, settled, wake } = createBatchHandler({
    ch,
    table,
    config,
    logger,
    metrics,
    stats,
    couponView: deps.couponView,
    failpoints: deps.failpoints,
    maxRetryDelayMs: deps.maxRetryDelayMs ?? 5_000,
    stopping: () => stopping,
  });
  const runner = createBatchRunner<'stored'>({
    nc,
    prefix: config.nats.prefix,
    stream: n.eventsStream,
    consumers: [n.sinkConsumer],
    label: 'sink',
    logger,
    batchSize: config.sink.batchSize,
    expiresMs: Math.max(1000, config.sink.flushMs),
    step: (msgs) => {
      // in progress from the moment the step takes them: the first messages of a batch waited for the
      // fetch to fill (up to 1 s), and the insert's own heartbeats start only after the rows are built
      for (const m of msgs) m.working();
      return handleBatch(msgs);
    },
    deadLetterId: (m) => `dlq:${n.eventsStream}:${m.seq}`,
    settled,
    idle: () => (stats.lastProgressAt = Date.now()), // caught up: nothing to do is progress
  });

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

  // the lag gauges fresh for a Prometheus that scrapes /metrics only (not just when health is probed)
  let refresh: NodeJS.Timeout | undefined;
  return {
    run: () => {
      refresh ??= setInterval(() => {
        if (!stopping)
          lag().catch((err: unknown) => logger.debug({ err: (err as Error).message }, 'sink lag not read'));
      }, LAG_REFRESH_MS).unref();
      return runner.run();
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
      clearInterval(refresh);
      wake();
      await runner.stop();
    },
    stats: () => ({ ...stats }),
  };
}
