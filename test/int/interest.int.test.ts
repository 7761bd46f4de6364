// The interest processor on a real NATS server: two instances on the same users lose no update,
// redelivery counts nothing twice, and the stored state equals applying the events in memory; a tier
// change lands on the stream as one tier_changed event even when its causing message is redelivered.
import type { NatsConnection } from 'nats';
import type { Config } from '../../infra/config';
import { createLogger } from '../../infra/logger';
import { decodeEnvelope, encodeEnvelope } from '../../schemas/codec';
import type { EnvelopeInit } from '../../schemas/events';
import { EventValidationError } from '../../schemas/validate';
import { connectNats } from '../../infra/nats';
import { applyEvent, emptyState, valueAt } from '../../streams/processors/interest/model';
import { createInterestProcessor, type InterestProcessor } from '../../streams/processors/interest/processor';
import { INTEREST_PRODUCER_ID } from '../../streams/processors/interest/tier-changes';
import { createProducer, type TrackReceipt } from '../../streams/producer/producer';
import { interestConsumer, names } from '../../streams/topology';
import { applyTopology } from '../../streams/topology-apply';
import { buildEnvelope } from '../helpers/events';
import { eventually } from '../../infra/stack/test-clickhouse';
import { eventsOnStream, startTestNats, type TestNats } from '../../infra/stack/test-nats';
import { testConfig } from '../../infra/stack/test-config';
import { tinyCatalog as catalog } from '../helpers/tiny-catalog';

let nats: TestNats;
let nc: NatsConnection;
let config: Config;
const T0 = Date.UTC(2026, 10, 1);
const USERS = 5;
const PER_USER = 300;
const SKUS = ['PH-1', 'PH-2', 'PB-1', 'CS-1', 'CM-1', 'CB-1'];

beforeAll(async () => {
  nats = await startTestNats();
  config = testConfig(nats.url, { INTEREST_BATCH_SIZE: '50' });
  nc = await connectNats(config.nats, 'interest-test');
  await applyTopology(await nc.jetstreamManager(), config);
});

afterAll(async () => {
  await nc?.drain();
  await nats?.stop();
});

function events() {
  return Array.from({ length: USERS * PER_USER }, (_, i) =>
    buildEnvelope(
      i % 7 === 0 ? 'cart_item_added' : 'product_viewed',
      { shopId: 'shop-1', userId: `user-${i % USERS}`, occurredAt: T0 + i * 1000 },
      (i % 7 === 0
        ? { cartId: 'c', product: { sku: SKUS[i % SKUS.length] } }
        : { product: { sku: SKUS[i % SKUS.length] } }) as never,
    ),
  );
}

it('two instances on the same users lose no update, and the state equals the in-memory result', async () => {
  const all = events();
  const producer = await createProducer({ nats: config.nats, shopId: 'shop-1', connection: nc });
  const seqs = new Map<string, number>();
  for (const e of all) seqs.set(e.eventId!, (await producer.publish(e)).seq);
  await producer.close();

  // both instances consume every partition: JetStream splits messages between them, so the same
  // user's events are applied by both, and only compare-and-set keeps the count right
  const logger = createLogger(process.env['TEST_LOG'] ?? 'silent', 'test');
  const a = await createInterestProcessor({ nc, config, catalog, logger });
  const b = await createInterestProcessor({ nc, config, catalog, logger });
  const runs = [a.run(), b.run()];
  const processed = (p: InterestProcessor): number => p.stats().applied;
  await eventually(
    () => Promise.resolve(processed(a) + processed(b)),
    (n) => n >= all.length,
    60_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; a ${JSON.stringify(a.stats())} b ${JSON.stringify(b.stats())}`);
  });
  await Promise.all([a.stop(), b.stop()]);
  await Promise.all(runs);
  expect(processed(a) + processed(b)).toBe(all.length);
  expect(a.stats().applied).toBeGreaterThan(0);
  expect(b.stats().applied).toBeGreaterThan(0);
  expect(a.stats().conflicts + b.stats().conflicts).toBeGreaterThan(0); // they did collide

  const halfLives = { shortMs: config.interest.shortHalfLifeMs, longMs: config.interest.longHalfLifeMs };
  for (let u = 0; u < USERS; u++) {
    const { state } = await a.store.load('shop-1', `user-${u}`);
    expect(state.counters.events).toBe(PER_USER);
    const expected = emptyState('shop-1', `user-${u}`, catalog.features.size);
    for (const e of all.filter((x) => x.userId === `user-${u}`)) {
      const d = decodeEnvelope(encodeEnvelope(e));
      if (!d.ok) throw new Error(d.detail);
      applyEvent(expected, d.envelope, d.type, seqs.get(e.eventId!)!, catalog, halfLives);
    }
    expect(state.counters).toEqual(expected.counters);
    const at = T0 + all.length * 1000;
    const got = valueAt(state.long, at, halfLives.longMs).getRow(0);
    valueAt(expected.long, at, halfLives.longMs)
      .getRow(0)
      .forEach((x, i) => expect(got[i]).toBeCloseTo(x, 9));
  }
});

it('counts nothing twice when everything is delivered again', async () => {
  const before = await Promise.all(
    Array.from({ length: USERS }, async (_, u) => {
      const p = await createInterestProcessor({
        nc,
        config,
        catalog,
        logger: createLogger('silent', 'test'),
        partitions: [],
      });
      return (await p.store.load('shop-1', `user-${u}`)).state.counters.events;
    }),
  );
  // reset every partition consumer to the start of the stream: a full redelivery
  const jsm = await nc.jetstreamManager();
  const n = names(config.nats.prefix);
  for (let p = 0; p < config.nats.partitions; p++)
    await jsm.consumers.delete(n.eventsStream, interestConsumer(p));
  await applyTopology(jsm, config);
  const again = await createInterestProcessor({
    nc,
    config,
    catalog,
    logger: createLogger('silent', 'test'),
  });
  const run = again.run();
  await eventually(
    () => Promise.resolve(again.stats().skippedDuplicates),
    (k) => k >= USERS * PER_USER,
    60_000,
  );
  await again.stop();
  await run;
  expect(again.stats().applied).toBe(0);
  for (let u = 0; u < USERS; u++) {
    expect((await again.store.load('shop-1', `user-${u}`)).state.counters.events).toBe(before[u]);
  }
});

it('publishes each tier change once, even when its causing message is redelivered', async () => {
  const shopId = 'shop-tier';
  const producer = await createProducer({ nats: config.nats, shopId, connection: nc });
  await expect(
    producer.track('product_viewed', {
      userId: 'buyer-a',
      channel: 'web',
      timeZone: 'Mars/Olympus_Mons',
      properties: { product: { sku: 'PH-1' } },
    }),
  ).rejects.toBeInstanceOf(EventValidationError);
  const orders = new Map<string, TrackReceipt[]>([
    ['buyer-a', []],
    ['buyer-b', []],
  ]);
  const zones: Record<string, string> = { 'buyer-a': 'Asia/Shanghai', 'buyer-b': '+08:00' };
  // buyer-a: five orders (new -> repeat at the 2nd, repeat -> high_value at the 5th); buyer-b: two
  for (const [user, count] of [
    ['buyer-a', 5],
    ['buyer-b', 2],
  ] as const) {
    await producer.track('product_viewed', {
      userId: user,
      channel: 'web',
      occurredAt: T0,
      timeZone: 'Europe/Berlin',
      properties: { product: { sku: 'PH-1' } },
    });
    for (let i = 1; i <= count; i++) {
      const r = await producer.track('order_placed', {
        userId: user,
        channel: 'web',
        occurredAt: T0 + i * 60_000,
        timeZone: zones[user]!,
        properties: { orderId: `${user}-o${i}`, products: [{ sku: 'PH-2' }], totalMinor: 1000 },
      });
      orders.get(user)!.push(r);
    }
  }
  await producer.close();

  // buyer-a's process "crashes" after the publish, before the ack; buyer-b's after the state write,
  // before the publish: the first attempt of each change fails, the batch is nak'd and redelivered
  const out = await createProducer({
    nats: config.nats,
    shopId: '',
    producerId: INTEREST_PRODUCER_ID,
    connection: nc,
  });
  const failedOnce = new Set<string>();
  const done = new Set<string>();
  const receipts: TrackReceipt[] = [];
  const publish = async (e: EnvelopeInit): Promise<TrackReceipt> => {
    const first = !failedOnce.has(e.eventId!);
    if (first) failedOnce.add(e.eventId!);
    if (first && e.userId === 'buyer-b') throw new Error('crashed before publishing');
    const r = await out.publish(e);
    receipts.push(r);
    if (first) throw new Error('crashed after publishing, before the ack');
    done.add(e.eventId!);
    return r;
  };
  const p = await createInterestProcessor({
    nc,
    config,
    catalog,
    logger: createLogger(process.env['TEST_LOG'] ?? 'silent', 'test'),
    publish,
  });
  const run = p.run();
  const orderCount = async (user: string): Promise<number> =>
    (await p.store.load(shopId, user)).state.counters.orders;
  await eventually(
    async () => ({
      done: done.size,
      a: await orderCount('buyer-a'),
      b: await orderCount('buyer-b'),
      ignored: p.stats().ignored,
    }),
    (v) => v.done === 3 && v.a === 5 && v.b === 2 && v.ignored >= 3, // our own 3 events came back
    60_000,
  );
  await p.stop();
  await run;
  await out.close();

  expect(failedOnce.size).toBe(3);
  // a redelivered batch published its changes again, with the same ids: JetStream dropped the copies
  expect(receipts.filter((r) => r.duplicate).length).toBeGreaterThan(0);
  const events = (await eventsOnStream(nc, config, 'tier_changed')).filter((e) => e.shopId === shopId);
  const summary = events.map((e) => ({
    user: e.userId,
    from: e.tierChanged!.previousTier,
    to: e.tierChanged!.tier,
    reason: e.tierChanged!.reason,
    at: Number(e.occurredAt),
    producer: e.producerId,
  }));
  expect(summary).toHaveLength(3); // once each
  const causeA = orders.get('buyer-a')!;
  const causeB = orders.get('buyer-b')!;
  expect(summary).toEqual(
    expect.arrayContaining([
      {
        user: 'buyer-a',
        from: 'new',
        to: 'repeat',
        reason: '2 orders',
        at: T0 + 120_000,
        producer: INTEREST_PRODUCER_ID,
      },
      {
        user: 'buyer-a',
        from: 'repeat',
        to: 'high_value',
        reason: expect.stringMatching(/^5 orders/) as string,
        at: T0 + 300_000,
        producer: INTEREST_PRODUCER_ID,
      },
      {
        user: 'buyer-b',
        from: 'new',
        to: 'repeat',
        reason: '2 orders',
        at: T0 + 120_000,
        producer: INTEREST_PRODUCER_ID,
      },
    ]),
  );
  // sequence = the causing message's stream sequence
  expect(events.map((e) => Number(e.sequence)).sort((x, y) => x - y)).toEqual(
    [causeA[1]!.seq, causeA[4]!.seq, causeB[1]!.seq].sort((x, y) => x - y),
  );
  expect(new Set(events.map((e) => e.eventId)).size).toBe(3);

  // nothing counted twice, nothing pending, and the latest zone by event time
  for (const [user, count] of [
    ['buyer-a', 5],
    ['buyer-b', 2],
  ] as const) {
    const { state } = await p.store.load(shopId, user);
    expect(state.counters.events).toBe(count + 1); // the view and the orders, not the tier_changed events
    expect(state.timeZone).toBe(zones[user]);
  }
});
