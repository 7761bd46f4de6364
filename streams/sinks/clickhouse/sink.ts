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
import { createHash } from 'node:crypto';
import type { Consumer, JsMsg, NatsConnection } from 'nats';
import type { ClickHouseClient } from '../../../infra/clickhouse/client';
import type { Config } from '../../../infra/config';
import type { Logger } from '../../../infra/logger';
import type { Metrics } from '../../../infra/metrics';
import { publishDeadLetter } from '../../dlq';
import { checkTopology, names } from '../../topology';
import { toEventRow, type EventRow } from './rows';
import { decodeAndValidate } from './steps';

export interface SinkStats {
  batches: number;
  /** Rows inserted; `stored` counts them once acked. inserted > stored: between insert and ack. */
  inserted: number;
  stored: number;
  duplicatesSkipped: number;
  deadLettered: number;
  insertFailures: number;
}

export interface ClickHouseSink {
  /** Runs until stop(); resolves when the loop has ended. */
  run(): Promise<void>;
  /** Finishes the batch in hand, then stops. Idempotent. */
  stop(): Promise<void>;
  stats(): SinkStats;
}

export interface SinkDeps {
  nc: NatsConnection;
  ch: ClickHouseClient;
  config: Config;
  logger: Logger;
  metrics?: Metrics;
  /** Failpoints for crash tests: a pause between a durable insert and its acks, from batch N on. */
  failpoints?: { afterInsertMs?: number; fromBatch?: number };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

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
  };
  let stopping = false;
  let current: { stop(err?: Error): void } | undefined;
  let loop: Promise<void> | undefined;

  async function alreadyStored(ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rs = await ch.query({
      query: `SELECT event_id FROM ${table} WHERE event_id IN {ids:Array(String)}`,
      query_params: { ids },
      format: 'JSONEachRow',
    });
    return new Set((await rs.json<{ event_id: string }>()).map((r) => r.event_id));
  }

  async function insert(rows: EventRow[]): Promise<void> {
    const token = createHash('sha256')
      .update(
        rows
          .map((r) => r.event_id)
          .sort()
          .join(','),
      )
      .digest('hex');
    for (let attempt = 0; ; attempt++) {
      try {
        await ch.insert({
          table,
          values: rows,
          format: 'JSONEachRow',
          clickhouse_settings: { insert_deduplication_token: token },
        });
        return;
      } catch (err) {
        if (attempt >= 2 || stopping) throw err;
        logger.warn(
          { err: (err as Error).message, attempt },
          'insert failed, retrying with the same dedup token',
        );
        await sleep(200 * 2 ** attempt);
      }
    }
  }

  async function handleBatch(msgs: JsMsg[]): Promise<void> {
    const started = performance.now();
    const good: { m: JsMsg; row: EventRow }[] = [];
    const dead: { m: JsMsg; reason: Parameters<typeof publishDeadLetter>[2]['reason']; detail: string }[] =
      [];
    const seen = new Set<string>();
    const ackNow: JsMsg[] = [];
    for (const m of msgs) {
      const r = decodeAndValidate(m.data);
      if (r.kind === 'dlq') dead.push({ m, reason: r.reason, detail: r.detail });
      else if (r.kind === 'drop') ackNow.push(m);
      else if (seen.has(r.value.envelope.eventId)) {
        stats.duplicatesSkipped++;
        ackNow.push(m);
      } else {
        seen.add(r.value.envelope.eventId);
        good.push({ m, row: toEventRow(r.value.envelope, r.value.type, m.seq) });
      }
    }

    // Dead letters first: acked only once the dead-letter stream has them.
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
        metrics?.dlqPublished.inc({ reason: d.reason });
        metrics?.sinkEvents.inc({ result: 'dead_lettered' });
      } catch (err) {
        logger.error({ err: (err as Error).message, seq: d.m.seq }, 'dead-letter publish failed; will retry');
        d.m.nak(1000);
      }
    }

    let rows = good;
    const redelivered = good.filter((g) => g.m.info.redeliveryCount > 1).map((g) => g.row.event_id);
    try {
      if (redelivered.length > 0) {
        const stored = await alreadyStored(redelivered);
        if (stored.size > 0) {
          rows = good.filter((g) => !stored.has(g.row.event_id));
          for (const g of good) if (stored.has(g.row.event_id)) ackNow.push(g.m);
          stats.duplicatesSkipped += stored.size;
          metrics?.sinkEvents.inc({ result: 'duplicate' }, stored.size);
        }
      }
      if (rows.length > 0) {
        await insert(rows.map((g) => g.row));
        stats.inserted += rows.length;
        const fp = deps.failpoints;
        if (fp?.afterInsertMs && stats.batches + 1 >= (fp.fromBatch ?? 1)) await sleep(fp.afterInsertMs);
        metrics?.sinkBatchRows.observe(rows.length);
        const newest = Math.max(...rows.map((g) => Date.parse(`${g.row.occurred_at.replace(' ', 'T')}Z`)));
        metrics?.sinkLagSeconds.set((Date.now() - newest) / 1000);
      }
      for (const g of rows) g.m.ack();
      stats.stored += rows.length;
      metrics?.sinkEvents.inc({ result: 'stored' }, rows.length);
    } catch (err) {
      stats.insertFailures++;
      const delay = Math.min(30_000, 1000 * 2 ** Math.min(5, (good[0]?.m.info.redeliveryCount ?? 1) - 1));
      logger.error(
        { err: (err as Error).message, rows: rows.length, retryInMs: delay },
        'ClickHouse insert failed; events will be redelivered',
      );
      for (const g of rows) g.m.nak(delay);
      metrics?.sinkEvents.inc({ result: 'retried' }, rows.length);
    }
    for (const m of ackNow) m.ack();
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
      if (msgs.length > 0) await handleBatch(msgs);
    }
  }

  return {
    run(): Promise<void> {
      loop ??= runLoop();
      return loop;
    },
    async stop(): Promise<void> {
      stopping = true;
      current?.stop();
      await loop;
    },
    stats: () => ({ ...stats }),
  };
}
