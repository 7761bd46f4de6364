// The functions that take a process's time, from a V8 CPU profile (`node --cpu-prof`, as
// `CPU_PROFILE_DIR=dir npx tsx bench/pipeline-run.ts` writes one per service process): self time per
// function (file:line), the top N, and the share of time under each of our own top-level folders. The
// same .cpuprofile file opens as a flame graph in Chrome DevTools (Performance) or speedscope.
//   npx tsx bench/cpu-profile.ts <file.cpuprofile> [N]
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
}

const ROOT = path.resolve(__dirname, '..');

function where(url: string): string {
  const file = url.replace(/^file:\/\//, '');
  if (!file) return '(native)';
  const rel = path.relative(ROOT, file);
  return rel.startsWith('..') ? file : rel;
}

function main(): void {
  const [file, n = '25'] = process.argv.slice(2);
  if (!file) throw new Error('usage: npx tsx bench/cpu-profile.ts <file.cpuprofile> [N]');
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const total = profile.samples.length;
  const self = new Map<string, number>();
  const byArea = new Map<string, number>();
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const at = where(url);
    const key = `${functionName || '(anonymous)'}  ${at}${url ? `:${lineNumber + 1}` : ''}`;
    self.set(key, (self.get(key) ?? 0) + hits);
    const area = at.startsWith('node_modules/')
      ? at
          .split('/')
          .slice(0, at.startsWith('node_modules/@') ? 3 : 2)
          .join('/')
      : at.startsWith('(') || at.startsWith('node:') || !at.includes('/')
        ? functionName.startsWith('(')
          ? functionName
          : '(node internals)'
        : at.split('/')[0]!;
    byArea.set(area, (byArea.get(area) ?? 0) + hits);
  }
  const pct = (h: number): string => `${((100 * h) / total).toFixed(1)}%`;
  console.log(`${file}: ${total} samples over ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s`);
  console.log('\nself time by area');
  for (const [area, h] of [...byArea].sort((a, b) => b[1] - a[1]).slice(0, 15))
    console.log(`  ${pct(h).padStart(6)}  ${area}`);
  console.log(`\ntop ${n} functions by self time`);
  for (const [fn, h] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(n)))
    console.log(`  ${pct(h).padStart(6)}  ${fn}`);
}

main();
