// Ingestion benchmark: producer SDK publish rate, and ClickHouse sink drain rate, on a throwaway
// nats-server and embedded ClickHouse. `make bench-ingest` (figures vary with the machine: 2 cores here).
//   EVENTS=50000 npx tsx bench/ingest.ts
import { cpus } from 'node:os';
import { createLogger } from '../infra/logger';
import { createClickHouseSink } from '../streams/sinks/clickhouse/sink';
import { onThrowawayNats, publishAll, simulatedEvents, writeResults } from './common';
import { startTestClickHouse } from '../infra/stack/test-clickhouse';
import { testConfig } from '../infra/stack/test-config';

async function main(): Promise<void> {
  const target = Number(process.env['EVENTS'] ?? 50_000);
  const chs = await startTestClickHouse();
  try {
    const configOf = (url: string) => ({
      ...testConfig(url, {
        SINK_BATCH_SIZE: process.env['SINK_BATCH_SIZE'] ?? '5000',
        NATS_PARTITIONS: '16',
      }),
      clickhouse: chs.config,
    });
    await onThrowawayNats({ name: 'bench', config: configOf }, async ({ config, nc }) => {
      // realistic events: the simulator's journeys, flattened, until `target`
      const events = simulatedEvents(target, 1);

      const publishMs = await publishAll(config, nc, events);

      // the sink starts with everything already in the stream: its drain rate alone
      const sink = await createClickHouseSink({
        nc,
        ch: chs.ch,
        config,
        logger: createLogger('silent', 'bench'),
      });
      const t1 = performance.now();
      void sink.run();
      while (sink.stats().stored < events.length) await new Promise((r) => setTimeout(r, 20));
      const drainMs = performance.now() - t1;
      await sink.stop();

      const results = {
        events: events.length,
        publish_events_per_s: Math.round(events.length / (publishMs / 1000)),
        sink_events_per_s: Math.round(events.length / (drainMs / 1000)),
        sink_batch_size: config.sink.batchSize,
        sink_batches: sink.stats().batches,
        machine: `${cpus().length} cores, node ${process.version}`,
      };
      console.table(results);
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
