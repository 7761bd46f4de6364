// Freshness benchmark: how long after an event is published it is queryable in ClickHouse, through
// the real path (producer SDK -> JetStream -> the ClickHouse sink with the service's default batching
// -> embedded ClickHouse), at a steady rate of simulated shop traffic. Each event is stamped with the
// moment it is published (occurred_at); ClickHouse stamps the moment it stored it (ingested_at, the
// same machine's clock): freshness = ingested_at - occurred_at, over every event.
//   RATE=2000 SECONDS=30 npx tsx bench/freshness.ts      (make bench-freshness)
// Writes event_to_clickhouse_ms {p50, p95, p99} into bench-results.json (other keys kept).
import { cpus } from 'node:os';
import { loadConfig } from '../infra/config';
import { createLogger } from '../infra/logger';
import { sleep } from '../infra/sleep';
import { createProducer } from '../streams/producer/producer';
import { createClickHouseSink } from '../streams/sinks/clickhouse/sink';
import { onThrowawayNats, simulatedEvents, writeResults } from './common';
import { startTestClickHouse, uniqueName } from '../infra/stack/test-clickhouse';

async function main(): Promise<void> {
  const rate = Number(process.env['RATE'] ?? 2000);
  const seconds = Number(process.env['SECONDS'] ?? 30);
  const total = rate * seconds;
  const chs = await startTestClickHouse();
  try {
    // the service's own sink settings (batch size, flush interval), not the tests' small ones
    const configOf = (url: string) => ({
      ...loadConfig({ NATS_URL: url, SHOPSTREAM_PREFIX: uniqueName('b').toLowerCase(), LOG_LEVEL: 'silent' }),
      clickhouse: chs.config,
    });
    await onThrowawayNats({ name: 'bench-freshness', config: configOf }, async ({ config, nc }) => {
      const events = simulatedEvents(total, 3);
      const sink = await createClickHouseSink({
        nc,
        ch: chs.ch,
        config,
        logger: createLogger('silent', 'bench'),
      });
      void sink.run();
      const producer = await createProducer({
        nats: config.nats,
        shopId: 'bench',
        connection: nc,
        maxInFlight: 1000,
      });
      // paced in 10 ms slices: `rate` events per second, each stamped when it is handed to the producer
      const t0 = performance.now();
      const sends: Promise<unknown>[] = [];
      let sent = 0;
      while (sent < events.length) {
        const due = Math.min(events.length, Math.floor(((performance.now() - t0) / 1000) * rate));
        for (; sent < due; sent++) {
          const e = events[sent]!;
          const input = { ...(e.input as object), occurredAt: Date.now() };
          sends.push(producer.track(e.type, input as never));
        }
        await sleep(10);
      }
      await Promise.all(sends);
      const publishS = (performance.now() - t0) / 1000;
      while (sink.stats().stored < events.length) await sleep(50);
      await sink.stop();
      await producer.close();
      const rs = await chs.ch.query({
        query: `SELECT count() AS n,
                     quantilesExact(0.5, 0.95, 0.99)(dateDiff('millisecond', occurred_at, ingested_at)) AS q
              FROM ${chs.config.database}.events`,
        format: 'JSONEachRow',
      });
      const [row] = await rs.json<{ n: string; q: number[] }>();
      const [p50, p95, p99] = row!.q.map(Number) as [number, number, number];
      const results = {
        event_to_clickhouse_ms: { p50, p95, p99 },
        freshness: {
          events: Number(row!.n),
          rate_per_s: rate,
          achieved_per_s: Math.round(events.length / publishS),
          sink_batch_size: config.sink.batchSize,
          sink_flush_ms: config.sink.flushMs,
          target_p95_ms: 2000,
          machine: `${cpus().length} cores, node ${process.version}`,
        },
      };
      console.log(JSON.stringify(results, null, 2));
      writeResults(results);
    });
  } finally {
    await chs.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
