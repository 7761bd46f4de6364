// Report SQL lives in .sql files, one statement each, with ClickHouse query parameters `{name:Type}`
// for every value, the database included (`{db:Identifier}`): no SQL is built from strings. A file's
// `--` comment lines say what it answers; they are not sent. runQuery passes exactly the parameters a
// file names (a missing or extra one is a QueryParamsError before anything is sent).
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Sql } from '../infra/clickhouse/sql';

/** analytics/queries: the reports' SQL. */
export const QUERIES_DIR = path.join(__dirname, 'queries');

export interface Query {
  /** The file, from its stage's folder (`analytics/queries/events-by-type.sql`). */
  file: string;
  /** The statement as sent: the file without its comment lines. */
  text: string;
  /** Each parameter's name and ClickHouse type, as the statement names them. */
  params: ReadonlyMap<string, string>;
}

export class QueryParamsError extends Error {
  override readonly name = 'QueryParamsError';
  readonly code = 'QUERY_PARAMS';
}

const PLACEHOLDER = /\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*([^{}]+?)\s*\}/g;

/** The `{name:Type}` placeholders of a statement; a name used with two types is an error. */
export function queryParams(text: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const [, name, type] of text.matchAll(PLACEHOLDER)) {
    const seen = params.get(name!);
    if (seen !== undefined && seen !== type)
      throw new QueryParamsError(`parameter ${name} has two types: ${seen} and ${type}`);
    params.set(name!, type!);
  }
  return params;
}

/** Reads `<dir>/<name>.sql` (once, at load: a missing file fails at start, not in the middle of a run). */
export function loadQuery(dir: string, name: string): Query {
  const raw = readFileSync(path.join(dir, `${name}.sql`), 'utf8');
  const text = raw
    .split('\n')
    .filter((line) => !line.trim().startsWith('--'))
    .join('\n')
    .trim();
  const file = path.join(path.basename(path.dirname(dir)), path.basename(dir), `${name}.sql`);
  return { file, text, params: queryParams(text) };
}

/** Runs `q` with exactly the parameters it names. */
export async function runQuery<T = Record<string, unknown>>(
  sql: Sql,
  q: Query,
  params: Record<string, unknown>,
): Promise<T[]> {
  const given = Object.keys(params);
  const missing = [...q.params.keys()].filter((p) => !(p in params));
  const extra = given.filter((p) => !q.params.has(p));
  if (missing.length > 0 || extra.length > 0) {
    throw new QueryParamsError(
      `${q.file}: ${[
        missing.length > 0 ? `missing parameters ${missing.join(', ')}` : '',
        extra.length > 0 ? `parameters it does not name ${extra.join(', ')}` : '',
      ]
        .filter(Boolean)
        .join('; ')}`,
    );
  }
  return sql.query<T>(q.text, params);
}

/** Which events a report reads. */
export interface ReportScope {
  database: string;
  /** Only events from this producer (one simulator run); all events when empty. */
  producerId?: string;
}

/** The parameters of a query over the scope's events (producer '': every producer). */
export const scopeParams = (scope: ReportScope): { db: string; producer: string } => ({
  db: scope.database,
  producer: scope.producerId ?? '',
});

/** Numbers as ClickHouse's JSON may send them (64-bit ones as strings). */
export const num = (v: number | string | null | undefined): number => Number(v ?? 0);
