// Runs bench/workflows.ts and prints its figures:
//   npx tsx bench/workflows-run.ts
//   FLOWS=200 npx tsx bench/workflows-run.ts                                   (a small run)
// Optional: CONCURRENCY, HISTORY_SAMPLE, EXIT_SAMPLE, TUNING (JSON of worker settings, e.g.
// TUNING='{"maxConcurrentWorkflowTaskExecutions":100,"maxConcurrentWorkflowTaskPolls":20}'),
// WRITE=1 (merges workflow_* keys into bench-results.json).
import { writeResults } from './common';
import { measureWorkflows, type WorkerTuning } from './workflows';

const env = (k: string): number | undefined => (process.env[k] ? Number(process.env[k]) : undefined);

let unhandled = 0;
process.on('unhandledRejection', (err) => {
  unhandled++;
  console.error('unhandled rejection:', err);
});

async function main(): Promise<void> {
  const started = Date.now();
  const tuning = process.env['TUNING'] ? (JSON.parse(process.env['TUNING']) as WorkerTuning) : undefined;
  const figures = await measureWorkflows({
    flows: env('FLOWS'),
    concurrency: env('CONCURRENCY'),
    historySample: env('HISTORY_SAMPLE'),
    exitSample: env('EXIT_SAMPLE'),
    ...(tuning ? { tuning } : {}),
    log: (l) => console.log(`[${Math.round((Date.now() - started) / 1000)} s] ${l}`),
  });
  console.log(JSON.stringify(figures, null, 2));
  if (process.env['WRITE'] === '1')
    writeResults({
      workflow_starts_per_s: figures.workflow_starts_per_s,
      workflow_schedule_to_start_ms: figures.schedule_to_start_ms,
      workflow_signal_to_exit_ms: figures.signal_to_exit_ms,
      workflow_history_events_per_flow: figures.history_events_per_flow,
      workflows_bench: { flows: figures.flows, concurrency: figures.concurrency },
    });
  if (unhandled > 0) throw new Error(`${unhandled} unhandled rejections`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
