// A ClickHouse-compatible HTTP endpoint for the embedded database, so analysts point the tools they
// already use (clickhouse-connect, @clickhouse/client, DBeaver, Grafana's ClickHouse source) at it.
// The subset clients use: `query` in the URL and/or the body, `default_format` or a FORMAT clause,
// `param_<name>` query parameters, `database` (or X-ClickHouse-Database), credentials by basic auth,
// X-ClickHouse-User / X-ClickHouse-Key or `user` / `password`, `/ping`. Other URL settings are ignored:
// the limits are the endpoint's.
//
// Every query runs on the read-only session (infra/clickhouse/readonly.ts: `readonly = 1` at the
// engine, with bounds on time, memory and result size): the engine refuses writes, DDL and setting
// changes. Only what it would let through is checked here: one statement, no INTO OUTFILE (chDB
// writes the file even read-only). Queries run one at a time on that session,
// a few more wait, the rest are told to retry (503). Errors are ClickHouse's own shape:
// `Code: N. DB::Exception: message. (NAME)` with X-ClickHouse-Exception-Code.
import { randomUUID } from 'node:crypto';
import type { DataFormat } from '@clickhouse/client';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { ClickHouseClient } from '../infra/clickhouse/client';
import { checkEngineGaps, ReadOnlySqlError } from '../infra/clickhouse/readonly';
import { sameSecret } from './admin';

export interface ClickHouseHttpDeps {
  /** The read-only client (openReadOnlyClickHouse) of the embedded database. */
  readOnlyCh: ClickHouseClient;
  /** The database unqualified names resolve in when the request names none. */
  database: string;
  user: string;
  /** '' refuses every query (the endpoint needs a configured password). */
  password: string;
  /** Queries waiting for the session beyond the one running; more are refused with 503. */
  maxQueued?: number;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const FORMAT_NAME = /^[A-Za-z][A-Za-z0-9]*$/;

class HttpQueryError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

const contentTypeOf = (format: string): string =>
  /^JSONEachRow|^JSONLines|^NDJSON/i.test(format)
    ? 'application/x-ndjson; charset=UTF-8'
    : /^JSON/i.test(format)
      ? 'application/json; charset=UTF-8'
      : /^CSV/i.test(format)
        ? 'text/csv; charset=UTF-8'
        : /^(TabSeparated|TSV)/i.test(format)
          ? 'text/tab-separated-values; charset=UTF-8'
          : /^(Pretty|Vertical|Markdown)/i.test(format)
            ? 'text/plain; charset=UTF-8'
            : 'application/octet-stream';

function credentials(req: FastifyRequest, url: URLSearchParams): { user: string; key: string } {
  const auth = req.headers.authorization ?? '';
  if (/^basic\s+/i.test(auth)) {
    const decoded = Buffer.from(auth.replace(/^basic\s+/i, ''), 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    return { user: i < 0 ? decoded : decoded.slice(0, i), key: i < 0 ? '' : decoded.slice(i + 1) };
  }
  const header = (name: string): string => {
    const v = req.headers[name];
    return Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
  };
  return {
    user: header('x-clickhouse-user') || url.get('user') || '',
    key: header('x-clickhouse-key') || url.get('password') || '',
  };
}

export function buildClickHouseHttp(deps: ClickHouseHttpDeps): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024, requestTimeout: 120_000 });
  const maxQueued = deps.maxQueued ?? 16;
  let tail: Promise<unknown> = Promise.resolve();
  let waiting = 0;

  // Any body is the query text (clients send text/plain, or no content type at all).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  const fail = (reply: FastifyReply, e: HttpQueryError): FastifyReply =>
    reply
      .code(e.status)
      .header('x-clickhouse-exception-code', String(e.code))
      .header('content-type', 'text/plain; charset=UTF-8')
      .send(`Code: ${e.code}. DB::Exception: ${e.message}. (${e.type})\n`);

  const ping = async (_req: FastifyRequest, reply: FastifyReply): Promise<string> => {
    reply.header('content-type', 'text/plain; charset=UTF-8');
    return 'Ok.\n';
  };
  app.get('/ping', ping);

  const handle = async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const url = new URL(req.url, 'http://endpoint').searchParams;
    const body = typeof req.body === 'string' ? req.body : '';
    const sql = [url.get('query') ?? '', body].filter((s) => s.trim() !== '').join('\n');
    if (sql === '' && req.method === 'GET') return ping(req, reply);
    try {
      const { user, key } = credentials(req, url);
      if (deps.password === '' || user !== deps.user || !sameSecret(key, deps.password))
        throw new HttpQueryError(
          401,
          516,
          'AUTHENTICATION_FAILED',
          `${user || 'default'}: Authentication failed: password is incorrect, or there is no user with such name`,
        );
      if (sql === '') throw new HttpQueryError(400, 62, 'SYNTAX_ERROR', 'Empty query');
      try {
        checkEngineGaps(sql);
      } catch (err) {
        if (err instanceof ReadOnlySqlError)
          throw new HttpQueryError(400, 62, 'SYNTAX_ERROR', `Not allowed here: ${err.message}`);
        throw err;
      }
      const database =
        url.get('database') || String(req.headers['x-clickhouse-database'] ?? '') || deps.database;
      if (!IDENTIFIER.test(database))
        throw new HttpQueryError(
          400,
          81,
          'UNKNOWN_DATABASE',
          `Database name is not an identifier: ${database}`,
        );
      const format =
        url.get('default_format') || String(req.headers['x-clickhouse-format'] ?? '') || 'TabSeparated';
      if (!FORMAT_NAME.test(format))
        throw new HttpQueryError(400, 73, 'UNKNOWN_FORMAT', `Unknown format ${format}`);
      const params: Record<string, string> = {};
      for (const [k, v] of url) if (k.startsWith('param_') && k.length > 6) params[k.slice(6)] = v;
      if (waiting >= maxQueued)
        throw new HttpQueryError(
          503,
          202,
          'TOO_MANY_SIMULTANEOUS_QUERIES',
          `Too many simultaneous queries (${maxQueued} waiting): retry shortly`,
        );
      const queryId = url.get('query_id') || randomUUID();
      waiting++;
      const run = tail.then(async () => {
        const res = await deps.readOnlyCh.exec({
          // the session's database for this statement only: every query names its own
          query: `USE \`${database}\`; ${sql}`,
          query_params: params,
          query_id: queryId,
          clickhouse_settings: { default_format: format as DataFormat },
        });
        const chunks: Buffer[] = [];
        for await (const chunk of res.stream) chunks.push(Buffer.from(chunk as Uint8Array));
        return Buffer.concat(chunks);
      });
      tail = run.catch(() => undefined);
      let out: Buffer;
      try {
        out = await run;
      } finally {
        waiting--;
      }
      const explicit = /\bFORMAT\s+([A-Za-z][A-Za-z0-9]*)\s*;?\s*$/i.exec(sql)?.[1];
      return reply
        .header('content-type', contentTypeOf(explicit ?? format))
        .header('x-clickhouse-format', explicit ?? format)
        .header('x-clickhouse-query-id', queryId)
        .header('x-clickhouse-timezone', 'UTC')
        .header('x-clickhouse-server-display-name', 'shopstream')
        .header('x-clickhouse-summary', JSON.stringify({ read_rows: '0', result_bytes: String(out.length) }))
        .send(out);
    } catch (err) {
      if (err instanceof HttpQueryError) return fail(reply, err);
      // the engine's error (a ClickHouseError, perhaps of another copy of the client library)
      const e = err as { message?: string; code?: unknown; type?: unknown };
      const type = typeof e.type === 'string' && /^[A-Z_]+$/.test(e.type) ? e.type : 'STD_EXCEPTION';
      const code = Number(e.code) > 0 ? Number(e.code) : 1001;
      const message = String(e.message ?? err)
        .replace(/^Code: \d+\. DB::Exception: /, '')
        .replace(/\s*\([A-Z_]+\)[^]*$/, '')
        .replace(/[.\s]+$/, '');
      return fail(
        reply,
        new HttpQueryError(type === 'READONLY' || type === 'ACCESS_DENIED' ? 403 : 400, code, type, message),
      );
    }
  };
  app.get('/', handle);
  app.post('/', handle);
  return app;
}
