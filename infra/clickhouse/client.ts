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
  return createClient({ connection: withPerCallSettings(connection) } as Parameters<typeof createClient>[0]);
}

/**
 * chDB keeps a call's `clickhouse_settings` in its session, where a ClickHouse server scopes them to
 * that one query: after an insert with an `insert_deduplication_token`, a later plain insert carries
 * the same token and is silently dropped as a duplicate. Every call here therefore states the
 * settings we ever pass, so nothing carries over (test/int/clickhouse-embedded.int.test.ts).
 */
export const PER_CALL_SETTINGS = { insert_deduplication_token: '', max_execution_time: 0 } as const;

type Method = (params?: unknown) => Promise<unknown>;
const SCOPED = new Set(['query', 'insert', 'command', 'exec']);

function withPerCallSettings<C extends object>(connection: C): C {
  return new Proxy(connection, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      const method = (value as Method).bind(target); // its private fields need the real `this`
      if (typeof prop !== 'string' || !SCOPED.has(prop)) return method;
      return (params?: unknown) => {
        const p = (params ?? {}) as { clickhouse_settings?: Record<string, unknown> };
        return method({ ...p, clickhouse_settings: { ...PER_CALL_SETTINGS, ...p.clickhouse_settings } });
      };
    },
  });
}
