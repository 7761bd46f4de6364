// `make chaos`: the fault scenarios, each printing its figures; exits non-zero when one lost or doubled
// anything. EVENTS, KILLS and HOSTILE size the process-kill scenario (default 100,000 events, 20
// kills, and 10,000 hostile messages (chaos/hostile.ts) fuzzing the stream while the kills happen).
import { writeFileSync } from 'node:fs';
import { processKills } from './process-kills';

async function main(): Promise<void> {
  const events = Number(process.env['EVENTS'] ?? 100_000);
  const kills = Number(process.env['KILLS'] ?? 20);
  const hostile = Number(process.env['HOSTILE'] ?? Math.round(events / 10));
  const figures = await processKills({ events, kills, hostile, log: (l) => console.log(`  ${l}`) });
  console.table({ ...figures, hostile: undefined });
  console.table({ hostile: figures.hostile });
  writeFileSync('chaos-results.json', `${JSON.stringify({ process_kills: figures }, null, 2)}\n`);
  const ok =
    figures.stored === figures.sent &&
    figures.duplicated === 0 &&
    figures.botRepliesDoubled === 0 &&
    figures.profilesDiffering === 0 &&
    figures.hostile.stored === figures.hostile.good &&
    figures.hostile.deadLettered === figures.hostile.bad;
  console.log(ok ? 'chaos: nothing lost, nothing doubled' : 'chaos: FAILED (see the figures above)');
  process.exitCode = ok ? 0 : 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
