// The report SQL files (analytics/queries, demo/queries): each is one reading statement whose values
// are all ClickHouse query parameters, and the code runs each with exactly the parameters it names.
// Also: the migrations are found from analytics/.
import { NAMED_REPORTS } from '../../analytics/named-reports';
import { buildDashboardData } from '../../analytics/dashboard';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { buildBotReport } from '../../analytics/bot-report';
import { unansweredQuestions } from '../../analytics/kb-gaps';
import { buildFlowsReport } from '../../analytics/flows-report';
import { BadDatabaseNameError, loadMigrations, migrate } from '../../analytics/migrate';
import {
  QUERIES_DIR,
  QueryParamsError,
  loadQuery,
  queryParams,
  runQuery,
  type Query,
} from '../../analytics/queries';
import { buildRecoveryReport } from '../../analytics/recovery-report';
import { FUNNEL_STEPS, buildReport, busiestUser, countStored } from '../../analytics/report';
import {
  heldOutOpenCarts,
  reminderProgress,
  remindedOpenCarts,
  unredeemedCoupons,
} from '../../demo/come-back';
import { checkReadOnlySql } from '../../infra/clickhouse/readonly';
import type { ClickHouseClient } from '../../infra/clickhouse/client';
import type { Sql } from '../../infra/clickhouse/sql';

const DIRS = [QUERIES_DIR, path.join(__dirname, '../../demo/queries')];
const files: Query[] = DIRS.flatMap((dir) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .map((f) => loadQuery(dir, f.replace(/\.sql$/, ''))),
);
const TYPES = new Set(['Identifier', 'String', 'Float64', 'UInt64']);

it('finds the report SQL files', () => {
  expect(files.filter((q) => q.file.startsWith('analytics/queries/')).length).toBeGreaterThanOrEqual(15);
  expect(files.filter((q) => q.file.startsWith('demo/queries/')).length).toBeGreaterThanOrEqual(4);
});

describe.each(files.map((q) => [q.file, q] as const))('%s', (_file, q) => {
  it('is one reading statement the read-only path accepts, with no value written into it', () => {
    expect(checkReadOnlySql(q.text)).toBe(q.text);
    expect(q.text).not.toContain(';');
    expect(q.text).not.toContain('${');
  });

  it('reads the database and every value from typed parameters', () => {
    expect(q.params.get('db')).toBe('Identifier');
    expect(q.text).not.toMatch(/\bFROM\s+(?!\{db:Identifier\}\.|\()/i);
    for (const [name, type] of q.params)
      expect({ name, known: TYPES.has(type) }).toEqual({ name, known: true });
  });
});

it('the code passes each file exactly the parameters it names, and runs every file', async () => {
  const byText = new Map(files.map((q) => [q.text, q]));
  const calls: { file: string; named: string[]; given: string[] }[] = [];
  const unknown: string[] = [];
  const recording: Sql = {
    query: <T>(text: string, params: Record<string, unknown> = {}): Promise<T[]> => {
      const q = byText.get(text);
      if (!q) unknown.push(text);
      else
        calls.push({ file: q.file, named: [...q.params.keys()].sort(), given: Object.keys(params).sort() });
      return Promise.resolve([]);
    },
  };
  const scope = { database: 'shop', producerId: 'run-1' };
  await buildReport(recording, scope);
  await buildReport(recording, { database: 'shop' });
  await countStored(recording, scope);
  await busiestUser(recording, scope);
  await buildRecoveryReport(recording, scope);
  await buildFlowsReport(recording, 'shop', Date.now());
  await reminderProgress(recording, scope);
  await remindedOpenCarts(recording, scope);
  await heldOutOpenCarts(recording, 'shop', 'run-1');
  await unredeemedCoupons(recording, 'shop', 'tier-coupons', Date.now());
  await buildBotReport(recording, { database: 'shop', from: 0, to: Date.now() });
  await unansweredQuestions(recording, { database: 'shop', from: 0, to: Date.now() });
  for (const r of NAMED_REPORTS)
    await r.run(recording, { database: 'shop', from: new Date(0), to: new Date() });
  await buildDashboardData(recording, 'shop');

  expect(unknown).toEqual([]);
  for (const c of calls) expect({ file: c.file, params: c.given }).toEqual({ file: c.file, params: c.named });
  expect([...new Set(calls.map((c) => c.file))].sort()).toEqual(files.map((q) => q.file).sort());
});

it('passes the unscoped report an empty producer: every producer', async () => {
  const params: Record<string, unknown>[] = [];
  const recording: Sql = {
    query: <T>(_text: string, p: Record<string, unknown> = {}): Promise<T[]> => {
      params.push(p);
      return Promise.resolve([]);
    },
  };
  await buildReport(recording, { database: 'shop' });
  expect(params.length).toBeGreaterThan(0);
  for (const p of params) expect(p).toEqual({ db: 'shop', producer: '' });
});

it('refuses to run a query with a missing or an extra parameter, before sending it', async () => {
  const sent: string[] = [];
  const sql: Sql = {
    query: <T>(text: string): Promise<T[]> => {
      sent.push(text);
      return Promise.resolve([]);
    },
  };
  const q = loadQuery(QUERIES_DIR, 'events-by-type');
  await expect(runQuery(sql, q, { db: 'shop' })).rejects.toThrow(
    new QueryParamsError('analytics/queries/events-by-type.sql: missing parameters producer'),
  );
  await expect(runQuery(sql, q, { db: 'shop', producer: '', extra: 1 })).rejects.toMatchObject({
    name: 'QueryParamsError',
    code: 'QUERY_PARAMS',
    message: 'analytics/queries/events-by-type.sql: parameters it does not name extra',
  });
  expect(sent).toEqual([]);
  await runQuery(sql, q, { db: 'shop', producer: '' });
  expect(sent).toEqual([q.text]);
});

it('parses {name:Type} placeholders, and refuses one name with two types', () => {
  expect([
    ...queryParams('SELECT {a:String}, { b : Array(UInt32) }, {a:String} FROM {db:Identifier}.t'),
  ]).toEqual([
    ['a', 'String'],
    ['b', 'Array(UInt32)'],
    ['db', 'Identifier'],
  ]);
  expect(() => queryParams('SELECT {a:String}, {a:UInt8}')).toThrow(QueryParamsError);
});

it('sends a file without its comment lines', () => {
  const q = loadQuery(QUERIES_DIR, 'funnel');
  const raw = readFileSync(path.join(QUERIES_DIR, 'funnel.sql'), 'utf8');
  expect(raw.trimStart().startsWith('--')).toBe(true);
  expect(q.text.startsWith('SELECT')).toBe(true);
  expect(q.text).not.toMatch(/^\s*--/m);
});

it("counts the funnel's steps in FUNNEL_STEPS order", () => {
  const { text } = loadQuery(QUERIES_DIR, 'funnel');
  const steps = [...text.matchAll(/event_type = '([a-z_]+)'/g)].map((m) => m[1]);
  expect(steps).toEqual([...FUNNEL_STEPS]);
  expect([...text.matchAll(/countIf\(level >= (\d)\) AS s(\d)/g)].map((m) => [m[1], m[2]])).toEqual(
    FUNNEL_STEPS.map((_, i) => [String(i + 1), String(i + 1)]),
  );
});

it('finds the migrations in analytics/migrations, in order', () => {
  const migrations = loadMigrations();
  expect(migrations.map((m) => m.name)).toEqual([
    '0001_events',
    '0002_interest_snapshots',
    '0003_events_time_zone',
    '0004_chat_turns',
    '0005_chat_turns_fields',
    '0006_model',
  ]);
  expect(migrations.every((m) => m.statements.length > 0)).toBe(true);
});

it('migrates only a database whose name is an identifier, before any statement', async () => {
  const sent: unknown[] = [];
  const record = (p: unknown): Promise<never> => {
    sent.push(p);
    return Promise.reject(new Error('not expected'));
  };
  const ch = { command: record, query: record, insert: record } as unknown as ClickHouseClient;
  for (const name of ['shop; DROP TABLE x', 'shop.events', '1shop', '', 'shop`'])
    await expect(migrate(ch, name)).rejects.toBeInstanceOf(BadDatabaseNameError);
  expect(sent).toEqual([]);
  await expect(migrate(ch, 'shop_1')).rejects.toThrow('not expected');
  expect(sent).toHaveLength(1);
});
