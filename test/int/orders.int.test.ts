// The order view on a real NATS server: placed, paid, shipped and delivered sent through the producer
// reach the user's view in KV with the tracking number; a re-published refund and a full redelivery
// (the consumer made again) double nothing; an order event the view cannot use is dead-lettered, an
// invalid one skipped, and the user's later events still apply (the partition is not stuck).
import type { KV, NatsConnection } from 'nats';
import type { Config } from '../../infra/config';
import { createLogger } from '../../infra/logger';
import { connectNats } from '../../infra/nats';
import { eventually } from '../../infra/stack/test-clickhouse';
import { testConfig } from '../../infra/stack/test-config';
import { startTestNats, type TestNats } from '../../infra/stack/test-nats';
import { encodeEnvelope } from '../../schemas/codec';
import type { EnvelopeInit, EventType, PayloadMap } from '../../schemas/events';
import { readDeadLetters } from '../../streams/dlq';
import { findOrder, recentOrders } from '../../streams/processors/orders/lookup';
import { ordersKey, type OrderView } from '../../streams/processors/orders/model';
import { createOrdersProcessor, type OrdersProcessor } from '../../streams/processors/orders/processor';
import { createProducer, type Producer } from '../../streams/producer/producer';
import { eventSubject, names, partitionOf } from '../../streams/topology';
import { applyTopology } from '../../streams/topology-apply';
import { buildEnvelope } from '../helpers/events';

const SHOP = 'shop-o';
const USER = 'u-track';
const T0 = Date.now() - 3 * 86_400_000;
const HOUR = 3_600_000;
let nats: TestNats;
let nc: NatsConnection;
let config: Config;
let producer: Producer;
let kv: KV;
let proc: OrdersProcessor;
let running: Promise<void>;

async function startProcessor(): Promise<void> {
  proc = await createOrdersProcessor({ nc, config, logger: createLogger('silent', 'test'), maxInFlight: 20 });
  running = proc.run();
}

async function stopProcessor(): Promise<void> {
  await proc.stop();
  await running;
}

beforeAll(async () => {
  nats = await startTestNats();
  config = testConfig(nats.url);
  nc = await connectNats(config.nats, 'orders-test');
  await applyTopology(await nc.jetstreamManager(), config);
  producer = await createProducer({ nats: config.nats, shopId: SHOP, connection: nc });
  kv = await nc.jetstream().views.kv(names(config.nats.prefix).ordersBucket, { bindOnly: true });
  await startProcessor();
}, 30_000);

afterAll(async () => {
  await stopProcessor().catch(() => undefined);
  await producer?.close();
  await nc?.drain();
  await nats?.stop();
});

const send = <T extends EventType>(type: T, user: string, at: number, properties: PayloadMap[T]) =>
  producer.track(type, { userId: user, channel: 'server', occurredAt: at, properties });

/** Publishes an envelope as it is (no producer-side validation), with its own message id. */
async function publishRaw(e: EnvelopeInit, type: EventType, msgId = e.eventId!): Promise<void> {
  const p = partitionOf(e.shopId!, e.userId!, config.nats.partitions);
  await nc
    .jetstream()
    .publish(eventSubject(config.nats.prefix, p, type), encodeEnvelope(e), { msgID: msgId });
}

const orderOf = async (user: string, id: string): Promise<OrderView | undefined> =>
  (await recentOrders(kv, SHOP, user)).find((o) => o.orderId === id);

it('placed, paid, shipped and delivered reach the view, delivered with the tracking number', async () => {
  await send('order_placed', USER, T0, {
    orderId: 'A123',
    products: [{ sku: 'PHO-0001', name: 'Orbit phone 12', priceMinor: 129900, quantity: 1 }],
    totalMinor: 129900,
    currency: 'CNY',
  });
  await send('order_paid', USER, T0 + 60_000, { orderId: 'A123', paymentMethod: 'alipay' });
  await send('order_shipped', USER, T0 + 20 * HOUR, {
    orderId: 'A123',
    carrier: 'SF',
    trackingNumber: 'SF1234567890',
    estimatedDeliveryAt: T0 + 68 * HOUR,
  });
  await send('order_delivered', USER, T0 + 60 * HOUR, { orderId: 'A123' });
  const o = await eventually(
    () => orderOf(USER, 'A123'),
    (v) => v?.status === 'delivered',
    8000,
  );
  expect(o).toMatchObject({
    status: 'delivered',
    totalMinor: 129900,
    currency: 'CNY',
    at: { placed: T0, paid: T0 + 60_000, shipped: T0 + 20 * HOUR, delivered: T0 + 60 * HOUR },
    shipment: { carrier: 'SF', trackingNumber: 'SF1234567890', estimatedDeliveryAt: T0 + 68 * HOUR },
  });
  expect((await findOrder(kv, SHOP, USER, 'sf 1234 5678 90'))?.orderId).toBe('A123');
  expect(proc.stats()).toMatchObject({ applied: 4, failed: 0, refused: 0 });
});

it('a re-published refund and a full redelivery double nothing', async () => {
  const refund = buildEnvelope(
    'order_refunded',
    { shopId: SHOP, userId: USER, occurredAt: T0 + 80 * HOUR, channel: 8 },
    { orderId: 'A123', totalMinor: 5000, currency: 'CNY' },
  );
  await publishRaw(refund, 'order_refunded');
  // the same event again under another message id: past the stream's duplicate window
  await publishRaw(refund, 'order_refunded', `${refund.eventId!}-again`);
  await eventually(
    () => Promise.resolve(proc.stats()),
    (s) => s.duplicates >= 1,
    8000,
  );
  const before = await kv.get(ordersKey(SHOP, USER));
  expect(await orderOf(USER, 'A123')).toMatchObject({ status: 'refunded', refundedMinor: 5000 });

  // every order event delivered again: the consumer made anew from the start of the stream
  await stopProcessor();
  const n = names(config.nats.prefix);
  const jsm = await nc.jetstreamManager();
  await jsm.consumers.delete(n.eventsStream, n.ordersConsumer);
  await applyTopology(jsm, config);
  await startProcessor();
  await eventually(
    () => Promise.resolve(proc.stats()),
    (s) => s.duplicates + s.unchanged >= 6,
    8000,
  );
  expect(proc.stats()).toMatchObject({ applied: 0, duplicates: 6, failed: 0 });
  const after = await kv.get(ordersKey(SHOP, USER));
  expect(after?.revision).toBe(before?.revision); // not written again
  expect(await orderOf(USER, 'A123')).toMatchObject({ status: 'refunded', refundedMinor: 5000 });
});

it('dead-letters an order event the view cannot use, skips an invalid one, and goes on', async () => {
  const user = 'u-poison';
  const bad = buildEnvelope(
    'order_shipped',
    { shopId: SHOP, userId: user, occurredAt: T0 + HOUR, channel: 8 },
    { orderId: 'B1', carrier: 'SF', trackingNumber: '<script>alert(1)</script>' },
  );
  const invalid = buildEnvelope(
    'order_paid',
    { shopId: SHOP, userId: user, occurredAt: T0 + HOUR, channel: 8 },
    { orderId: '' },
  );
  await send('order_placed', user, T0, { orderId: 'B1', products: [{ sku: 'X-1' }], totalMinor: 100 });
  await publishRaw(bad, 'order_shipped');
  await publishRaw(invalid, 'order_paid');
  await send('order_delivered', user, T0 + 2 * HOUR, { orderId: 'B1' });
  const o = await eventually(
    () => orderOf(user, 'B1'),
    (v) => v?.status === 'delivered',
    8000,
  );
  expect(o?.shipment).toBeUndefined();
  expect(proc.stats()).toMatchObject({ refused: 1, invalid: 1 });
  const letters = [];
  for await (const d of readDeadLetters(nc.jetstream(), await nc.jetstreamManager(), config.nats.prefix))
    letters.push(d);
  expect(letters).toHaveLength(1);
  expect(letters[0]).toMatchObject({ reason: 'processing_failed' });
  expect(letters[0]!.detail).toMatch(/^orders: order_shipped\.tracking_number/);
  expect(letters[0]!.sourceSubject).toMatch(
    new RegExp(`^${config.nats.prefix}\\.events\\.\\d+\\.order_shipped$`),
  );
});
