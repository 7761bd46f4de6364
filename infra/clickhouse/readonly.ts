// The analysts' SQL path (`shopstream query`, the admin endpoint's POST /v1/sql): read-only at the
// engine, not by a regex.
//
// - Embedded chDB: a second session on the same data directory, made read-only once at open
//   (`SET readonly = 1` after the limits). The engine then refuses writes, DDL, table functions that
//   reach outside (file, url, s3, remote, executable...) and any change of settings, including the
//   limits and `readonly` itself; the pipeline's own session (the sink's inserts) is not affected.
// - A ClickHouse server: the read-only user CLICKHOUSE_READ_USER when set (its profile carries
//   readonly = 1 and the limits, see the README), otherwise the configured user with readonly = 1 and
//   the limits sent with every query (over HTTP they apply to that query only and cannot be undone
//   from inside it).
//
// One thing the engine does not refuse: chDB runs `INTO OUTFILE` in-process even when read-only. So a
// statement is also checked here before it is sent (checkReadOnlySql): one statement, of a reading
// kind, without INTO OUTFILE or a SETTINGS clause, with a clear message when it is refused.
import { createClient, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client';
import type { Config } from '../config';
import { isEmbedded, openEmbeddedConnection } from './client';

/** Bounds on one analyst query. */
export const READ_LIMITS: ClickHouseSettings = {
  /** seconds */
  max_execution_time: 60,
  /** bytes of memory one query may use */
  max_memory_usage: String(2 * 1024 ** 3),
  max_result_rows: '100000',
  /** bytes */
  max_result_bytes: String(256 * 1024 * 1024),
  result_overflow_mode: 'throw',
};

export class ReadOnlySqlError extends Error {
  override readonly name = 'ReadOnlySqlError';
  readonly code = 'BAD_SQL';
}

const READING_STATEMENT = /^(SELECT|WITH|SHOW|DESCRIBE|DESC|EXISTS|EXPLAIN)$/i;

/**
 * The statement's words and punctuation outside string literals, quoted identifiers and comments,
 * upper-cased. An unterminated literal or comment throws. Where in doubt it reads less as a comment
 * than ClickHouse does (no `#` comments, a block comment ends at the first close), so nothing the
 * engine would run is hidden from the checks.
 */
export function sqlTokens(sql: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < sql.length && sql[j] !== c) j += sql[j] === '\\' ? 2 : 1;
      if (j >= sql.length) throw new ReadOnlySqlError(`unterminated ${c} quote`);
      out.push(c === "'" ? "'…'" : 'IDENT');
      i = j + 1;
    } else if (sql.startsWith('--', i)) {
      const j = sql.indexOf('\n', i);
      i = j < 0 ? sql.length : j + 1;
    } else if (sql.startsWith('/*', i)) {
      const j = sql.indexOf('*/', i + 2);
      if (j < 0) throw new ReadOnlySqlError('unterminated /* comment');
      i = j + 2;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < sql.length && /[A-Za-z0-9_$]/.test(sql[j]!)) j++;
      out.push(sql.slice(i, j).toUpperCase());
      i = j;
    } else {
      out.push(c);
      i++;
    }
  }
  return out;
}

/** Throws ReadOnlySqlError saying why, unless `sql` is one reading statement the endpoint may run. */
export function checkReadOnlySql(sql: unknown): string {
  if (typeof sql !== 'string' || sql.trim() === '') throw new ReadOnlySqlError('sql must be a statement');
  if (sql.length > 100_000) throw new ReadOnlySqlError('sql is longer than 100,000 characters');
  const tokens = sqlTokens(sql);
  while (tokens[tokens.length - 1] === ';') tokens.pop();
  if (!READING_STATEMENT.test(tokens[0] ?? '')) {
    throw new ReadOnlySqlError(
      'only reading statements run here: SELECT, WITH, SHOW, DESCRIBE, EXISTS, EXPLAIN',
    );
  }
  if (tokens.includes(';')) throw new ReadOnlySqlError('one statement at a time: remove the ;');
  if (tokens.includes('OUTFILE')) throw new ReadOnlySqlError('INTO OUTFILE is not allowed');
  if (tokens.includes('SETTINGS')) {
    throw new ReadOnlySqlError('SETTINGS clauses are not allowed: the limits of this endpoint are fixed');
  }
  return sql;
}

/**
 * Throws ReadOnlySqlError unless `sql` is one statement without INTO OUTFILE: what a read-only chDB
 * session would not refuse by itself. Writes, DDL, SET and SETTINGS are left to the engine
 * (`readonly = 1`), which refuses them with its own READONLY error (the ClickHouse HTTP endpoint).
 */
export function checkEngineGaps(sql: string): string {
  if (sql.length > 100_000) throw new ReadOnlySqlError('sql is longer than 100,000 characters');
  const tokens = sqlTokens(sql);
  while (tokens[tokens.length - 1] === ';') tokens.pop();
  if (tokens.includes(';'))
    throw new ReadOnlySqlError('one statement at a time (multi-statements are not allowed)');
  if (tokens.includes('OUTFILE')) throw new ReadOnlySqlError('INTO OUTFILE is not allowed');
  return sql;
}

/** A ClickHouse client that can only read, with READ_LIMITS on every query. */
export async function openReadOnlyClickHouse(cfg: Config['clickhouse']): Promise<ClickHouseClient> {
  if (!isEmbedded(cfg)) {
    if (cfg.readUser) {
      return createClient({ url: cfg.url, username: cfg.readUser, password: cfg.readPassword });
    }
    return createClient({
      url: cfg.url,
      username: cfg.user,
      password: cfg.password,
      clickhouse_settings: { ...READ_LIMITS, readonly: '1' },
    });
  }
  // chDB keeps SET in its session: the limits first, then readonly, after which nothing can change.
  // Each new session (openEmbeddedConnection replaces one after a failed query) is made so again.
  const connection = openEmbeddedConnection(cfg, {
    scopeSettings: false,
    init: async (session) => {
      await session.command({
        query: 'SELECT 1',
        clickhouse_settings: { ...READ_LIMITS, readonly: '1' },
      } as Parameters<typeof session.command>[0]);
    },
  });
  const ch = createClient({ connection } as Parameters<typeof createClient>[0]);
  const ping = await ch.ping(); // the first session made read-only before anyone queries
  if (!ping.success) throw ping.error;
  return ch;
}
