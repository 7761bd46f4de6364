// Two pipeline instances on one prefix share the ordered consumers through leases
// (streams/consumer/leases.ts): each partition is consumed by one instance at a time, they split the
// partitions, and one takes over the other's when it stops, mid-stream. Every user's events are then
// applied exactly once and in publish order (the profile's counters and its list of recent event ids).
import type { KV, NatsConnection } from 'nats';
import { loadCatalog } from '../../catalog';
import type { Config } from '../../infra/config';
import { createLogger } from '../../infra/logger';
import { connectNats } from '../../infra/nats';
import { eventually } from '../../infra/stack/test-clickhouse';
import { getFreePort } from '../../infra/stack/processes';
import { testConfig } from '../../infra/stack/test-config';
import { startTestNats, type TestNats } from '../../infra/stack/test-nats';
import { createLeases, LEASE_TTL_MS, type Leases } from '../../streams/consumer/leases';
import { decodeState } from '../../streams/processors/interest/state-codec';
import { profileKey } from '../../streams/processors/interest/store';
import { MAX_RECENT } from '../../streams/processors/interest/state';
import { createProducer } from '../../streams/producer/producer';
import { startService, type Service } from '../../streams/service';
import { interestConsumer, names } from '../../streams/topology';
import { applyTopology } from '../../streams/topology-apply';

let nats: TestNats;
let nc: NatsConnection;
const running: Service[] = [];
const USERS = 120;
const EVENTS_PER_USER = 12;

beforeAll(async () => {
  nats = await startTestNats();
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(running.map((s) => s.stop()));
  await nc?.close();
  await nats?.stop();
});

const instance = async (config: Config, name: string): Promise<Service> =>
  startService({
    config: {
      ...config,
      admin: { ...config.admin, port: await getFreePort(), instance: name, leases: 'on' },
    },
    logger: createLogger('silent', name),
    sink: false,
    collector: false,
    triggers: false,
    bot: false,
    orders: false,
  });

/** unit -> instance, from the leases bucket. */
async function holders(kv: KV, units: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const unit of units) {
    const e = await kv.get(`unit.${unit}`);
    if (e?.operation === 'PUT') out[unit] = e.string();
  }
  return out;
}

it('two instances split the partitions, hand them over on stop, and apply each event once, in order', async () => {
  const config = testConfig(nats.url);
  nc = await connectNats(config.nats, 'test');
  await applyTopology(await nc.jetstreamManager(), config);
  const leases = await nc.jetstream().views.kv(names(config.nats.prefix).leasesBucket, { bindOnly: true });
  const units = Array.from({ length: config.nats.partitions }, (_, p) => interestConsumer(p));

  const a = await instance(config, 'instance-a');
  running.push(a);
  const b = await instance(config, 'instance-b');
  running.push(b);
  // dealt round-robin over the sorted instances: half each
  const split = await eventually(
    () => holders(leases, units),
    (h) =>
      units.every((u) => h[u]) &&
      Object.values(h).filter((v) => v === 'instance-a').length === units.length / 2,
    15_000,
  );
  expect(new Set(units.map((u) => split[u]))).toEqual(new Set(['instance-a', 'instance-b']));

  const producer = await createProducer({ nats: config.nats, shopId: 'shop-1', connection: nc });
  const sent = new Map<string, string[]>();
  const catalog = loadCatalog();
  const skus = catalog.products.slice(0, 20).map((p) => p.sku);
  const publishRound = async (round: number): Promise<void> => {
    await Promise.all(
      Array.from({ length: USERS }, async (_, u) => {
        const userId = `user-${u}`;
        const r = await producer.track('product_viewed', {
          userId,
          channel: 'web',
          properties: { product: { sku: skus[(u + round) % skus.length]! } },
        });
        sent.set(userId, [...(sent.get(userId) ?? []), r.eventId]);
      }),
    );
  };
  for (let round = 0; round < EVENTS_PER_USER / 2; round++) await publishRound(round);
  // instance a stops mid-stream: b takes over its partitions at once (a hands its leases back)
  await a.stop();
  running.splice(running.indexOf(a), 1);
  for (let round = EVENTS_PER_USER / 2; round < EVENTS_PER_USER; round++) await publishRound(round);
  const after = await eventually(
    () => holders(leases, units),
    (h) => units.every((u) => h[u] === 'instance-b'),
    15_000,
  );
  expect(Object.values(after).every((v) => v === 'instance-b')).toBe(true);
  await producer.close();

  const profiles = await nc
    .jetstream()
    .views.kv(names(config.nats.prefix).profilesBucket, { bindOnly: true });
  const stateOf = async (userId: string) => {
    const e = await profiles.get(profileKey('shop-1', userId));
    return e?.operation === 'PUT' ? decodeState(e.value, catalog.features) : undefined;
  };
  await eventually(
    async () => Promise.all([...sent.keys()].map(stateOf)),
    (states) => states.every((s) => s?.counters.events === EVENTS_PER_USER),
    60_000,
  );
  for (const [userId, ids] of sent) {
    const s = (await stateOf(userId))!;
    expect(s.counters.events).toBe(EVENTS_PER_USER); // none lost, none applied twice
    expect(s.recent).toEqual(ids.slice(-MAX_RECENT)); // applied in publish order
  }
}, 120_000);

it('a killed instance (its connection gone) stops consuming before its leases expire; the other takes them after', async () => {
  const config = testConfig(nats.url);
  const admin = await connectNats(config.nats, 'test-admin');
  await applyTopology(await admin.jetstreamManager(), config);
  const bucket = names(config.nats.prefix).leasesBucket;
  const silent = createLogger('silent', 'test');
  const units = ['interest_p0', 'interest_p1', 'chat_p0', 'chat_p1'];
  const start = async (name: string) => {
    const conn = await connectNats(config.nats, name);
    const l = createLeases({
      kv: await conn.jetstream().views.kv(bucket, { bindOnly: true }),
      instance: name,
      logger: silent,
    });
    await l.start();
    // as the runners do: ask for every unit, and yield one as soon as it is being handed over
    const runners = setInterval(() => units.forEach((u) => l.holds(u) || l.yielded(u)), 100);
    return { conn, l, runners };
  };
  const a = await start('a');
  const b = await start('b');
  const held = (l: Leases) => units.filter((u) => l.holds(u));
  await eventually(
    () => Promise.resolve([held(a.l), held(b.l)]),
    ([x, y]) => x!.length === 2 && y!.length === 2,
    10_000,
  );
  // a dies without a word: its connection closes (a SIGKILL as NATS sees it)
  const killedAt = Date.now();
  await a.conn.close();
  const aHeld = held(a.l);
  await eventually(
    () => Promise.resolve(held(a.l)),
    (x) => x.length === 0,
    LEASE_TTL_MS,
  );
  const aStoppedAfter = Date.now() - killedAt;
  await eventually(
    () => Promise.resolve(held(b.l)),
    (x) => x.length === units.length,
    LEASE_TTL_MS + 5000,
  );
  const bTookAfter = Date.now() - killedAt;
  // a stopped consuming before b could take its units: never two consumers of one unit
  expect(aHeld.length).toBe(2);
  expect(aStoppedAfter).toBeLessThan(bTookAfter);
  clearInterval(a.runners);
  clearInterval(b.runners);
  await a.l.stop(); // its writes fail (no connection): nothing left running
  await b.l.stop();
  await b.conn.close();
  await admin.close();
}, 60_000);
