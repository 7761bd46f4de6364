// The HTTP collector end to end, in one process as in production (startService: collector + sink +
// admin; not the interest processor, whose tier_changed events would change the stream's counts this
// file compares): real NATS JetStream, real embedded ClickHouse. A batch with a few bad events stores exactly
// the good ones, dead-letters the bad ones with their JSON, and a resent batch stores nothing twice.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { JetStreamManager, NatsConnection } from 'nats';
import type { Config } from '../../infra/config';
import { sqlOverHttp, type Sql } from '../../infra/clickhouse/sql';
import { createLogger } from '../../infra/logger';
import { getFreePort } from '../../infra/stack/processes';
import type { EventType } from '../../schemas/events';
import { isUlid, newEventId, ulidTime } from '../../schemas/ulid';
import type { BatchResponse } from '../../streams/collector/server';
import { readDeadLetters, summarizeDeadLetters, type StoredDeadLetter } from '../../streams/dlq';
import { connectNats } from '../../infra/nats';
import { startService, type Service } from '../../streams/service';
import { names } from '../../streams/topology';
import { eventually, uniqueName } from '../../infra/stack/test-clickhouse';
import { startTestNats, type TestNats } from '../../infra/stack/test-nats';
import { testConfig } from '../../infra/stack/test-config';

// Jest ignores a project-level testTimeout (it is a global option): hooks and tests get this one.
jest.setTimeout(60_000);
const SHOP = 'shop-collector';
const WRITE_KEY = 'wk-collector-test';
// orders are among the events: only a server key may send them (public-key refusals: collector-clients)
const SERVER_KEY = 'sk-collector-test';
const T0 = Date.UTC(2026, 2, 2, 9, 0, 0);
const USERS = ['u-ada', 'u-bo', 'u-cy', 'u-di', 'u-ed', 'u-fay', 'u-gus'];

let nats: TestNats;
let nc: NatsConnection;
let jsm: JetStreamManager;
let config: Config;
let service: Service | undefined;
let dataDir: string;
let sql: Sql;
let collectorUrl: string;

type Raw = Record<string, unknown>;
/** A posted event and the event type it must be stored as (undefined: it must be rejected). */
interface Case {
  raw: Raw;
  type?: EventType;
}

const iso = (i: number): string => new Date(T0 + i * 1000).toISOString();
const userOf = (i: number): string => USERS[i % USERS.length]!;

function segment(i: number, event: string, properties: Raw, type?: EventType): Case {
  // a few anonymous visitors, as Segment sends them before login
  const who = i % 13 === 0 ? { anonymousId: `anon-${i % 3}` } : { userId: userOf(i) };
  return {
    raw: {
      type: 'track',
      event,
      ...who,
      messageId: `seg-msg-${i}`,
      timestamp: iso(i),
      context: { channel: i % 2 === 0 ? 'browser' : 'mobile', sessionId: `s-${userOf(i)}` },
      properties,
    },
    ...(type ? { type } : {}),
  };
}

function native(i: number, type: EventType, properties: Raw, extra: Raw = {}): Case {
  return {
    raw: {
      type,
      // half with the client's own ULID, half with a client id that is not one (an id is derived)
      event_id: i % 2 === 0 ? newEventId() : `native-${i}`,
      user_id: userOf(i),
      session_id: `s-${userOf(i)}`,
      channel: i % 3 === 0 ? 'app' : 'web',
      occurred_at: i % 2 === 0 ? T0 + i * 1000 : iso(i),
      properties,
      ...extra,
    },
    type,
  };
}

function validCase(i: number): Case {
  const sku = `SKU-${i}`;
  switch (i % 7) {
    case 0:
      return native(i, 'product_viewed', {
        product: { sku, product_id: `P-${i}`, price_minor: 1000 + i },
        currency: 'USD',
      });
    case 1:
      return native(i, 'products_searched', { query: `power bank ${i}`, result_count: i });
    case 2:
      return native(i, 'cart_item_added', {
        cart_id: `cart-${userOf(i)}`,
        product: { sku, price_minor: 500, quantity: 2 },
        cart_total_minor: 1000,
        currency: 'EUR',
      });
    case 3:
      return native(i, 'order_placed', {
        order_id: `order-${i}`,
        products: [{ sku, price_minor: 2500, quantity: 1 }],
        total_minor: 2500,
        currency: 'USD',
      });
    case 4:
      return segment(
        i,
        'Product Viewed',
        { sku, product_id: `P-${i}`, name: 'Mug', price: 19.99, currency: 'USD' },
        'product_viewed',
      );
    case 5:
      return segment(
        i,
        'Product Added',
        { cart_id: `cart-${userOf(i)}`, sku, price: 19.99, quantity: 1, currency: 'USD' },
        'cart_item_added',
      );
    default:
      return segment(
        i,
        'Order Completed',
        {
          order_id: `order-${i}`,
          total: 30.97,
          discount: 2.5,
          coupon: 'SAVE',
          currency: 'USD',
          products: [
            { sku, price: 19.99, quantity: 1 },
            { sku: `${sku}-b`, price: 5.49, quantity: 2 },
          ],
        },
        'order_placed',
      );
  }
}

const MISSING_SKU = 17;
const UNKNOWN_CHANNEL = 42;
const UNKNOWN_SEGMENT_EVENT = 88;

const cases: Case[] = Array.from({ length: 100 }, (_, i) => validCase(i));
// A Segment Product Viewed without a sku: mapped, then fails validation
// (Segment's product properties are optional, a product_id stands in for a sku: here there is neither)
cases[MISSING_SKU] = segment(MISSING_SKU, 'Product Viewed', { name: 'Mug', price: 9.5 });
// A native event on a channel that does not exist
cases[UNKNOWN_CHANNEL] = {
  raw: { ...validCase(UNKNOWN_CHANNEL).raw, channel: 'fax' },
};
// A Segment event that is not collected at all
cases[UNKNOWN_SEGMENT_EVENT] = segment(UNKNOWN_SEGMENT_EVENT, 'Product Teleported', { sku: 'SKU-88' });
const batch = cases.map((c) => c.raw);
const INVALID = [MISSING_SKU, UNKNOWN_CHANNEL, UNKNOWN_SEGMENT_EVENT];

async function postEvents(
  body: unknown,
  headers: Record<string, string> = { authorization: `Bearer ${SERVER_KEY}` },
): Promise<{ status: number; body: BatchResponse & { error?: string; message?: string } }> {
  const res = await fetch(collectorUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as BatchResponse & { error?: string } };
}

async function countShop(): Promise<{ rows: number; final: number; unique: number }> {
  const db = config.clickhouse.database;
  const mine = `shop_id = {shop:String} AND producer_id != 'interest-processor'`;
  const [r] = await sql.query<{ rows: string | number; final: string | number; unique: string | number }>(
    // the collector's events only (kept should the interest processor, off here, add tier_changed ones)
    `SELECT (SELECT count() FROM ${db}.events WHERE ${mine}) AS rows,
            (SELECT count() FROM ${db}.events FINAL WHERE ${mine}) AS final,
            (SELECT uniqExact(event_id) FROM ${db}.events WHERE ${mine}) AS unique`,
    { shop: SHOP },
  );
  return { rows: Number(r!.rows), final: Number(r!.final), unique: Number(r!.unique) };
}

const streamMessages = async (): Promise<number> =>
  (await jsm.streams.info(names(config.nats.prefix).eventsStream)).state.messages;

/** Every event in the stream has been delivered to the sink and acked (stored or dead-lettered). */
async function sinkDrained(): Promise<void> {
  const n = names(config.nats.prefix);
  await eventually(
    () => jsm.consumers.info(n.eventsStream, n.sinkConsumer),
    (ci) => ci.num_pending === 0 && ci.num_ack_pending === 0,
  );
}

async function collectorDeadLetters(): Promise<StoredDeadLetter[]> {
  const out: StoredDeadLetter[] = [];
  for await (const dl of readDeadLetters(nc.jetstream(), jsm, config.nats.prefix, {
    reason: 'collector_rejected',
  }))
    if (dl.shopId === SHOP) out.push(dl);
  return out;
}

beforeAll(async () => {
  nats = await startTestNats();
  dataDir = mkdtempSync(path.join(tmpdir(), 'shopstream-collector-'));
  const [collectorPort, adminPort] = [await getFreePort(), await getFreePort()];
  config = testConfig(nats.url, {
    CLICKHOUSE_URL: '',
    CLICKHOUSE_DATA_DIR: dataDir,
    CLICKHOUSE_DATABASE: uniqueName('collector'),
    COLLECTOR_PORT: String(collectorPort),
    COLLECTOR_WRITE_KEYS: `${SHOP}:${WRITE_KEY},other-shop:wk-other`,
    COLLECTOR_SERVER_KEYS: `${SHOP}:${SERVER_KEY}`,
    ADMIN_PORT: String(adminPort),
  });
  service = await startService({ config, logger: createLogger('silent', 'test'), interest: false });
  collectorUrl = `http://127.0.0.1:${collectorPort}/v1/events`;
  sql = sqlOverHttp(`http://127.0.0.1:${adminPort}`, config.admin.token);
  nc = await connectNats(config.nats, 'collector-test');
  jsm = await nc.jetstreamManager();
}, 120_000); // a NATS server and the service with embedded ClickHouse, each with its own 60 s start wait

afterAll(async () => {
  await service?.stop();
  await nc?.drain();
  await nats?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('a batch of 100 events, 3 of them invalid', () => {
  let first: Awaited<ReturnType<typeof postEvents>>;
  let dlqBefore: number;

  beforeAll(async () => {
    dlqBefore = (await summarizeDeadLetters(jsm, config.nats.prefix)).byReason['collector_rejected'] ?? 0;
    first = await postEvents({ batch });
  });

  it('answers 200 with 97 accepted and each of the 3 rejected events with its reason', () => {
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ accepted: 97, duplicates: 0, rejected: 3 });
    expect(first.body.results).toHaveLength(100);
    first.body.results.forEach((r, i) => expect(r.index).toBe(i));

    const rejected = first.body.results.filter((r) => r.status === 'rejected');
    expect(rejected.map((r) => r.index)).toEqual(INVALID);
    expect(first.body.results[MISSING_SKU]).toMatchObject({
      status: 'rejected',
      reason: 'invalid_event',
      errors: [expect.objectContaining({ path: 'product_viewed.product.sku', code: 'required' })],
    });
    expect(first.body.results[UNKNOWN_CHANNEL]).toMatchObject({
      status: 'rejected',
      reason: 'invalid_event',
      errors: [
        expect.objectContaining({
          path: 'channel',
          code: 'enum',
          message: expect.stringContaining('"fax"') as string,
        }),
      ],
    });
    expect(first.body.results[UNKNOWN_SEGMENT_EVENT]).toMatchObject({
      status: 'rejected',
      reason: 'unmappable',
      errors: [
        expect.objectContaining({
          path: 'event',
          code: 'type',
          message: expect.stringContaining('Product Teleported') as string,
        }),
      ],
    });

    const accepted = first.body.results.filter((r) => r.status === 'accepted');
    expect(accepted).toHaveLength(97);
    for (const r of accepted) expect(isUlid(r.event_id ?? '')).toBe(true);
    expect(new Set(accepted.map((r) => r.event_id)).size).toBe(97);
    // a client ULID is scoped by the shop (two shops cannot collide), keeping its time
    expect(first.body.results[0]!.event_id).not.toBe(batch[0]!['event_id']);
    expect(ulidTime(first.body.results[0]!.event_id!)).toBe(ulidTime(batch[0]!['event_id'] as string));
  });

  it('stores exactly the 97 accepted events in ClickHouse, as the right event types', async () => {
    await eventually(countShop, (c) => c.rows >= 97);
    await sinkDrained();
    expect(await countShop()).toEqual({ rows: 97, final: 97, unique: 97 });

    const stored = await sql.query<{ event_id: string; event_type: string }>(
      `SELECT event_id, event_type FROM ${config.clickhouse.database}.events FINAL
       WHERE shop_id = {shop:String} AND producer_id != 'interest-processor'`,
      { shop: SHOP },
    );
    const accepted = first.body.results.filter((r) => r.status === 'accepted').map((r) => r.event_id);
    expect(stored.map((r) => r.event_id).sort()).toEqual([...accepted].sort());

    const expectedTypes: Record<string, number> = {};
    for (const c of cases) if (c.type) expectedTypes[c.type] = (expectedTypes[c.type] ?? 0) + 1;
    const storedTypes: Record<string, number> = {};
    for (const r of stored) storedTypes[r.event_type] = (storedTypes[r.event_type] ?? 0) + 1;
    expect(storedTypes).toEqual(expectedTypes);

    // a Segment Order Completed, mapped: decimals to minor units, several users, anonymous visitors
    const [order] = await sql.query<Record<string, string | number>>(
      `SELECT user_key, channel, order_id, total_minor, discount_minor, coupon_code, currency
         FROM ${config.clickhouse.database}.events WHERE event_id = {id:String}`,
      { id: first.body.results[6]!.event_id },
    );
    expect(order).toMatchObject({
      user_key: userOf(6),
      channel: 'web',
      order_id: 'order-6',
      currency: 'USD',
    });
    expect(Number(order!['total_minor'])).toBe(3097);
    expect(Number(order!['discount_minor'])).toBe(250);
    const [users] = await sql.query<{ users: string | number; anon: string | number }>(
      `SELECT uniqExact(user_key) AS users, countIf(startsWith(user_key, 'anon:')) AS anon
         FROM ${config.clickhouse.database}.events WHERE shop_id = {shop:String}`,
      { shop: SHOP },
    );
    expect(Number(users!.users)).toBe(USERS.length + 3);
    expect(Number(users!.anon)).toBeGreaterThan(0);
  });

  it('keeps the 3 rejected events in the DLQ as collector_rejected, with their JSON', async () => {
    const summary = await eventually(
      () => summarizeDeadLetters(jsm, config.nats.prefix),
      (s) => (s.byReason['collector_rejected'] ?? 0) >= dlqBefore + 3,
    );
    expect(summary.byReason['collector_rejected']).toBe(dlqBefore + 3);

    const letters = await collectorDeadLetters();
    expect(letters).toHaveLength(3);
    const byIndex = new Map(
      letters.map((dl) => {
        const event = JSON.parse(Buffer.from(dl.data).toString('utf8')) as Raw;
        return [batch.findIndex((b) => JSON.stringify(b) === JSON.stringify(event)), { dl, event }];
      }),
    );
    expect([...byIndex.keys()].sort((a, b) => a - b)).toEqual(INVALID);
    for (const [index, { dl, event }] of byIndex) {
      expect(event).toEqual(batch[index]); // the event's JSON as it was posted
      expect(dl).toMatchObject({
        reason: 'collector_rejected',
        shopId: SHOP,
        contentType: 'application/json',
        sourceSubject: 'http:/v1/events',
      });
    }
    expect(byIndex.get(MISSING_SKU)!.dl.detail).toMatch(/^invalid_event: product_viewed\.product\.sku: /);
    expect(byIndex.get(UNKNOWN_CHANNEL)!.dl.detail).toMatch(/^invalid_event: channel: .*"fax"/);
    expect(byIndex.get(UNKNOWN_SEGMENT_EVENT)!.dl.detail).toMatch(/^unmappable: event: .*Product Teleported/);
  });

  it('stores nothing new when the same Segment events are sent again (same messageIds and timestamps)', async () => {
    await sinkDrained();
    const before = await streamMessages();
    const segmentIndexes = cases.flatMap((c, i) => (c.raw['type'] === 'track' && c.type ? [i] : []));
    expect(segmentIndexes.length).toBeGreaterThan(30);

    // as Segment's own SDKs send it: Basic auth with the key as the user name
    const again = await postEvents(
      { batch: segmentIndexes.map((i) => batch[i]) },
      { authorization: `Basic ${Buffer.from(`${SERVER_KEY}:`).toString('base64')}` },
    );
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ accepted: 0, duplicates: segmentIndexes.length, rejected: 0 });
    // the same event_ids as the first time
    expect(again.body.results.map((r) => r.event_id)).toEqual(
      segmentIndexes.map((i) => first.body.results[i]!.event_id),
    );

    expect(await streamMessages()).toBe(before);
    await sinkDrained();
    expect(await countShop()).toEqual({ rows: 97, final: 97, unique: 97 });
  });

  it('stores and dead-letters nothing twice when the whole batch is resent', async () => {
    const before = await streamMessages();
    const again = await postEvents({ batch });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ accepted: 0, duplicates: 97, rejected: 3 });
    expect(again.body.results.filter((r) => r.status === 'rejected').map((r) => r.index)).toEqual(INVALID);
    expect(await streamMessages()).toBe(before);
    await sinkDrained();
    expect(await countShop()).toEqual({ rows: 97, final: 97, unique: 97 });
    // the DLQ drops a resent rejected event (same shop, same JSON) as a duplicate
    expect((await summarizeDeadLetters(jsm, config.nats.prefix)).byReason['collector_rejected']).toBe(
      dlqBefore + 3,
    );
    expect(await collectorDeadLetters()).toHaveLength(3);
  });
});

describe('authentication', () => {
  it('answers 401 without a write key or with an unknown one, and publishes nothing', async () => {
    const before = await streamMessages();
    const dlq = (await summarizeDeadLetters(jsm, config.nats.prefix)).total;
    const one = { batch: [validCase(1001).raw] }; // a product view: the public key may send it
    const attempts: Record<string, string>[] = [
      {},
      { 'x-write-key': 'not-a-key' },
      { authorization: 'Bearer ' },
      { authorization: `Basic ${Buffer.from('not-a-key:').toString('base64')}` },
    ];
    for (const headers of attempts) {
      const res = await postEvents(one, headers);
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({
        error: 'unauthorized',
        message: expect.stringContaining('write key') as string,
      });
    }
    expect(await streamMessages()).toBe(before);
    expect((await summarizeDeadLetters(jsm, config.nats.prefix)).total).toBe(dlq);

    // the same request with the key goes through, for the key's shop
    const ok = await postEvents(one, { 'x-write-key': 'wk-other' });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ accepted: 1, rejected: 0 });
    expect(await streamMessages()).toBe(before + 1);
    const [row] = await eventually(
      () =>
        sql.query<{ shop_id: string }>(
          `SELECT shop_id FROM ${config.clickhouse.database}.events WHERE event_id = {id:String}`,
          { id: ok.body.results[0]!.event_id },
        ),
      (rows) => rows.length === 1,
    );
    expect(row!.shop_id).toBe('other-shop');
  });
});
