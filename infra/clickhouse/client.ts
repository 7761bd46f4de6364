// One ClickHouse client for the whole project: embedded chDB (in this process, data under .data/) by
// default, a ClickHouse server when CLICKHOUSE_URL is set. The same @clickhouse/client API either way.
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { mkdirSync } from 'node:fs';
import type { Config } from '../config';

export type { ClickHouseClient };

export class ClickHouseUnavailableError extends Error {
  override readonly name = 'ClickHouseUnavailableError';
  readonly code = 'CLICKHOUSE_UNAVAILABLE';
}

export function isEmbedded(cfg: Config['clickhouse']): boolean {
  return cfg.url === '';
}

export function createClickHouse(cfg: Config['clickhouse']): ClickHouseClient {
  if (!isEmbedded(cfg)) {
    return createClient({
      url: cfg.url,
      username: cfg.user,
      password: cfg.password,
      request_timeout: 60_000,
      clickhouse_settings: { date_time_input_format: 'best_effort' },
    });
  }
  mkdirSync(cfg.dataDir, { recursive: true });
  // Loaded lazily so a server deployment does not need the native addon.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createChdbConnection } = require('chdb/connection') as typeof import('chdb/connection');
  let connection;
  try {
    connection = createChdbConnection({ path: cfg.dataDir });
  } catch (err) {
    const msg = (err as Error).message;
    throw new ClickHouseUnavailableError(
      `cannot open embedded ClickHouse at ${cfg.dataDir}: ${msg}. ` +
        'One process owns an embedded data directory: if the pipeline service (`npx shopstream serve`) is running, ' +
        'query through it (`npx shopstream query`), or set CLICKHOUSE_URL to use a ClickHouse server.',
      { cause: err },
    );
  }
  return createClient({ connection } as Parameters<typeof createClient>[0]);
}
