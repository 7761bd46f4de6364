// Order baskets from the events table (embedded ClickHouse): one basket per order even when the order
// event is stored twice, the right categories or skus, filters by shop, time and limit.
import { sqlFromClient, type Sql } from '../../infra/clickhouse/sql';
import { decodeEnvelope, encodeEnvelope } from '../../schemas/codec';
import type { EnvelopeInit, Product } from '../../schemas/events';
import { loadBaskets } from '../../streams/processors/recommend/baskets';
import { toEventRow, type EventRow } from '../../streams/sinks/clickhouse/rows';
import { startTestClickHouse, type TestClickHouse } from '../../infra/stack/test-clickhouse';
import { buildEnvelope } from '../helpers/events';

let chs: TestClickHouse;
let sql: Sql;
let db: string;

const product = (sku: string, category: string): Product => ({
  sku,
  productId: sku,
  name: sku,
  category,
  brand: 'b',
  priceMinor: 1000,
  quantity: 1,
});

const T0 = Date.UTC(2026, 10, 24, 12, 0, 0);
const minutes = (m: number): number => T0 + m * 60_000;

function row(init: EnvelopeInit, seq: number): EventRow {
  const decoded = decodeEnvelope(encodeEnvelope(init));
  if (!decoded.ok) throw new Error(`bad test envelope: ${decoded.detail}`);
  return toEventRow(decoded.envelope, decoded.type, seq);
}

function order(orderId: string, at: number, products: Product[], shopId = 'shop-1'): EnvelopeInit {
  return buildEnvelope(
    'order_placed',
    { shopId, occurredAt: at },
    { orderId, cartId: `cart-${orderId}`, products, totalMinor: 1000, currency: 'USD' },
  );
}

async function insert(rows: EventRow[]): Promise<void> {
  await chs.ch.insert({ table: `${db}.events`, values: rows, format: 'JSONEachRow' });
}

beforeAll(async () => {
  chs = await startTestClickHouse();
  sql = sqlFromClient(chs.ch);
  db = chs.config.database;

  const o1 = order('o1', minutes(1), [
    product('CM-1', 'coffee_machines'),
    product('CB-1', 'coffee_beans'),
    product('CB-1', 'coffee_beans'), // the same product on two lines
    product('CB-2', 'coffee_beans'),
  ]);
  const o2 = order('o2', minutes(2), [product('PH-1', 'phones'), product('PC-1', 'phone_cases')]);
  // o2 recorded again under another event id (a re-sent order): still one basket
  const o2again = order('o2', minutes(2), [product('PH-1', 'phones'), product('PB-1', 'power_banks')]);
  const o3 = order('o3', minutes(3), [product('TS-1', 'tshirts'), product('JE-1', 'jeans')], 'shop-2');
  const o4 = order('o4', minutes(4), [product('NC-1', ''), product('GR-1', 'grinders')]);
  const empty = order('o5', minutes(5), []);
  const view = buildEnvelope('product_viewed', { occurredAt: minutes(6) });

  let seq = 0;
  await insert([row(o1, ++seq), row(o2, ++seq), row(o3, ++seq), row(view, ++seq)]);
  // the same event again, in its own insert (a duplicate that slipped past the sink): two rows until merged
  await insert([row(o1, ++seq), row(o2again, ++seq), row(o4, ++seq), row(empty, ++seq)]);
  const [r] = await sql.query<{ rows: string | number }>(
    `SELECT count() AS rows FROM ${db}.events WHERE order_id = 'o1'`,
  );
  expect(Number(r!.rows)).toBe(2);
});

afterAll(async () => {
  await chs?.stop();
});

describe('loadBaskets', () => {
  it('gives one basket per order with its distinct categories, most recent first', async () => {
    const baskets = await loadBaskets(sql, { database: db, level: 'category' });
    expect(baskets).toEqual([
      ['grinders'], // o4: the product without a category is left out
      ['jeans', 'tshirts'], // o3 (shop-2)
      ['phone_cases', 'phones', 'power_banks'], // o2, both records merged
      ['coffee_beans', 'coffee_machines'], // o1, stored twice, beans on three lines
    ]);
  });

  it('gives the distinct skus at sku level', async () => {
    const baskets = await loadBaskets(sql, { database: db, level: 'sku', shopId: 'shop-1' });
    expect(baskets).toEqual([
      ['GR-1', 'NC-1'],
      ['PB-1', 'PC-1', 'PH-1'],
      ['CB-1', 'CB-2', 'CM-1'],
    ]);
  });

  it('filters by shop, time and limit', async () => {
    expect(await loadBaskets(sql, { database: db, level: 'category', shopId: 'shop-2' })).toEqual([
      ['jeans', 'tshirts'],
    ]);
    expect(await loadBaskets(sql, { database: db, level: 'category', since: new Date(minutes(2)) })).toEqual([
      ['grinders'],
      ['jeans', 'tshirts'],
      ['phone_cases', 'phones', 'power_banks'],
    ]);
    expect(await loadBaskets(sql, { database: db, level: 'category', limit: 2 })).toEqual([
      ['grinders'],
      ['jeans', 'tshirts'],
    ]);
    expect(await loadBaskets(sql, { database: db, level: 'category', shopId: 'nope' })).toEqual([]);
  });

  it('passes values as parameters and refuses a bad database name', async () => {
    const odd = await loadBaskets(sql, { database: db, level: 'category', shopId: "shop-1' OR 1=1 --" });
    expect(odd).toEqual([]);
    await expect(loadBaskets(sql, { database: `${db}; DROP TABLE x`, level: 'category' })).rejects.toThrow(
      /invalid database name/,
    );
  });
});
