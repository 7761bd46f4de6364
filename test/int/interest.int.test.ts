// The interest processor on a real NATS server: two instances on the same users lose no update,
// redelivery counts nothing twice, and the stored state equals applying the events in memory.
import type { NatsConnection } from 'nats';
import type { Config } from '../../infra/config';
import { createLogger } from '../../infra/logger';
import { decodeEnvelope, encodeEnvelope } from '../../schemas/codec';
import { connectNats } from '../../streams/nats';
import { applyEvent, emptyState, valueAt } from '../../streams/processors/interest/model';
import { createInterestProcessor, type InterestProcessor } from '../../streams/processors/interest/processor';
import { createProducer } from '../../streams/producer/producer';
import { applyTopology, interestConsumer, names } from '../../streams/topology';
import { buildEnvelope } from '../helpers/events';
import { eventually } from '../helpers/clickhouse';
import { startTestNats, type TestNats } from '../helpers/nats';
import { testConfig } from '../helpers/pipeline';
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
