// The analysts' SQL path against the real embedded ClickHouse: read-only at the engine (a session of
// its own), bounded, and behind a token and a Host check; the pipeline's own session keeps writing.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ClickHouseClient } from '@clickhouse/client';
import { openReadOnlyClickHouse } from '../../infra/clickhouse/readonly';
import { createMetrics } from '../../infra/metrics';
import { buildAdmin } from '../../streams/admin';
import { startTestClickHouse, type TestClickHouse } from '../../infra/stack/test-clickhouse';

const TOKEN = 't'.repeat(40);
let chs: TestClickHouse;
let ro: ClickHouseClient;
let app: FastifyInstance;
let dir: string;

/** A request the way a client sends it (Fastify's inject needs an ESM-only module jest cannot load). */
async function call(
  target: FastifyInstance,
  method: 'GET' | 'POST',
  url: string,
  headers: Record<string, string>,
  payload?: unknown,
): Promise<{ statusCode: number; body: string; json: () => Record<string, unknown> }> {
  const address = target.server.address() as { port: number };
  // fetch cannot set Host: a raw request can
  const http = await import('node:http');
  return new Promise((resolve, reject) => {
    const body = payload === undefined ? undefined : JSON.stringify(payload);
    const req = http.request(
      {
        host: '127.0.0.1',
        port: address.port,
        method,
        path: url,
        headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString('utf8')));
        res.on('end', () =>
          resolve({
            statusCode: res.statusCode ?? 0,
            body: text,
            json: () => JSON.parse(text) as Record<string, unknown>,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  chs = await startTestClickHouse();
  ro = await openReadOnlyClickHouse(chs.config);
  app = buildAdmin({
    metrics: createMetrics({ defaults: false }),
    readOnlyCh: ro,
    token: TOKEN,
    health: () => Promise.resolve({ ok: true, checks: {} }),
    stats: () => ({ sink: { stored: 1 } }),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'admin-sql-'));
  fs.writeFileSync(path.join(dir, 'secret.env'), 'COUPON_SECRET=do-not-read\n');
}, 120_000);

afterAll(async () => {
  await app?.close();
  await ro?.close();
  await chs?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const sql = (body: unknown, headers: Record<string, string> = {}) =>
  call(
    app,
    'POST',
    '/v1/sql',
    { host: '127.0.0.1:8089', authorization: `Bearer ${TOKEN}`, ...headers },
    body,
  );

it('answers a reading query with parameters', async () => {
  const res = await sql({ sql: 'SELECT {n:UInt8} + 1 AS x', params: { n: 41 } });
  expect(res.statusCode).toBe(200);
  expect(res.json()).toEqual({ rows: [{ x: 42 }] });
});

it('refuses without the token, with a wrong one, and when no token is configured', async () => {
  expect((await sql({ sql: 'SELECT 1' }, { authorization: '' })).statusCode).toBe(401);
  expect((await sql({ sql: 'SELECT 1' }, { authorization: `Bearer ${TOKEN}x` })).statusCode).toBe(401);
  const stats = await call(app, 'GET', '/v1/stats', { host: 'localhost' });
  expect(stats.statusCode).toBe(401);
  const open = buildAdmin({
    metrics: createMetrics({ defaults: false }),
    readOnlyCh: ro,
    token: '',
    health: () => Promise.resolve({ ok: true, checks: {} }),
    stats: () => ({}),
  });
  await open.listen({ host: '127.0.0.1', port: 0 });
  const res = await call(
    open,
    'POST',
    '/v1/sql',
    { host: 'localhost', authorization: 'Bearer ' },
    {
      sql: 'SELECT 1',
    },
  );
  expect(res.statusCode).toBe(403);
  await open.close();
});

it('answers only to its own host names (no DNS rebinding from a web page)', async () => {
  const res = await sql({ sql: 'SELECT 1' }, { host: 'attacker.example:8089' });
  expect(res.statusCode).toBe(421);
  const metrics = await call(app, 'GET', '/metrics', { host: 'evil.test' });
  expect(metrics.statusCode).toBe(421);
  expect((await call(app, 'GET', '/healthz', { host: '[::1]:8089' })).statusCode).toBe(200);
});

it('answers liveness always, and readiness by the components: 503 while one fails', async () => {
  const host = { host: '127.0.0.1' };
  expect((await call(app, 'GET', '/livez', host)).json()).toMatchObject({ ok: true });
  expect((await call(app, 'GET', '/readyz', host)).statusCode).toBe(200);
  const failing = buildAdmin({
    metrics: createMetrics({ defaults: false }),
    token: TOKEN,
    health: () => Promise.resolve({ ok: false, sink: { ok: false, problem: 'stalled' } }),
    stats: () => ({}),
  });
  await failing.listen({ host: '127.0.0.1', port: 0 });
  try {
    expect((await call(failing, 'GET', '/livez', host)).statusCode).toBe(200);
    const ready = await call(failing, 'GET', '/readyz', host);
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({ ok: false, sink: { problem: 'stalled' } });
  } finally {
    await failing.close();
  }
});

it('the engine refuses files, URLs, writes, DDL and settings, even when the text check is passed', async () => {
  const secret = path.join(dir, 'secret.env');
  // straight at the read-only client: the engine itself says no
  const attempts = [
    `SELECT * FROM file('${secret}', 'LineAsString')`,
    "SELECT * FROM url('http://127.0.0.1:1/', 'LineAsString')",
    `INSERT INTO FUNCTION file('${path.join(dir, 'o.csv')}', 'CSV') SELECT 7`,
    `WITH 1 AS x INSERT INTO FUNCTION file('${path.join(dir, 'o2.csv')}', 'CSV') SELECT 7`,
    `DROP TABLE ${chs.config.database}.events`,
    `INSERT INTO ${chs.config.database}.events (event_id) VALUES ('x')`,
    'SELECT 1 SETTINGS readonly = 0',
    "SELECT * FROM executable('ls', 'LineAsString', 'x String')",
  ];
  for (const query of attempts) {
    await expect(ro.query({ query, format: 'JSONEachRow' }).then((r) => r.json())).rejects.toThrow(
      /readonly/i,
    );
  }
  expect(fs.existsSync(path.join(dir, 'o.csv'))).toBe(false);
  // and the endpoint refuses what the engine would not (INTO OUTFILE runs in chDB's client)
  const out = path.join(dir, 'out.txt');
  const res = await sql({ sql: `SELECT 1 INTO OUTFILE '${out}'` });
  expect(res.statusCode).toBe(400);
  expect(fs.existsSync(out)).toBe(false);
  const read = await sql({ sql: `SELECT * FROM file('${secret}', 'LineAsString')` });
  expect(read.statusCode).toBe(400);
  expect(read.body).not.toContain('do-not-read');
  expect((await sql({ sql: `DROP TABLE ${chs.config.database}.events` })).statusCode).toBe(400);
});

it('bounds the rows a query may return', async () => {
  const res = await sql({ sql: 'SELECT number FROM numbers(1000000)' });
  expect(res.statusCode).toBe(400);
  expect(res.body).toMatch(/Limit for result exceeded, max rows: 100\.00 thousand/);
});

it("the pipeline's own session still writes after the read-only one was opened", async () => {
  await chs.ch.command({ query: `CREATE TABLE ${chs.config.database}.w (a UInt8) ENGINE = Memory` });
  await chs.ch.insert({ table: `${chs.config.database}.w`, values: [{ a: 1 }], format: 'JSONEachRow' });
  const res = await sql({ sql: `SELECT count() AS c FROM ${chs.config.database}.w` });
  expect(res.body).toMatch(/^\{"rows":\[\{"c":"?1"?\}\]\}$/);
});
