// The ClickHouse-compatible read-only endpoint (streams/clickhouse-http.ts) on the embedded database,
// queried by real third-party clients: @clickhouse/client and clickhouse-connect (Python, installed
// into .tools/venv by `make install`). Reads work with parameters and formats; every write, DDL,
// setting change and multi-statement trick is refused by the engine or the endpoint; limits hold.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import type { FastifyInstance } from 'fastify';
import { openReadOnlyClickHouse } from '../../infra/clickhouse/readonly';
import { loadConfig } from '../../infra/config';
import { getFreePort } from '../../infra/stack/processes';
import { startTestClickHouse, type TestClickHouse } from '../../infra/stack/test-clickhouse';
import { venvPython } from '../../infra/stack/tools';
import { buildClickHouseHttp } from '../../streams/clickhouse-http';
import { eventRows, product } from '../helpers/event-rows';

let chs: TestClickHouse;
let ro: ClickHouseClient;
let app: FastifyInstance;
let url: string;
let client: ClickHouseClient;
const PASSWORD = 'analyst-secret-for-this-test';

beforeAll(async () => {
  chs = await startTestClickHouse();
  const ev = eventRows(Date.UTC(2026, 10, 24, 12));
  const rows = [1, 2, 3].map((i) =>
    ev('product_viewed', i, `u${i}`, { product: product(`SKU-${i}`, 1000 * i), currency: 'USD' }),
  );
  await chs.ch.insert({ table: `${chs.config.database}.events`, values: rows, format: 'JSONEachRow' });
  ro = await openReadOnlyClickHouse(chs.config);
  app = buildClickHouseHttp({
    readOnlyCh: ro,
    database: chs.config.database,
    user: 'analyst',
    password: PASSWORD,
  });
  const port = await getFreePort();
  await app.listen({ host: '127.0.0.1', port });
  url = `http://127.0.0.1:${port}`;
  client = createClient({ url, username: 'analyst', password: PASSWORD });
}, 60_000);

afterAll(async () => {
  // each closed whatever happens to the others: a session left open would fail the next test file
  // of this worker (one embedded data directory per process)
  for (const close of [() => client?.close(), () => app?.close(), () => ro?.close(), () => chs?.stop()])
    await Promise.resolve()
      .then(close)
      .catch(() => undefined);
});

const eventCount = async (): Promise<number> => {
  const rs = await chs.ch.query({
    query: `SELECT count() AS n FROM ${chs.config.database}.events`,
    format: 'JSONEachRow',
  });
  return Number((await rs.json<{ n: string }>())[0]!.n);
};

const WRITES = [
  `INSERT INTO events (event_id) VALUES ('x')`,
  'DROP TABLE events',
  'TRUNCATE TABLE events',
  'SET readonly = 0',
  'SELECT count() FROM events SETTINGS readonly = 0',
  'SELECT 1; DROP TABLE events',
  "SELECT * FROM file('/etc/passwd')",
  "SELECT 1 INTO OUTFILE '/tmp/shopstream-endpoint-test.txt'",
];

it('@clickhouse/client: a SELECT with a parameter, in the configured database by default', async () => {
  const rs = await client.query({
    query:
      'SELECT count() AS n, sum(price_minor) AS minor, {k:UInt32} + 2 AS answer, currentDatabase() AS db FROM events',
    query_params: { k: 40 },
    format: 'JSONEachRow',
  });
  const [row] = await rs.json<{ n: unknown; minor: unknown; answer: unknown; db: string }>();
  expect({ ...row, n: Number(row!.n), minor: Number(row!.minor) }).toEqual({
    n: 3,
    minor: 6000,
    answer: 42,
    db: chs.config.database,
  });
  expect((await client.ping()).success).toBe(true);
});

it('@clickhouse/client: every write, DDL, setting change and multi-statement is refused, and nothing changed', async () => {
  for (const query of WRITES) {
    const err = await client.command({ query }).then(
      () => undefined,
      (e: Error & { code?: string; type?: string }) => e,
    );
    expect({ query, refused: err !== undefined }).toEqual({ query, refused: true });
    expect(err!.type).toMatch(/^(READONLY|SYNTAX_ERROR|ACCESS_DENIED|UNKNOWN_TABLE)$/);
  }
  expect(await eventCount()).toBe(3);
  expect(existsSync('/tmp/shopstream-endpoint-test.txt')).toBe(false);
});

it('speaks the HTTP interface: query in the URL or body, default_format, FORMAT, database, headers, /ping', async () => {
  const headers = { 'x-clickhouse-user': 'analyst', 'x-clickhouse-key': PASSWORD };
  const get = await fetch(
    `${url}/?query=${encodeURIComponent('SELECT 1 AS one, {s:String} AS s')}&param_s=hi&default_format=CSVWithNames`,
    { headers },
  );
  expect(get.status).toBe(200);
  expect(get.headers.get('content-type')).toMatch(/text\/csv/);
  expect(await get.text()).toBe('"one","s"\n1,"hi"\n');
  const post = await fetch(`${url}/?database=system`, {
    method: 'POST',
    headers,
    body: 'SELECT currentDatabase() FORMAT TabSeparated',
  });
  expect(await post.text()).toBe('system\n');
  const basic = await fetch(`${url}/?query=SELECT%2042`, {
    headers: { authorization: `Basic ${Buffer.from(`analyst:${PASSWORD}`).toString('base64')}` },
  });
  expect(await basic.text()).toBe('42\n'); // TabSeparated by default
  expect(await (await fetch(`${url}/ping`)).text()).toBe('Ok.\n');
  const bad = await fetch(`${url}/?query=SELECT%201`, {
    headers: { ...headers, 'x-clickhouse-key': 'wrong' },
  });
  expect(bad.status).toBe(401);
  expect(bad.headers.get('x-clickhouse-exception-code')).toBe('516');
  expect(await bad.text()).toMatch(
    /^Code: 516\. DB::Exception: analyst: Authentication failed.*\(AUTHENTICATION_FAILED\)\n$/,
  );
  const badDb = await fetch(`${url}/?query=SELECT%201&database=no-such`, { headers });
  expect(await badDb.text()).toMatch(/^Code: 81\..*\(UNKNOWN_DATABASE\)/);
});

it('bounds results: more rows than the limit is an error, not a flood', async () => {
  const err = await client
    .query({ query: 'SELECT number FROM numbers(1000000)', format: 'JSONEachRow' })
    .then((rs) => rs.json())
    .then(
      () => undefined,
      (e: Error & { type?: string }) => e,
    );
  expect(err?.type).toBe('TOO_MANY_ROWS_OR_BYTES');
});

it('clickhouse-connect (Python): a SELECT with a parameter works, writes are refused', async () => {
  const python = venvPython(loadConfig().stack);
  const script = `
import json, sys, clickhouse_connect
c = clickhouse_connect.get_client(host='127.0.0.1', port=int(sys.argv[1]), username='analyst', password=sys.argv[2])
out = {'rows': c.query('SELECT count() AS n, {k:UInt32} + 2 AS answer FROM events', parameters={'k': 40}).result_rows}
out['refused'] = {}
for q in json.loads(sys.argv[3]):
    try:
        c.command(q)
        out['refused'][q] = False
    except Exception as e:
        out['refused'][q] = str(e).split('server response: ')[-1][:200]
print(json.dumps(out))
`;
  const { stdout } = await promisify(execFile)(python, [
    '-c',
    script,
    new URL(url).port,
    PASSWORD,
    JSON.stringify(WRITES),
  ]).catch((e: Error & { stderr?: string }) => {
    throw new Error(`clickhouse-connect failed (is it installed? make install): ${e.stderr ?? e.message}`);
  });
  const out = JSON.parse(stdout) as { rows: unknown[]; refused: Record<string, string | false> };
  expect(out.rows).toEqual([[3, 42]]);
  for (const q of WRITES)
    expect({ q, refused: /^Code: \d+\. DB::Exception/.test(String(out.refused[q])) }).toEqual({
      q,
      refused: true,
    });
  expect(await eventCount()).toBe(3);
}, 60_000);

it('fuzzed requests get an answer or a ClickHouse-style error, never a crash or a write', async () => {
  const fc = await import('fast-check');
  const text = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.constantFrom(
      'SELECT 1',
      'DROP TABLE events',
      'SELECT {x:UInt8}',
      "SELECT ';'",
      'SHOW TABLES',
      '/* */;;',
    ),
  );
  await fc.assert(
    fc.asyncProperty(
      text,
      text,
      fc.dictionary(
        fc.constantFrom('param_x', 'database', 'default_format', 'query_id', 'user', 'password'),
        text,
      ),
      fc.option(fc.string({ maxLength: 80 })),
      async (query, body, params, auth) => {
        const qs = new URLSearchParams({ query, ...params }).toString();
        const res = await fetch(`${url}/?${qs}`, {
          method: 'POST',
          body,
          headers: {
            'content-type': 'text/plain',
            ...(auth === null
              ? { 'x-clickhouse-user': 'analyst', 'x-clickhouse-key': PASSWORD }
              : { authorization: auth.replace(/[^\x20-\x7e]/g, '') }),
          },
        });
        const text = await res.text();
        expect([200, 400, 401, 403, 503]).toContain(res.status);
        if (res.status !== 200) expect(text).toMatch(/^Code: \d+\. DB::Exception: [^]*\([A-Z_]+\)\n$/);
      },
    ),
    { numRuns: 150 },
  );
  expect(await eventCount()).toBe(3);
}, 120_000);
