// The profile store's batch read (store.loadMany: one JetStream batch direct get per 1,000 keys) on a
// real NATS server: the same answers as reading key by key, for stored, never stored, deleted and
// undecodable states, across more than one batch.
import type { NatsConnection } from 'nats';
import { connectNats } from '../../infra/nats';
import { startTestNats, type TestNats } from '../../infra/stack/test-nats';
import { testConfig } from '../../infra/stack/test-config';
import { emptyState } from '../../streams/processors/interest/state';
import { openProfileStore, profileKey, ProfileStore } from '../../streams/processors/interest/store';
import { names } from '../../streams/topology';
import { applyTopology } from '../../streams/topology-apply';
import { tinyCatalog as catalog } from '../helpers/tiny-catalog';

let nats: TestNats;
let nc: NatsConnection;

beforeAll(async () => {
  nats = await startTestNats();
  nc = await connectNats(testConfig(nats.url).nats, 'profile-store-test');
});

afterAll(async () => {
  await nc?.drain();
  await nats?.stop();
});

const SHOP = 'shop1';

async function storeWith(users: number) {
  const config = testConfig(nats.url);
  await applyTopology(await nc.jetstreamManager(), config);
  const bucket = names(config.nats.prefix).profilesBucket;
  const store = await openProfileStore(nc, bucket, catalog.features);
  for (let i = 0; i < users; i++) {
    const state = emptyState(SHOP, `u${i}`, catalog.features.size);
    state.counters.events = i + 1;
    await store.save({ state, revision: 0 });
  }
  return store;
}

const summary = (r: Awaited<ReturnType<ProfileStore['load']>> | Error) =>
  r instanceof Error
    ? `error ${r.name}`
    : `${r.state.userKey} rev ${r.revision} events ${r.state.counters.events}`;

it('reads stored, never stored, deleted and undecodable states as load() does, in the order asked', async () => {
  const store = await storeWith(6);
  await store.kv.delete(profileKey(SHOP, 'u2')); // a delete marker: nats.js stops a batch answer at it
  await store.kv.put(profileKey(SHOP, 'u4'), new TextEncoder().encode('not a state'));
  const asked = ['u5', 'u2', 'nobody', 'u0', 'u4', 'u1', 'u3'].map((userKey) => ({ shopId: SHOP, userKey }));
  const many = await store.loadMany(asked);
  const one = await Promise.all(asked.map((u) => store.load(u.shopId, u.userKey).catch((err: Error) => err)));
  expect(many.map(summary)).toEqual(one.map(summary));
  expect(many.map(summary)).toEqual([
    expect.stringMatching(/^u5 rev \d+ events 6$/),
    'u2 rev 0 events 0',
    'nobody rev 0 events 0',
    expect.stringMatching(/^u0 rev \d+ events 1$/),
    'error SyntaxError',
    expect.stringMatching(/^u1 rev \d+ events 2$/),
    expect.stringMatching(/^u3 rev \d+ events 4$/),
  ]);
  // the answer cut short by the delete marker (the newest entry): the keys after it read one by one
  expect(store.singleReads).toBeGreaterThan(0);
  // none stored at all: the server answers "no results"
  expect((await store.loadMany([{ shopId: SHOP, userKey: 'x' }])).map(summary)).toEqual(['x rev 0 events 0']);
});

it('reads more keys than one batch answers (1,000), and a store without batch reads agrees', async () => {
  const store = await storeWith(1300);
  const asked = Array.from({ length: 1400 }, (_, i) => ({ shopId: SHOP, userKey: `u${1399 - i}` }));
  const before = store.singleReads;
  const many = await store.loadMany(asked);
  expect(store.singleReads).toBe(before); // every key answered by the batches
  expect(many.filter((r) => !(r instanceof Error) && r.revision > 0)).toHaveLength(1300);
  const plain = new ProfileStore(store.kv, catalog.features);
  expect((await plain.loadMany(asked)).map(summary)).toEqual(many.map(summary));
  expect(many.slice(0, 3).map(summary)).toEqual([
    'u1399 rev 0 events 0',
    'u1398 rev 0 events 0',
    'u1397 rev 0 events 0',
  ]);
}, 60_000);
