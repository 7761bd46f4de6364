// The machine's raw limits alone (bench/limits.ts: JetStream publish and consume, KV compare-and-set,
// embedded ClickHouse insert, with the pipeline's own messages, stream, bucket and table), printed as a
// table and written under `limits` in bench-results.json (other keys kept).
//   EVENTS=20000 npx tsx bench/limits-run.ts
import { cpus } from 'node:os';
import { writeResults } from './common';
import { measureLimits } from './limits';

async function main(): Promise<void> {
  const events = Number(process.env['EVENTS'] ?? 20_000);
  const figures = await measureLimits({ events, log: (l) => console.log(l) });
  console.table({
    raw_publish_per_s: figures.raw_publish_per_s,
    raw_consume_per_s: figures.raw_consume_per_s,
    kv_cas_updates_per_s: figures.kv_cas_updates_per_s,
    clickhouse_insert_rows_per_s: figures.clickhouse_insert_rows_per_s,
    message_bytes_p50: figures.message_bytes.p50,
    message_bytes_max: figures.message_bytes.max,
  });
  writeResults({
    limits: { ...figures, events, machine: `${cpus().length} cores, node ${process.version}` },
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
