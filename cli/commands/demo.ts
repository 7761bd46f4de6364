// `make demo`: the local stack, the pipeline service, simulated shop traffic through the producer
// SDK, then a report read from ClickHouse. Ends with `events sent: N` and `events stored: N`.
import type { Config } from '../../infra/config';
import { sqlOverHttp } from '../../infra/clickhouse/sql';
import { ensureServiceRunning } from '../../infra/stack/service';
import { stackUp } from '../../infra/stack/stack';
import { buildReport, countStored, formatReport } from '../../demo/report';
import { summarizeDeadLetters } from '../../streams/dlq';
import { connectNats } from '../../streams/nats';
import { adminUrl } from '../sql';
import { profile } from './profile';
import { runSimulatorWithProgress } from './simulate';

const GARBAGE = 3;

export async function demo(config: Config, opts: Record<string, unknown>): Promise<number> {
  const users = Number(opts['users'] ?? 4000);
  const seed = Number(opts['seed'] ?? 42);
  const say = (line: string): void => console.log(`  ${line}`);

  console.log('1/4 local stack (NATS JetStream, Temporal)');
  await stackUp(config, say);
  console.log('2/4 pipeline service (ClickHouse sink, HTTP collector, admin)');
  await ensureServiceRunning(config, say);

  console.log(`3/4 simulated shop: ${users} users browsing, searching, carting, checking out, chatting`);
  const run = await runSimulatorWithProgress(config, { users, seed, garbage: GARBAGE });
  say(
    `sent ${run.sent} events in ${(run.durationMs / 1000).toFixed(1)} s (${Math.round(run.sent / (run.durationMs / 1000))}/s), ${run.failed} failed; plus ${GARBAGE} undecodable messages`,
  );

  console.log('4/4 waiting for every event to land in ClickHouse');
  const sql = sqlOverHttp(adminUrl(config));
  const scope = { database: config.clickhouse.database, producerId: run.producerId };
  const started = Date.now();
  let stored = await countStored(sql, scope);
  while (stored.unique < run.sent && Date.now() - started < 120_000) {
    await new Promise((r) => setTimeout(r, 250));
    stored = await countStored(sql, scope);
  }
  say(`stored ${stored.unique} events ${Date.now() - started} ms after the last send`);

  const report = await buildReport(sql, scope);
  const nc = await connectNats(config.nats, 'shopstream-demo');
  const dlq = await summarizeDeadLetters(await nc.jetstreamManager(), config.nats.prefix).finally(() =>
    nc.close(),
  );

  console.log('');
  console.log(formatReport(report));
  console.log('');
  console.log(
    `Dead letters in the stream (kept, with a reason; all runs): ${dlq.total}${
      Object.keys(dlq.byReason).length
        ? ` (${Object.entries(dlq.byReason)
            .map(([r, c]) => `${r}: ${c}`)
            .join(', ')})`
        : ''
    }; see npx shopstream dlq list`,
  );
  // one shopper's live profile: interests, tags, tier and recommendations with their reasons
  const [busiest] = await sql.query<{ user_id: string }>(
    `SELECT user_id FROM ${config.clickhouse.database}.events WHERE producer_id = {p:String} AND user_id != '' GROUP BY user_id ORDER BY count() DESC, user_id LIMIT 1`,
    { p: run.producerId },
  );
  if (busiest) {
    console.log('');
    console.log(`Interest profile of the busiest shopper (npx shopstream profile ${busiest.user_id}):`);
    await profile(config, { userId: busiest.user_id, shop: 'demo-shop', k: 5 });
  }
  console.log('');
  console.log('The stack is still running. Explore:');
  console.log(
    `  npx shopstream query "SELECT event_type, count() FROM ${config.clickhouse.database}.events FINAL GROUP BY event_type"`,
  );
  console.log(
    '  npx shopstream report | npx shopstream dlq list | npx shopstream profile <userId> | npx shopstream stack status',
  );
  console.log(
    `  metrics: ${adminUrl(config)}/metrics   collector: http://${config.collector.host}:${config.collector.port}/v1/events`,
  );
  console.log(`  Temporal UI: http://127.0.0.1:${config.stack.temporalUiPort}`);
  console.log('Stop everything with: make down');
  console.log('');
  console.log(`events sent: ${run.sent}`);
  console.log(`events stored: ${stored.rows}`);
  return run.sent === stored.rows && run.failed === 0 ? 0 : 1;
}
