// `make chaos`: the fault scenarios, each printing its figures; exits non-zero when one lost or doubled
// anything. EVENTS and KILLS size the process-kill scenario (default 100,000 events, 20 kills).
import { writeFileSync } from 'node:fs';
import { processKills } from './process-kills';

async function main(): Promise<void> {
  const events = Number(process.env['EVENTS'] ?? 100_000);
  const kills = Number(process.env['KILLS'] ?? 20);
  const figures = await processKills({ events, kills, log: (l) => console.log(`  ${l}`) });
  console.table(figures);
  writeFileSync('chaos-results.json', `${JSON.stringify({ process_kills: figures }, null, 2)}\n`);
  const ok =
    figures.stored === figures.sent &&
    figures.duplicated === 0 &&
    figures.botRepliesDoubled === 0 &&
    figures.profilesDiffering === 0;
  console.log(ok ? 'chaos: nothing lost, nothing doubled' : 'chaos: FAILED (see the figures above)');
  process.exitCode = ok ? 0 : 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
