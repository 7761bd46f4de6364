// What the benchmarks share: the simulated shop's events, and bench-results.json (each benchmark
// writes its own keys and keeps the others').
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { planSimulation } from '../demo/simulator';

export const RESULTS_FILE = 'bench-results.json';

/** The simulator's journeys, flattened, cut to `total` events. */
export function simulatedEvents(total: number, seed: number) {
  const events = [];
  for (const u of planSimulation({ users: Math.ceil(total / 9), seed })) events.push(...u.events);
  events.length = Math.min(events.length, total);
  return events;
}

/** Merges `results` into bench-results.json. */
export function writeResults(results: Record<string, unknown>): void {
  const before = existsSync(RESULTS_FILE)
    ? (JSON.parse(readFileSync(RESULTS_FILE, 'utf8')) as Record<string, unknown>)
    : {};
  writeFileSync(RESULTS_FILE, `${JSON.stringify({ ...before, ...results }, null, 2)}\n`);
}
