// The interest processor against hostile input on a real NATS server (issue 8): one user's huge
// profile never blocks a partition, a profile that cannot be stored dead-letters that user's events
// alone, an event dated year 3000 does not freeze a profile, and an order re-published under a new
// event id counts once.
import type { NatsConnection } from 'nats';
import type { Config } from '../../infra/config';
import { createLogger } from '../../infra/logger';
import { encodeEnvelope } from '../../schemas/codec';
import type { EnvelopeInit, EventType } from '../../schemas/events';
import { readDeadLetters } from '../../streams/dlq';
import { connectNats } from '../../infra/nats';
import { valueAt } from '../../streams/processors/interest/model';
import { createInterestProcessor, type InterestProcessor } from '../../streams/processors/interest/processor';
import { eventSubject, interestConsumer, names, partitionOf } from '../../streams/topology';
import { applyTopology } from '../../streams/topology-apply';
import { eventually } from '../../infra/stack/test-clickhouse';
import { buildEnvelope } from '../helpers/events';
import { startTestNats, type TestNats } from '../../infra/stack/test-nats';
import { testConfig } from '../../infra/stack/test-config';
import { tinyCatalog as catalog } from '../helpers/tiny-catalog';

let nats: TestNats;
let nc: NatsConnection;
const NOW = Date.now();
const logger = createLogger(process.env['TEST_LOG'] ?? 'silent', 'test');

beforeAll(async () => {
  nats = await startTestNats();
  nc = await connectNats(testConfig(nats.url).nats, 'interest-poison-test');
});

afterAll(async () => {
  await nc?.drain();
  await nats?.stop();
});

async function freshTopology(): Promise<Config> {
  const config = testConfig(nats.url, { INTEREST_BATCH_SIZE: '50' });
  await applyTopology(await nc.jetstreamManager(), config);
  return config;
}

/** Publishes the encoded envelope as it is (no producer-side validation), to its partition subject. */
async function publishRaw(config: Config, e: EnvelopeInit, type: EventType): Promise<number> {
  const key = e.userId || `anon:${e.anonymousId}`;
  const subject = eventSubject(config.nats.prefix, partitionOf(e.shopId!, key, config.nats.partitions), type);
  const ack = await nc.jetstream().publish(subject, encodeEnvelope(e), { msgID: e.eventId! });
  return ack.seq;
}

/** A user id in the same partition as `other`. */
function neighbourOf(config: Config, shopId: string, other: string): string {
  const p = partitionOf(shopId, other, config.nats.partitions);
  for (let i = 0; ; i++)
    if (partitionOf(shopId, `small-${i}`, config.nats.partitions) === p) return `small-${i}`;
}

const view = (shopId: string, userId: string, at: number, product: Record<string, unknown>) =>
  buildEnvelope('product_viewed', { shopId, userId, occurredAt: at }, { product });

async function runUntil<T>(
  p: InterestProcessor,
  read: () => Promise<T>,
  check: (v: T) => boolean,
  timeoutMs = 90_000,
): Promise<T> {
  const run = p.run();
  try {
    return await eventually(read, check, timeoutMs).catch((err: Error) => {
      throw new Error(`${err.message}; stats ${JSON.stringify(p.stats())}`);
    });
  } finally {
    await p.stop();
    await run;
  }
}

it('one user with thousands of distinct compared products does not block the partition', async () => {
  const config = await freshTopology();
  const shopId = 'shop-big';
  const small = neighbourOf(config, shopId, 'big');
  const BIG = 3000;
  const pad = (i: number, c: string, n: number) => `${c}${i}-`.padEnd(n, c);
  // distinct 256-character categories and 128-character skus (the longest validation allows):
  // before the caps, `compared` passed the server's 1 MiB max_payload near the 2,600th event
  for (let i = 0; i < BIG; i++)
    await publishRaw(
      config,
      view(shopId, 'big', NOW - 3_600_000 + i, { sku: pad(i, 's', 128), category: pad(i, 'c', 256) }),
      'product_viewed',
    );
  for (let i = 0; i < 20; i++)
    await publishRaw(config, view(shopId, small, NOW - 60_000 + i, { sku: 'PH-1' }), 'product_viewed');

  const p = await createInterestProcessor({ nc, config, catalog, logger });
  const got = await runUntil(
    p,
    async () => ({
      small: (await p.store.load(shopId, small)).state.counters.events,
      big: (await p.store.load(shopId, 'big')).state.counters.events,
    }),
    (v) => v.small === 20 && v.big === BIG,
  );
  expect(got).toEqual({ small: 20, big: BIG });
  const entry = await p.store.kv.get(`${shopId}.big`);
  expect(entry!.value.length).toBeLessThan(64 * 1024);
  expect(p.stats().deadLettered).toBe(0);
});

it("a profile the bucket refuses dead-letters that user's new events only; the partition goes on", async () => {
  const config = await freshTopology();
  const jsm = await nc.jetstreamManager();
  const shopId = 'shop-dlq';
  const small = neighbourOf(config, shopId, 'wide');
  const n = names(config.nats.prefix);
  const consumerName = interestConsumer(partitionOf(shopId, 'wide', config.nats.partitions));
  const events = async (p: InterestProcessor, user: string): Promise<number> =>
    (await p.store.load(shopId, user)).state.counters.events;

  // five events of the wide user are applied and stored
  for (let i = 0; i < 5; i++)
    await publishRaw(config, view(shopId, 'wide', NOW - 7_200_000 + i, { sku: 'PH-1' }), 'product_viewed');
  const first = await createInterestProcessor({ nc, config, catalog, logger });
  await runUntil(
    first,
    () => events(first, 'wide'),
    (k) => k === 5,
  );

  // then many more with long skus, and the small user's after them in the same partition
  const wide: number[] = [];
  for (let i = 0; i < 120; i++)
    wide.push(
      await publishRaw(
        config,
        view(shopId, 'wide', NOW - 3_600_000 + i, { sku: `W-${i}`.padEnd(128, 'w') }),
        'product_viewed',
      ),
    );
  for (let i = 0; i < 10; i++)
    await publishRaw(config, view(shopId, small, NOW - 60_000 + i, { sku: 'PH-1' }), 'product_viewed');
  // and everything is delivered again from the start (the five applied ones among them)
  await jsm.consumers.delete(n.eventsStream, consumerName);
  await applyTopology(jsm, config);

  const p = await createInterestProcessor({ nc, config, catalog, logger });
  // the bucket's values are limited after the processor read the limit, so the server itself refuses
  // the write: the small user's state fits, the wide user's no longer does
  const stream = `KV_${n.profilesBucket}`;
  const si = await jsm.streams.info(stream);
  await jsm.streams.update(stream, { ...si.config, max_msg_size: 2500 });
  const got = await runUntil(
    p,
    async () => ({
      small: await events(p, small),
      wide: await events(p, 'wide'),
      deadLettered: p.stats().deadLettered,
    }),
    (v) => v.small === 10 && v.deadLettered === 120,
  );
  // the five stored before are skipped by the watermark, never dead-lettered
  expect(got).toEqual({ small: 10, wide: 5, deadLettered: 120 });
  const letters = [];
  for await (const dl of readDeadLetters(nc.jetstream(), jsm, config.nats.prefix, {
    reason: 'processing_failed',
  }))
    letters.push(dl);
  // one dead letter per event not applied, with its stream sequence, and nothing of the small user
  expect(letters.map((dl) => dl.sourceSequence).sort((a, b) => a! - b!)).toEqual(wide);
  for (const dl of letters) {
    expect(dl.detail).toMatch(/interest profile could not be stored.*maximum/);
    expect(dl.shopId).toBe(shopId);
  }
  const consumer = await jsm.consumers.info(n.eventsStream, consumerName);
  expect(consumer.num_ack_pending).toBe(0); // all acked: applied, skipped or dead-lettered
  expect(consumer.num_pending).toBe(0);
});

it('after an event dated year 3000, real events still change the profile', async () => {
  const config = await freshTopology();
  const shopId = 'shop-future';
  const halfLives = { shortMs: config.interest.shortHalfLifeMs, longMs: config.interest.longHalfLifeMs };
  const phones = catalog.features.index.get('category:phones')!;
  await publishRaw(config, view(shopId, 'u', NOW - 120_000, { sku: 'PB-1' }), 'product_viewed');
  await publishRaw(config, view(shopId, 'u', Date.UTC(3000, 0, 1), { sku: 'PB-1' }), 'product_viewed');
  for (let i = 0; i < 3; i++)
    await publishRaw(config, view(shopId, 'u', NOW - 60_000 + i, { sku: 'PH-1' }), 'product_viewed');

  const p = await createInterestProcessor({ nc, config, catalog, logger });
  const state = await runUntil(
    p,
    async () => (await p.store.load(shopId, 'u')).state,
    // not applied: too far ahead of its arrival (or invalid, once validation bounds occurred_at)
    (s) => s.counters.events === 4 && p.stats().future + p.stats().invalid === 1,
  );
  expect(state.short.at).toBeLessThan(NOW + 600_000);
  // the three phone views count: short-term phone interest near 3 (decayed by a minute at most)
  expect(valueAt(state.short, NOW, halfLives.shortMs).get(0, phones)).toBeGreaterThan(2.5);
});

it('an order re-published with a new event id counts once', async () => {
  const config = await freshTopology();
  const shopId = 'shop-orders';
  const order = (at: number, orderId: string) =>
    buildEnvelope(
      'order_placed',
      { shopId, userId: 'buyer', occurredAt: at },
      {
        orderId,
        products: [{ sku: 'PH-2' }],
        totalMinor: 1000,
      },
    );
  await publishRaw(config, order(NOW - 3_600_000, 'o-1'), 'order_placed');
  // a retry after the 10-minute duplicate window: a new event id, so JetStream stores it again
  await publishRaw(config, order(NOW - 3_000_000, 'o-1'), 'order_placed');
  await publishRaw(config, view(shopId, 'buyer', NOW - 60_000, { sku: 'PH-1' }), 'product_viewed');
  const p = await createInterestProcessor({ nc, config, catalog, logger });
  const state = await runUntil(
    p,
    async () => (await p.store.load(shopId, 'buyer')).state,
    (s) => s.counters.views === 1,
  );
  expect(state.counters).toMatchObject({ orders: 1, spendMinor: 1000, events: 2 });
  expect(p.stats().tierChangesPublished).toBe(0); // one order: still 'new'
});

it('an invalid event (the sink dead-letters it) is not applied: no string past its bound reaches a profile', async () => {
  const config = await freshTopology();
  const shopId = 'shop-invalid';
  await publishRaw(config, view(shopId, 'u', NOW - 2000, { sku: 'x'.repeat(10_000) }), 'product_viewed');
  await publishRaw(config, view(shopId, 'u', NOW - 1000, { sku: 'PH-1' }), 'product_viewed');
  const p = await createInterestProcessor({ nc, config, catalog, logger });
  const state = await runUntil(
    p,
    async () => (await p.store.load(shopId, 'u')).state,
    (s) => s.counters.events >= 1 && p.stats().invalid === 1,
  );
  expect(state.counters.events).toBe(1);
  expect(Object.keys(state.skus)).toEqual(['PH-1']);
});
