// The collector with real clients and hostile traffic, on a real NATS JetStream (no ClickHouse: what
// counts here is what reaches the events and dead-letter streams):
// - the official Segment (@segment/analytics-node) and RudderStack (@rudderstack/rudder-sdk-node)
//   Node libraries, configured with nothing but host and write key (and a short flush interval so the
//   test is quick), deliver every browse and cart event, and their identify and page calls are stored;
// - a 10,000-deep event and a rejected event near 1 MiB (its copy over NATS's max payload) are
//   dead-lettered while the good events of their batch are stored (200, never 503);
// - with NATS down a request is answered 503 within COLLECTOR_PUBLISH_TIMEOUT, not held for 30 s.
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { JetStreamManager, NatsConnection } from 'nats';
import { Analytics as SegmentAnalytics } from '@segment/analytics-node';
import RudderAnalytics from '@rudderstack/rudder-sdk-node';
import type { Config } from '../../infra/config';
import { createLogger } from '../../infra/logger';
import type { Envelope, EventType } from '../../schemas/events';
import { buildCollector, DEAD_LETTER_MAX_BYTES, type BatchResponse } from '../../streams/collector/server';
import { publishDeadLetter, readDeadLetters, type StoredDeadLetter } from '../../streams/dlq';
import { connectNats } from '../../infra/nats';
import { createProducer, type Producer } from '../../streams/producer/producer';
import { applyTopology } from '../../streams/topology-apply';
import { eventually } from '../../infra/stack/test-clickhouse';
import { eventsOnStream, startTestNats, type TestNats } from '../../infra/stack/test-nats';
import { testConfig } from '../../infra/stack/test-config';

jest.setTimeout(60_000);
const SHOP = 'shop-clients';
const WRITE_KEY = 'wk-clients-public';
const SERVER_KEY = 'sk-clients-server';

let nats: TestNats;
let nc: NatsConnection;
let jsm: JetStreamManager;
let config: Config;
let producer: Producer;
let app: FastifyInstance;
let host: string;

beforeAll(async () => {
  nats = await startTestNats();
  config = testConfig(nats.url, {
    COLLECTOR_WRITE_KEYS: `${SHOP}:${WRITE_KEY}`,
    COLLECTOR_SERVER_KEYS: `${SHOP}:${SERVER_KEY}`,
    COLLECTOR_MAX_BODY_BYTES: String(2 * 1024 * 1024),
    COLLECTOR_PUBLISH_TIMEOUT: '2s',
  });
  nc = await connectNats(config.nats, 'collector-clients-test');
  jsm = await nc.jetstreamManager();
  await applyTopology(jsm, config);
  // as streams/service.ts builds it
  producer = await createProducer({
    nats: config.nats,
    shopId: 'collector',
    connection: nc,
    publishTimeoutMs: Math.min(5000, config.collector.publishTimeoutMs),
    maxPublishMs: config.collector.publishTimeoutMs,
  });
  const js = nc.jetstream();
  app = buildCollector({
    config: { ...config.collector, port: 0 },
    publish: (e) => producer.publish(e),
    deadLetter: (dl) => publishDeadLetter(js, config.nats.prefix, dl),
    logger: createLogger('silent', 'test'),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  host = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}, 60_000);

afterAll(async () => {
  await app?.close();
  await producer?.close();
  await nc?.close();
  await nats?.stop();
});

/** The events of one type and user on the events stream. */
async function stored(type: EventType, userId: string): Promise<Envelope[]> {
  return (await eventsOnStream(nc, config, type)).filter((e) => e.userId === userId && e.shopId === SHOP);
}

async function deadLetters(): Promise<StoredDeadLetter[]> {
  const out: StoredDeadLetter[] = [];
  for await (const dl of readDeadLetters(nc.jetstream(), jsm, config.nats.prefix, {
    reason: 'collector_rejected',
  }))
    out.push(dl);
  return out;
}

/** A shopper's session as both libraries send it: browse, cart, identify, page. */
type Props = Record<string, string | number>;
interface Session {
  track(event: string, properties: Props): void;
  identify(traits: Props): void;
  page(name: string, properties: Props): void;
}

function shop(s: Session): void {
  s.page('Phones', { url: 'https://shop.example/phones', path: '/phones' });
  s.track('Products Searched', { query: 'power bank' });
  s.track('Product Viewed', { sku: 'SKU-1', product_id: 'P-1', name: 'Mug', price: 9.5, currency: 'USD' });
  s.track('Product Viewed', { product_id: 'P-2', name: 'Cup', price: 4 }); // no sku: optional in the spec
  s.track('Product Added', { cart_id: 'cart-1', product_id: 'P-1', sku: 'SKU-1', price: 9.5, quantity: 1 });
  s.track('Product Added', { cart_id: 'cart-1', product_id: 'P-2', price: 4, quantity: 2 });
  s.track('Product Removed', { cart_id: 'cart-1', product_id: 'P-2', price: 4 });
  s.track('Checkout Started', { cart_id: 'cart-1', value: 9.5, currency: 'USD' });
  s.identify({ plan: 'gold', email: 'ada@example.com' });
}

async function expectSessionStored(userId: string): Promise<void> {
  const expected: [EventType, number][] = [
    ['page_viewed', 1],
    ['products_searched', 1],
    ['product_viewed', 2],
    ['cart_item_added', 2],
    ['cart_item_removed', 1],
    ['checkout_started', 1],
    ['user_identified', 1],
  ];
  for (const [type, n] of expected) {
    const events = await eventually(
      () => stored(type, userId),
      (e) => e.length >= n,
    );
    expect([type, events.length]).toEqual([type, n]);
  }
  const viewed = await stored('product_viewed', userId);
  expect(viewed.map((e) => e.productViewed!.product!.sku).sort()).toEqual(['P-2', 'SKU-1']);
  const [identified] = await stored('user_identified', userId);
  expect(identified!.userIdentified!.traits).toEqual(
    expect.arrayContaining([expect.objectContaining({ name: 'plan', value: '"gold"' })]),
  );
  const [page] = await stored('page_viewed', userId);
  expect(page!.pageViewed).toMatchObject({ url: 'https://shop.example/phones', path: '/phones' });
}

describe('official client libraries, configured with host and write key only', () => {
  it('Segment analytics-node: every browse and cart event, identify and page are stored', async () => {
    const userId = 'u-segment';
    const errors: unknown[] = [];
    const analytics = new SegmentAnalytics({ writeKey: WRITE_KEY, host, flushInterval: 50 });
    analytics.on('error', (err) => errors.push(err));
    shop({
      track: (event, properties) => analytics.track({ userId, event, properties }),
      identify: (traits) => analytics.identify({ userId, traits }),
      page: (name, properties) => analytics.page({ userId, name, properties }),
    });
    await analytics.closeAndFlush({ timeout: 20_000 });
    expect(errors).toEqual([]);
    await expectSessionStored(userId);
  });

  it('RudderStack rudder-sdk-node (its default in-memory queue, no Redis): the same', async () => {
    const userId = 'u-rudder';
    const errors: unknown[] = [];
    const client = new RudderAnalytics(WRITE_KEY, {
      dataPlaneUrl: host,
      flushInterval: 50,
      errorHandler: (err: unknown) => errors.push(err),
    });
    shop({
      track: (event, properties) => client.track({ userId, event, properties }),
      identify: (traits) => client.identify({ userId, traits }),
      page: (name, properties) => client.page({ userId, name, properties }),
    });
    await client.flush();
    await eventually(
      async () => (await stored('user_identified', userId)).length,
      (n) => n >= 1,
    );
    expect(errors).toEqual([]);
    await expectSessionStored(userId);
  });
});

describe('hostile events in a batch of good ones', () => {
  const good = (i: number): Record<string, unknown> => ({
    type: 'track',
    event: 'Products Searched',
    userId: 'u-hostile',
    messageId: `hostile-good-${i}`,
    properties: { query: `query ${i}` },
  });

  async function post(body: string): Promise<{ status: number; body: BatchResponse }> {
    const res = await fetch(`${host}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-write-key': WRITE_KEY },
      body,
    });
    return { status: res.status, body: (await res.json()) as BatchResponse };
  }

  it('dead-letters a 10,000-deep event and one near 1 MiB, and stores the good ones (200)', async () => {
    const deep = `{"type":"track","event":"Products Searched","userId":"u-deep","x":${'['.repeat(10_000)}${']'.repeat(10_000)}}`;
    const huge = JSON.stringify({ ...good(99), event: 'Product Teleported', blob: 'x'.repeat(1_000_000) });
    const res = await post(`[${JSON.stringify(good(1))},${deep},${huge},${JSON.stringify(good(2))}]`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accepted: 2, rejected: 2 });
    expect(res.body.results.map((r) => r.reason)).toEqual([
      undefined,
      'invalid_event',
      'unmappable',
      undefined,
    ]);

    const letters = await eventually(deadLetters, (d) => d.length >= 2);
    const copy = letters.find((d) => d.detail.startsWith('unmappable'))!;
    expect(copy.data.length).toBeLessThanOrEqual(DEAD_LETTER_MAX_BYTES);
    expect(copy.detail).toMatch(/truncated/);
    const deepCopy = letters.find((d) => d.detail.startsWith('invalid_event'))!;
    expect(Buffer.from(deepCopy.data).toString('utf8')).toBe(deep);
    expect(await stored('products_searched', 'u-hostile')).toHaveLength(2);
  });
});

describe('server keys', () => {
  it('stores an order from the server key and dead-letters the same order from the public key', async () => {
    const order = (messageId: string) => ({
      type: 'track',
      event: 'Order Completed',
      userId: 'u-order',
      messageId,
      properties: { order_id: messageId, products: [{ sku: 'SKU-1', price: 9.5 }], total: 9.5 },
    });
    const send = (key: string, body: unknown) =>
      fetch(`${host}/v1/track`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` },
        body: JSON.stringify(body),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as BatchResponse }));
    const forged = await send(WRITE_KEY, order('o-forged'));
    expect(forged.body.results[0]).toMatchObject({ status: 'rejected', reason: 'forbidden_event' });
    const real = await send(SERVER_KEY, order('o-real'));
    expect(real.body).toMatchObject({ accepted: 1 });
    const orders = await eventually(
      () => stored('order_placed', 'u-order'),
      (o) => o.length >= 1,
    );
    expect(orders.map((o) => o.orderPlaced!.orderId)).toEqual(['o-real']);
  });
});

describe('NATS down', () => {
  it('answers 503 with Retry-After within COLLECTOR_PUBLISH_TIMEOUT instead of holding the request', async () => {
    await nats.stop();
    const started = Date.now();
    const res = await fetch(`${host}/v1/batch`, {
      method: 'POST',
      headers: { 'x-write-key': WRITE_KEY },
      body: JSON.stringify({
        batch: ['a', 'b', 'c'].map((u) => ({
          type: 'track',
          event: 'Products Searched',
          userId: `u-${u}`,
          properties: { query: 'q' },
        })),
      }),
    });
    const took = Date.now() - started;
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    // a 2 s publish budget, at least 1 s for dead letters, a little for the rest
    expect(took).toBeLessThan(4000);
  });
});
