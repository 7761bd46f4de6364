// `make bench`: one run that sets the pipeline next to the machine's own limits, each part measured
// alone, one after another, on throwaway servers (nothing of the local stack is used):
//   1. limits       raw JetStream publish and consume, KV compare-and-set, ClickHouse insert (limits.ts)
//   2. pipeline     the service process at full speed with 100,000 users, then at 2,000 events/s:
//                   publish -> interest vector and -> queryable in ClickHouse; its memory (pipeline.ts)
//   3. scale-out    the same full-speed phase with two service processes sharing the partitions
//   4. conversations chat first response and handoff -> escalation started, with the clickstream at
//                   2,000 events/s and the marketing flows it starts running (conversations.ts)
//   5. workflows    cart-recovery starts through signal-with-start, first workflow task's
//                   schedule-to-start, signal -> exit (workflows.ts)
// Prints a table (figure, target, met) and writes bench-results.json (the fields BENCHMARKS.md reads;
// other keys kept). QUICK=1 runs every part small (a smoke test, not figures).
import { cpus, totalmem } from 'node:os';
import { writeResults } from './common';
import { measureConversations } from './conversations';
import { measureLimits } from './limits';
import { measurePipeline } from './pipeline';
import { measureWorkflows } from './workflows';

interface Target {
  figure: string;
  value: number;
  target: string;
  met: boolean;
}

const log = (line: string): void => console.log(`  ${line}`);
const round = (n: number): number => Math.round(n * 10) / 10;

async function main(): Promise<void> {
  const quick = process.env['QUICK'] === '1';
  const started = Date.now();
  const step = (n: number, what: string): void =>
    console.log(`${n}/5 ${what} (${Math.round((Date.now() - started) / 1000)} s)`);

  step(1, 'limits: raw JetStream publish and consume, KV CAS, ClickHouse insert');
  const limits = await measureLimits({ events: quick ? 5000 : 30_000, log });

  step(2, 'pipeline: one service process, full speed with 100,000 users, then 2,000 events/s');
  const one = await measurePipeline(quick ? { users: 3000, seconds: 5, log } : { log });

  step(3, 'scale-out: two service processes sharing the partitions, full speed');
  const two = await measurePipeline(
    quick ? { users: 3000, seconds: 3, instances: 2, log } : { instances: 2, seconds: 5, log },
  );

  step(4, 'conversations: chats and handoffs during the clickstream');
  const chat = await measureConversations(
    quick ? { conversations: 50, seconds: 10, rate: 500, log } : { log },
  );

  step(5, 'workflows: cart-recovery starts, first task, signal to exit');
  const flows = await measureWorkflows(quick ? { flows: 200, log } : { log });

  const rss_mb: Record<string, number> = { ...one.rss_mb };
  for (const [k, v] of Object.entries(two.rss_mb)) rss_mb[`two_instances_${k}`] = v;
  const results = {
    raw_publish_per_s: limits.raw_publish_per_s,
    raw_consume_per_s: limits.raw_consume_per_s,
    kv_cas_updates_per_s: limits.kv_cas_updates_per_s,
    clickhouse_insert_rows_per_s: limits.clickhouse_insert_rows_per_s,
    pipeline_events_per_s: one.pipeline_events_per_s,
    pipeline_events_per_s_two_instances: two.pipeline_events_per_s,
    event_to_vector_ms: one.event_to_vector_ms,
    event_to_clickhouse_ms: one.event_to_clickhouse_ms,
    chat_reply_ms: chat.chat_reply_ms,
    handoff_to_escalation_ms: chat.handoff_to_escalation_ms,
    workflow_starts_per_s: flows.workflow_starts_per_s,
    schedule_to_start_ms: flows.schedule_to_start_ms,
    signal_to_exit_ms: flows.signal_to_exit_ms,
    rss_mb,
  };
  const targets: Target[] = [
    {
      figure: 'pipeline_events_per_s',
      value: results.pipeline_events_per_s,
      target: `>= 70% of raw publish (${Math.round(0.7 * results.raw_publish_per_s)}) and >= 10,000`,
      met: results.pipeline_events_per_s >= Math.max(10_000, 0.7 * results.raw_publish_per_s),
    },
    {
      figure: 'event_to_vector_ms p99',
      value: results.event_to_vector_ms.p99,
      target: '< 50 at 2,000/s',
      met: results.event_to_vector_ms.p99 < 50,
    },
    {
      figure: 'event_to_clickhouse_ms p95',
      value: results.event_to_clickhouse_ms.p95,
      target: '< 2,000 at 2,000/s',
      met: results.event_to_clickhouse_ms.p95 < 2000,
    },
    {
      figure: 'chat_reply_ms p99',
      value: results.chat_reply_ms.p99,
      target: '< 300 during the clickstream',
      met: results.chat_reply_ms.p99 < 300,
    },
    {
      figure: 'handoff_to_escalation_ms p99',
      value: results.handoff_to_escalation_ms.p99,
      target: `< 1,000 with ${chat.marketing_flows} marketing flows`,
      met: results.handoff_to_escalation_ms.p99 < 1000,
    },
    {
      figure: 'workflow_starts_per_s',
      value: results.workflow_starts_per_s,
      target: '>= 50',
      met: results.workflow_starts_per_s >= 50,
    },
    {
      figure: 'schedule_to_start_ms p99',
      value: results.schedule_to_start_ms.p99,
      target: '< 1,000',
      met: results.schedule_to_start_ms.p99 < 1000,
    },
    ...Object.entries(one.rss_mb).map(([process, mb]) => ({
      figure: `rss_mb ${process} (100,000 users)`,
      value: mb,
      target: '< 300',
      met: mb < 300,
    })),
  ];
  console.log('\nlimits (same client, messages, stream, bucket and table as the pipeline)');
  console.table({
    raw_publish_per_s: results.raw_publish_per_s,
    raw_consume_per_s: results.raw_consume_per_s,
    kv_cas_updates_per_s: results.kv_cas_updates_per_s,
    clickhouse_insert_rows_per_s: results.clickhouse_insert_rows_per_s,
  });
  console.log('figures against the targets');
  console.table(targets.map((t) => ({ ...t, value: round(t.value), met: t.met ? 'yes' : 'NO' })));
  console.log(
    `scale-out: ${Math.round(one.pipeline_events_per_s)} events/s with one service process, ${Math.round(two.pipeline_events_per_s)} with two`,
  );
  const took_s = Math.round((Date.now() - started) / 1000);
  writeResults({
    ...results,
    targets: Object.fromEntries(
      targets.map((t) => [t.figure, { value: t.value, target: t.target, met: t.met }]),
    ),
    machine: `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`,
    ran_at: new Date().toISOString(),
    took_s,
    quick,
    detail: { limits, pipeline: one, two_instances: two, conversations: chat, workflows: flows },
  });
  console.log(`bench-results.json written (${took_s} s in all)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
