// Embedded ClickHouse for a test file: a temporary data directory and a unique database.
// (One process owns a data directory, and jest runs each file in its own worker process.)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createClickHouse, type ClickHouseClient } from '../clickhouse/client';
import { migrate } from '../../analytics/migrate';
import type { Config } from '../config';

export interface TestClickHouse {
  ch: ClickHouseClient;
  config: Config['clickhouse'];
  stop(): Promise<void>;
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}

export async function startTestClickHouse(
  opts: { migrate?: boolean; dataDir?: string } = {},
): Promise<TestClickHouse> {
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(tmpdir(), 'shopstream-ch-'));
  const config: Config['clickhouse'] = {
    url: '',
    user: 'default',
    password: '',
    readUser: '',
    readPassword: '',
    database: uniqueName('t'),
    dataDir,
  };
  const ch = createClickHouse(config);
  if (opts.migrate !== false) await migrate(ch, config.database);
  return {
    ch,
    config,
    async stop() {
      await ch.close();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Polls until `check` returns true, or fails with what it last saw. Never a fixed sleep. A `read()` that
 * throws (a JetStream API timeout, a server still starting) is not fatal: polling goes on until the
 * deadline, and the last error is reported as the last value if it is still failing then.
 */
export async function eventually<T>(
  read: () => Promise<T>,
  check: (v: T) => boolean,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: { ok: true; value: T } | { ok: false; error: unknown };
  for (;;) {
    try {
      last = { ok: true, value: await read() };
    } catch (error) {
      last = { ok: false, error };
    }
    if (last.ok && check(last.value)) return last.value;
    if (Date.now() > deadline) {
      const seen = last.ok
        ? `last value: ${JSON.stringify(last.value)}`
        : `last read failed: ${last.error instanceof Error ? last.error.message : String(last.error)}`;
      throw new Error(`condition not met within ${timeoutMs} ms; ${seen}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
