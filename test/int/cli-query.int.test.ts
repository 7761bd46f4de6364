// `shopstream query` on the embedded database with no service running (and so straight on the data
// directory): read-only at the engine, whatever the SQL says.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { getFreePort } from '../../infra/stack/processes';
import { startTestClickHouse } from '../../infra/stack/test-clickhouse';

const run = promisify(execFile);
const CLI = path.join(__dirname, '../../cli/shopstream.cjs');
let dir: string;
let env: NodeJS.ProcessEnv;
let database: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-query-'));
  const chs = await startTestClickHouse({ dataDir: path.join(dir, 'ch') });
  database = chs.config.database;
  await chs.ch.close(); // one process owns the data directory: the CLI's now
  fs.writeFileSync(path.join(dir, 'secret.env'), 'COUPON_SECRET=do-not-read\n');
  env = {
    ...process.env,
    SHOPSTREAM_DATA_DIR: dir,
    CLICKHOUSE_URL: '',
    CLICKHOUSE_DATA_DIR: path.join(dir, 'ch'),
    CLICKHOUSE_DATABASE: database,
    ADMIN_PORT: String(await getFreePort()), // nothing answers there: the CLI opens the database itself
  };
}, 120_000);

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const query = (sql: string, ...flags: string[]) =>
  run(process.execPath, [CLI, 'query', sql, ...flags], { env }).then(
    (r) => ({ ok: true, out: r.stdout + r.stderr }),
    (e: { stdout: string; stderr: string }) => ({ ok: false, out: e.stdout + e.stderr }),
  );

it('reads', async () => {
  const r = await query(`SELECT count() AS c FROM ${database}.events`);
  expect(r.ok).toBe(true);
  expect(r.out).toMatch(/"c":"?0"?/);
});

it('prints csv and a table on request, and refuses an unknown format', async () => {
  const sql = "SELECT 40 + 2 AS answer, 'a,b' AS text";
  expect((await query(sql, '--format', 'csv')).out).toBe('answer,text\n42,"a,b"\n');
  const table = await query(sql, '--format', 'table');
  expect(table.out).toMatch(/answer.*text/);
  expect(table.out).toMatch(/42.*a,b/);
  expect(table.out).toContain('(1 row)');
  const bad = await query(sql, '--format', 'xml');
  expect(bad.ok).toBe(false);
  expect(bad.out).toContain('--format takes table, csv, json');
});

it('cannot drop, write files, read files or run programs', async () => {
  const secret = path.join(dir, 'secret.env');
  for (const sql of [
    `DROP TABLE ${database}.events`,
    `WITH 1 AS x INSERT INTO FUNCTION file('${path.join(dir, 'w.csv')}', 'CSV') SELECT 7`,
    `SELECT 7 INTO OUTFILE '${path.join(dir, 'o.txt')}'`,
    `SELECT * FROM file('${secret}', 'LineAsString')`,
  ]) {
    const r = await query(sql);
    expect(r.ok).toBe(false);
    expect(r.out).not.toContain('do-not-read');
  }
  expect(fs.readdirSync(dir).sort()).toEqual(['ch', 'secret.env']);
  const still = await query(`EXISTS TABLE ${database}.events`);
  expect(still.out).toMatch(/"result":"?1"?/);
}, 120_000);

const report = (...args: string[]) =>
  run(process.execPath, [CLI, 'report', ...args], { env }).then(
    (r) => ({ ok: true, out: r.stdout + r.stderr }),
    (e: { stdout: string; stderr: string }) => ({ ok: false, out: e.stdout + e.stderr }),
  );

it('runs a named report over a range in each format, and says what is wrong with bad options', async () => {
  const range = ['--from', '2026-11-01', '--to', '2026-12-01T00:00Z'];
  const table = await report('service', ...range, '--format', 'table');
  expect(table.ok).toBe(true);
  expect(table.out).toContain('service: 2026-11-01T00:00:00.000Z .. 2026-12-01T00:00:00.000Z');
  expect(table.out).toMatch(/responder.*conversations/);
  const json = await report('service', ...range, '--format', 'json');
  expect(
    json.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { responder: string })[0],
  ).toMatchObject({
    responder: 'bot',
    conversations: 0,
  });
  const csv = await report('coupons', ...range, '--format', 'csv');
  expect(csv.out).toContain('Coupons by campaign and tier');
  expect((await report('nonsense')).out).toContain('no report "nonsense"; the reports: overview, funnel');
  expect((await report('funnel', '--from', 'yesterday-ish')).out).toContain('is not a time');
  expect((await report('funnel', '--from', '2026-12-02', '--to', '2026-12-01')).out).toContain(
    'must be before --to',
  );
  expect((await report('funnel', '--window', 'forever')).out).toContain('--window takes a duration');
}, 60_000);

it('model backfill rebuilds the model from events (catalog loaded), and the analysts can read it', async () => {
  const r = await run(process.execPath, [CLI, 'model', 'backfill'], { env });
  expect(r.stdout).toMatch(/^model rebuilt from 0 events in \d+ ms: 0 hourly rows, \d{2,} catalog products/);
  const products = await query(
    `SELECT count() > 10 AS ok FROM ${database}.catalog_products`,
    '--format',
    'csv',
  );
  expect(products.out).toBe('ok\n1\n');
}, 60_000);
