// A regression guard on the quality bar of issue 3, on fewer simulated shoppers than
// `make bench-quality`: top long-term category right for >= 90% of shoppers with 20+ events, and
// precision@10 at least twice the most-popular baseline.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = path.join(__dirname, '../..');

it('meets the quality bar on simulated shoppers with hidden preferences', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'shopstream-quality-'));
  try {
    const out = path.join(dir, 'quality.json');
    await run(
      process.execPath,
      [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), path.join(ROOT, 'bench/quality.ts')],
      {
        env: { ...process.env, QUALITY_USERS: '1200', QUALITY_SEED: '11', QUALITY_OUT: out },
      },
    );
    const r = JSON.parse(readFileSync(out, 'utf8')) as {
      top_category_match: number;
      precision_at_10: number;
      popularity_precision_at_10: number;
    };
    expect(r.top_category_match).toBeGreaterThanOrEqual(0.9);
    expect(r.precision_at_10).toBeGreaterThanOrEqual(2 * r.popularity_precision_at_10);
    expect(r.popularity_precision_at_10).toBeGreaterThan(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
