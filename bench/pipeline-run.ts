// The whole pipeline's figures alone (bench/pipeline.ts): throughput, resident memory and latency of
// the real service processes on a throwaway NATS and embedded ClickHouse, printed as JSON.
//   USERS=5000 SECONDS=5 INSTANCES=2 CPU_PROFILE_DIR=/tmp/prof npx tsx bench/pipeline-run.ts
import { cpus } from 'node:os';
import { measurePipeline } from './pipeline';

async function main(): Promise<void> {
  const num = (name: string): number | undefined =>
    process.env[name] === undefined ? undefined : Number(process.env[name]);
  const users = num('USERS');
  const events = num('EVENTS');
  const rate = num('RATE');
  const seconds = num('SECONDS');
  const cpuProfileDir = process.env['CPU_PROFILE_DIR'];
  const figures = await measurePipeline({
    ...(users === undefined ? {} : { users }),
    ...(events === undefined ? {} : { events }),
    ...(rate === undefined ? {} : { rate }),
    ...(seconds === undefined ? {} : { seconds }),
    instances: process.env['INSTANCES'] === '2' ? 2 : 1,
    ...(cpuProfileDir ? { cpuProfileDir } : {}),
    log: (l) => console.log(`${process.uptime().toFixed(1).padStart(6)}s ${l}`),
  });
  console.log(
    JSON.stringify({ ...figures, machine: `${cpus().length} cores, node ${process.version}` }, null, 2),
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
