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
  return createClient({
    connection: openEmbeddedConnection(cfg),
  } as Parameters<typeof createClient>[0]);
}

/**
 * A connection to the embedded database for createClient({ connection }). `init` runs on each new
 * chDB session before any call (the read-only client makes its session read-only there). Every call
 * states PER_CALL_SETTINGS unless `scopeSettings` is false (see there).
 *
 * chDB returns the output a failed query had already produced as the result of the NEXT query on
 * the same session (a query that fails mid-stream, or overflows max_result_rows, leaves its partial
 * rows behind: test/int/clickhouse-embedded.int.test.ts). So after any failed call the session is
 * replaced by a fresh one (the old one is closed once its calls in flight are done), and no query
 * ever sees another's rows.
 */
export function openEmbeddedConnection(
  cfg: Config['clickhouse'],
  opts: {
    init?: (session: ChdbConnection) => Promise<void>;
    /** Add PER_CALL_SETTINGS to every call (default); a read-only session may change no setting. */
    scopeSettings?: boolean;
  } = {},
): ChdbConnection {
  const { init, scopeSettings = true } = opts;
  mkdirSync(cfg.dataDir, { recursive: true });
  // Loaded lazily so a server deployment does not need the native addon.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createChdbConnection } = require('chdb/connection') as typeof import('chdb/connection');
  // every session opened and not closed yet: close() closes them all, whatever state they are in
  const open = new Set<ChdbConnection>();
  const closeSession = async (session: ChdbConnection): Promise<void> => {
    if (!open.delete(session)) return;
    await session.close();
  };
  const create = (): ChdbConnection => {
    try {
      const session = createChdbConnection({ path: cfg.dataDir });
      open.add(session);
      return session;
    } catch (err) {
      throw new ClickHouseUnavailableError(
        `cannot open embedded ClickHouse at ${cfg.dataDir}: ${(err as Error).message}. ` +
          'One process owns an embedded data directory: if the pipeline service (`npx shopstream serve`) is running, ' +
          'query through it (`npx shopstream query`), or set CLICKHOUSE_URL to use a ClickHouse server.',
        { cause: err },
      );
    }
  };
  // a session whose init failed is closed at once: nothing else holds it
  const ready = (session: ChdbConnection): Promise<ChdbConnection> =>
    init
      ? init(session).then(
          () => session,
          async (err: unknown) => {
            await closeSession(session).catch(() => undefined);
            throw err;
          },
        )
      : Promise.resolve(session);
  interface Session {
    session: Promise<ChdbConnection>;
    inFlight: number;
    retired: boolean;
  }
  const fresh = (session: Promise<ChdbConnection>): Session => ({ session, inFlight: 0, retired: false });
  // the first session opens now, so a locked data directory fails here and not at the first call
  let current = fresh(ready(create()));
  const closeWhenIdle = (c: Session): void => {
    if (c.retired && c.inFlight === 0) void c.session.then(closeSession).catch(() => undefined);
  };
  const call = async (method: string, params: unknown): Promise<unknown> => {
    const c = current;
    c.inFlight++;
    try {
      const session = await c.session;
      const fn = (session as unknown as Record<string, Method>)[method]!.bind(session);
      return await fn(scopeSettings && SCOPED.has(method) ? withPerCallSettings(params) : params);
    } catch (err) {
      if (current === c) {
        c.retired = true;
        const next = fresh(Promise.resolve().then(() => ready(create())));
        next.session.catch(() => undefined); // a failure to reopen is reported by the next call
        current = next;
      }
      throw err;
    } finally {
      c.inFlight--;
      closeWhenIdle(c);
    }
  };
  return new Proxy({} as ChdbConnection, {
    get(_target, prop) {
      if (prop === 'close')
        return async () => {
          current.retired = true;
          await current.session.catch(() => undefined); // one being opened is open before it is closed
          const errors: unknown[] = [];
          for (const session of [...open])
            await closeSession(session).catch((err: unknown) => errors.push(err));
          if (errors.length > 0) throw errors[0];
        };
      if (prop === 'connectionName') return 'chdb';
      return typeof prop === 'string' && CALLS.has(prop)
        ? (params?: unknown) => call(prop, params)
        : undefined;
    },
  });
}

type ChdbConnection = ReturnType<typeof import('chdb/connection').createChdbConnection>;

/**
 * chDB keeps a call's `clickhouse_settings` in its session, where a ClickHouse server scopes them to
 * that one query: after an insert with an `insert_deduplication_token`, a later plain insert carries
 * the same token and is silently dropped as a duplicate. Every call here therefore states the
 * settings we ever pass, so nothing carries over (test/int/clickhouse-embedded.int.test.ts).
 */
export const PER_CALL_SETTINGS = { insert_deduplication_token: '', max_execution_time: 0 } as const;

type Method = (params?: unknown) => Promise<unknown>;
const SCOPED = new Set(['query', 'insert', 'command', 'exec']);
const CALLS = new Set([...SCOPED, 'ping']);

function withPerCallSettings(params: unknown): unknown {
  const p = (params ?? {}) as { clickhouse_settings?: Record<string, unknown> };
  return { ...p, clickhouse_settings: { ...PER_CALL_SETTINGS, ...p.clickhouse_settings } };
}
