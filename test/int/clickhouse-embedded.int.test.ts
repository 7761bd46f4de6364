// The embedded ClickHouse behaves like a server where our code relies on it: settings given to one
// call do not leak into the next (chDB keeps them in its session; infra/clickhouse/client.ts scopes
// them), and insert deduplication works with a token.
import { startTestClickHouse, type TestClickHouse } from '../../infra/stack/test-clickhouse';

let chs: TestClickHouse;

beforeAll(async () => {
  chs = await startTestClickHouse({ migrate: false });
  await chs.ch.command({ query: `CREATE DATABASE ${chs.config.database}` });
  await chs.ch.command({
    query: `CREATE TABLE ${chs.config.database}.t (a UInt32) ENGINE = MergeTree ORDER BY a
            SETTINGS non_replicated_deduplication_window = 100`,
  });
});

afterAll(async () => {
  await chs?.stop();
});

const count = async (): Promise<number> => {
  const rs = await chs.ch.query({
    query: `SELECT count() AS c FROM ${chs.config.database}.t`,
    format: 'JSONEachRow',
  });
  return Number((await rs.json<{ c: number | string }>())[0]!.c);
};

it('drops a retried insert with the same token, and keeps the next plain insert', async () => {
  const table = `${chs.config.database}.t`;
  await chs.ch.insert({
    table,
    values: [{ a: 1 }],
    format: 'JSONEachRow',
    clickhouse_settings: { insert_deduplication_token: 'batch-1' },
  });
  await chs.ch.insert({
    table,
    values: [{ a: 1 }],
    format: 'JSONEachRow',
    clickhouse_settings: { insert_deduplication_token: 'batch-1' },
  });
  expect(await count()).toBe(1);
  await chs.ch.insert({ table, values: [{ a: 2 }], format: 'JSONEachRow' }); // must not inherit batch-1
  expect(await count()).toBe(2);
});

it('does not carry a query setting over to the next query', async () => {
  await chs.ch.query({
    query: 'SELECT 1',
    format: 'JSONEachRow',
    clickhouse_settings: { max_execution_time: 7 },
  });
  const rs = await chs.ch.query({
    query: "SELECT getSetting('max_execution_time') AS m",
    format: 'JSONEachRow',
  });
  expect(Number((await rs.json<{ m: number | string }>())[0]!.m)).toBe(0);
});

it('a query that fails mid-stream never hands its rows to the next query (chDB keeps them: a new session)', async () => {
  for (let i = 0; i < 3; i++) {
    await expect(
      chs.ch
        .query({
          query:
            'SELECT number, throwIf(number = 900000) FROM numbers(1000000) SETTINGS max_block_size = 1000',
          format: 'JSONEachRow',
        })
        .then((r) => r.json()),
    ).rejects.toThrow(/throwIf|non-zero/);
    const rs = await chs.ch.query({ query: 'SELECT 42 AS c', format: 'JSONEachRow' });
    expect(await rs.json()).toEqual([{ c: 42 }]);
  }
  expect(await count()).toBeGreaterThanOrEqual(0); // the table is still there for the same client
});
