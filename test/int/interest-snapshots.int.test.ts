// Interest snapshots on the embedded ClickHouse: rows written by writeSnapshots are stored and read
// back with their top interests (short and long), tags, tier and totals.
import type { Config } from '../../infra/config';
import { applyEvent, emptyState } from '../../streams/processors/interest/model';
import { snapshotChanged, snapshotRow, writeSnapshots } from '../../streams/processors/interest/snapshots';
import { encodeState } from '../../streams/processors/interest/state-codec';
import type { Changed } from '../../streams/processors/interest/store';
import { decodeEnvelope, encodeEnvelope } from '../../schemas/codec';
import { buildEnvelope } from '../helpers/events';
import { startTestClickHouse, type TestClickHouse } from '../../infra/stack/test-clickhouse';
import { testConfig } from '../../infra/stack/test-config';
import { tinyCatalog as catalog } from '../helpers/tiny-catalog';

let ch: TestClickHouse;
let config: Config;
const T0 = Date.UTC(2026, 10, 1);

beforeAll(async () => {
  ch = await startTestClickHouse();
  config = testConfig('nats://127.0.0.1:1');
});

afterAll(async () => {
  await ch?.stop();
});

it('writes snapshots and reads them back', async () => {
  const halfLives = { shortMs: config.interest.shortHalfLifeMs, longMs: config.interest.longHalfLifeMs };
  const s = emptyState('shop-1', 'user-1', catalog.features.size);
  const evs = [
    buildEnvelope(
      'product_viewed',
      { shopId: 'shop-1', userId: 'user-1', occurredAt: T0 },
      {
        product: { sku: 'PH-1' },
      },
    ),
    buildEnvelope(
      'cart_item_added',
      { shopId: 'shop-1', userId: 'user-1', occurredAt: T0 + 1000 },
      {
        cartId: 'c',
        product: { sku: 'PB-1' },
      },
    ),
  ];
  evs.forEach((e, i) => {
    const d = decodeEnvelope(encodeEnvelope(e));
    if (!d.ok) throw new Error(d.detail);
    applyEvent(s, d.envelope, d.type, i + 1, catalog, halfLives);
  });
  const empty = emptyState('shop-1', 'anon:a-1', catalog.features.size);
  const rows = [
    snapshotRow(s, T0 + 2000, catalog, halfLives, config.tiers),
    snapshotRow(empty, T0 + 2000, catalog, halfLives, config.tiers),
  ];
  expect(rows[0]!.top_short.length).toBeGreaterThan(0);
  await writeSnapshots(ch.ch, ch.config.database, rows);

  const rs = await ch.ch.query({
    query: `SELECT user_key, tier, tags, top_category, top_short, top_long, events, orders, spend_minor,
              toUnixTimestamp64Milli(taken_at) AS taken_ms
            FROM ${ch.config.database}.interest_snapshots ORDER BY user_key`,
    format: 'JSONEachRow',
  });
  const got = await rs.json<{
    user_key: string;
    tier: string;
    top_category: string;
    top_short: unknown;
    top_long: unknown;
    events: number;
    taken_ms: string | number;
  }>();
  expect(got.map((r) => r.user_key)).toEqual(['anon:a-1', 'user-1']);
  const u = got[1]!;
  expect(u.tier).toBe('new');
  expect(u.events).toBe(2);
  expect(Number(u.taken_ms)).toBe(T0 + 2000);
  expect(u.top_category).toBe(rows[0]!.top_category);
  const pairs = (x: unknown): [string, number][] =>
    (x as ({ feature: string; weight: number } | [string, number])[]).map((p) =>
      Array.isArray(p) ? [p[0], p[1]] : [p.feature, p.weight],
    );
  const expectSame = (a: [string, number][], b: { feature: string; weight: number }[]): void => {
    expect(a.map((p) => p[0])).toEqual(b.map((p) => p.feature));
    a.forEach((p, i) => expect(p[1]).toBeCloseTo(b[i]!.weight, 9));
  };
  expectSame(pairs(u.top_short), rows[0]!.top_short);
  expectSame(pairs(u.top_long), rows[0]!.top_long);
  expect(pairs(got[0]!.top_short)).toEqual([]);
});

it('stores a profile whose last event time is beyond what DateTime64 holds (clamped)', async () => {
  const halfLives = { shortMs: config.interest.shortHalfLifeMs, longMs: config.interest.longHalfLifeMs };
  const s = emptyState('shop-1', 'user-far', catalog.features.size);
  s.lastEventAt = Date.UTC(10000, 0, 1); // "+010000-01-01 ..." as text: not a DateTime64
  await writeSnapshots(ch.ch, ch.config.database, [snapshotRow(s, T0, catalog, halfLives, config.tiers)]);
  const rs = await ch.ch.query({
    query: `SELECT count() AS n FROM ${ch.config.database}.interest_snapshots WHERE user_key = 'user-far'`,
    format: 'JSONEachRow',
  });
  expect(Number((await rs.json<{ n: string }>())[0]!.n)).toBe(1);
});

it('keeps the changed profiles for the next snapshot when one fails', async () => {
  const halfLives = { shortMs: config.interest.shortHalfLifeMs, longMs: config.interest.longHalfLifeMs };
  let changed = new Map<string, Changed>([
    [
      'shop-1\u0000user-retry',
      {
        bytes: encodeState(emptyState('shop-1', 'user-retry', catalog.features.size), catalog.features),
        revision: 1,
      },
    ],
  ]);
  const source = {
    takeChanged: () => {
      const out = changed;
      changed = new Map();
      return out;
    },
    restoreChanged: (m: Map<string, Changed>) => {
      for (const [k, v] of m) if (!changed.has(k)) changed.set(k, v);
    },
  };
  const snap = (database: string) =>
    snapshotChanged(source, ch.ch, database, T0, catalog, halfLives, config.tiers);
  await expect(snap('no_such_database')).rejects.toThrow();
  expect([...changed.keys()]).toEqual(['shop-1\u0000user-retry']);
  await expect(snap(ch.config.database)).resolves.toBe(1);
  expect(changed.size).toBe(0);
  const rs = await ch.ch.query({
    query: `SELECT count() AS n FROM ${ch.config.database}.interest_snapshots WHERE user_key = 'user-retry'`,
    format: 'JSONEachRow',
  });
  expect(Number((await rs.json<{ n: string }>())[0]!.n)).toBe(1);
});
