// `make chaos`: the fault scenarios, each printing its figures; exits non-zero when one lost or doubled
// anything. EVENTS, KILLS, HOSTILE and FUZZ_EVENTS size the process-kill scenario (default 100,000
// events, 20 kills of the service, flow worker and chat worker, 10,000 hostile messages
// (chaos/hostile.ts) on the stream and 20,000 events of `make fuzz` posted to the collector while the
// kills happen); TEMPORAL_EVENTS Temporal killed for 20 s while flows wait on timers (10,000);
// CLUSTER_EVENTS the NATS ones (20,000: a 3-node cluster losing the stream leader, then
// restarted whole; a second site taking over); CH_EVENTS the ClickHouse ones (20,000: inserts refused
// for a minute; inserts slower than the ack wait: no redelivery storm). SCENARIOS picks some by name (comma-separated).
import { writeFileSync } from 'node:fs';
import {
  clickhouseOutage,
  clickhouseOutageProblems,
  slowClickHouse,
  slowClickHouseProblems,
} from './clickhouse-outage';
import { natsNodeLost, natsNodeLostProblems } from './nats-node-lost';
import { processKills, processKillsProblems } from './process-kills';
import { secondSite, secondSiteProblems } from './second-site';
import { temporalRestart, temporalRestartProblems } from './temporal-restart';

interface Scenario {
  name: string;
  run(log: (line: string) => void): Promise<object>;
  problems(figures: object): string[];
}

const num = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);

const scenarios: Scenario[] = [
  {
    name: 'process-kills',
    run: (log) => {
      const events = num('EVENTS', 100_000);
      return processKills({
        events,
        kills: num('KILLS', 20),
        hostile: num('HOSTILE', Math.round(events / 10)),
        collectorFuzz: num('FUZZ_EVENTS', Math.round(events / 5)),
        flows: true,
        log,
      });
    },
    problems: (f) => processKillsProblems(f as Awaited<ReturnType<typeof processKills>>),
  },
  {
    name: 'temporal-restart',
    run: (log) => temporalRestart({ events: num('TEMPORAL_EVENTS', 10_000), log }),
    problems: (f) => temporalRestartProblems(f as Awaited<ReturnType<typeof temporalRestart>>),
  },
  {
    name: 'clickhouse-outage',
    run: (log) => clickhouseOutage({ events: num('CH_EVENTS', 20_000), outageMs: 60_000, log }),
    problems: (f) => clickhouseOutageProblems(f as Awaited<ReturnType<typeof clickhouseOutage>>),
  },
  {
    name: 'slow-clickhouse',
    run: (log) => slowClickHouse({ events: num('CH_EVENTS', 20_000), insertSeconds: 2.5, log }),
    problems: (f) => slowClickHouseProblems(f as Awaited<ReturnType<typeof slowClickHouse>>),
  },
  {
    name: 'nats-node-lost',
    run: (log) => natsNodeLost({ events: num('CLUSTER_EVENTS', 20_000), wipe: true, log }),
    problems: (f) => natsNodeLostProblems(f as Awaited<ReturnType<typeof natsNodeLost>>),
  },
  {
    name: 'second-site',
    run: (log) => secondSite({ events: num('CLUSTER_EVENTS', 20_000), log }),
    problems: (f) => secondSiteProblems(f as Awaited<ReturnType<typeof secondSite>>),
  },
];

async function main(): Promise<void> {
  const only = process.env['SCENARIOS']?.split(',').map((s) => s.trim());
  const results: Record<string, object> = {};
  const failed: string[] = [];
  for (const s of scenarios.filter((x) => !only || only.includes(x.name))) {
    console.log(`\n== ${s.name}`);
    const figures = await s.run((l) => console.log(`  ${l}`));
    results[s.name] = figures;
    console.log(JSON.stringify(figures, null, 2));
    const problems = s.problems(figures);
    for (const p of problems) console.log(`  FAILED: ${p}`);
    console.log(problems.length === 0 ? `  ${s.name}: nothing lost, nothing doubled` : '');
    if (problems.length > 0) failed.push(s.name);
    writeFileSync('chaos-results.json', `${JSON.stringify(results, null, 2)}\n`);
  }
  console.log(
    failed.length === 0 ? '\nchaos: every scenario passed' : `\nchaos: FAILED: ${failed.join(', ')}`,
  );
  process.exitCode = failed.length === 0 ? 0 : 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
