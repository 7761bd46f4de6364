// NATS users per role (streams/permissions.ts) on a real nats-server running the generated
// configuration: each role can do its job and is refused what it must not do.
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import { testConfig } from '../../infra/stack/test-config';
import { startTestNats, type TestNats } from '../../infra/stack/test-nats';
import type { Config } from '../../infra/config';
import { natsAuthConfig, ROLES, type Role } from '../../streams/permissions';
import { createProducer } from '../../streams/producer/producer';
import { names } from '../../streams/topology';
import { applyTopology } from '../../streams/topology-apply';

let nats: TestNats;
let config: Config;
const passwords = Object.fromEntries(ROLES.map((r) => [r, randomBytes(16).toString('hex')])) as Record<
  Role,
  string
>;
const open: NatsConnection[] = [];
const as = async (role: Role): Promise<NatsConnection> => {
  const nc = await connect({ servers: nats.url, user: role, pass: passwords[role] });
  open.push(nc);
  return nc;
};
const refused = async (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'allowed',
    (e: Error) =>
      /permission/i.test(`${e.message} ${(e as { code?: string }).code ?? ''}`)
        ? 'refused'
        : `failed: ${e.message}`,
  );
/** A subscription the server refuses ends with a permissions error. */
const subscriptionRefused = async (nc: NatsConnection, subject: string): Promise<string> => {
  const sub = nc.subscribe(subject);
  let timer: NodeJS.Timeout | undefined;
  const ended = (async () => {
    for await (const _ of sub) return 'allowed';
    return 'allowed';
  })();
  const waited = new Promise<string>((r) => (timer = setTimeout(() => r('allowed'), 2000)));
  try {
    return await refused(Promise.race([ended, waited]));
  } finally {
    clearTimeout(timer);
    sub.unsubscribe();
  }
};

beforeAll(async () => {
  const prefix = `perm${randomBytes(3).toString('hex')}`;
  nats = await startTestNats({ config: natsAuthConfig(prefix, passwords) });
  config = testConfig(nats.url, { SHOPSTREAM_PREFIX: prefix });
  await applyTopology(await (await as('ops')).jetstreamManager(), config);
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(open.map((nc) => nc.close()));
  await nats?.stop();
});

it('refuses a connection without the right password', async () => {
  await expect(connect({ servers: nats.url, user: 'producer', pass: 'wrong-password-here' })).rejects.toThrow(
    /auth/i,
  );
  await expect(connect({ servers: nats.url })).rejects.toThrow(/auth/i);
});

it('producer: publishes events; no reading, no KV, no stream management', async () => {
  const nc = await as('producer');
  const producer = await createProducer({ nats: config.nats, shopId: 'shop-1', connection: nc });
  const receipt = await producer.track('product_viewed', {
    userId: 'u1',
    channel: 'web',
    properties: { product: { sku: 'A', priceMinor: 100 }, currency: 'USD' },
  });
  expect(receipt.duplicate).toBe(false);
  await producer.close();
  const n = names(config.nats.prefix);
  const js = nc.jetstream();
  expect(await refused(js.publish(`$KV.${n.couponsBucket}.x`, new Uint8Array(1)))).toBe('refused');
  expect(await refused((async () => (await nc.jetstreamManager()).streams.delete(n.eventsStream))())).toBe(
    'refused',
  );
  expect(await subscriptionRefused(nc, n.eventsSubjectAll)).toBe('refused');
});

it('worker: publishes flow events and uses the coupon and slot buckets, nothing else', async () => {
  const nc = await as('worker');
  const n = names(config.nats.prefix);
  const js = nc.jetstream();
  const coupons = await js.views.kv(n.couponsBucket, { bindOnly: true });
  expect(await coupons.put('k1', 'v1')).toBeGreaterThan(0);
  expect((await coupons.get('k1'))?.string()).toBe('v1');
  const profiles = await js.views.kv(n.profilesBucket, { bindOnly: true });
  expect(await refused(profiles.put('k1', 'v1'))).toBe('refused');
  expect(
    await refused(js.consumers.get(n.eventsStream, n.sinkConsumer).then((c) => c.next({ expires: 1000 }))),
  ).toBe('refused');
  expect(await subscriptionRefused(nc, n.eventsSubjectAll)).toBe('refused');
});

it('service: its buckets and consumers, but no stream deletion and nothing outside its prefix', async () => {
  const nc = await as('service');
  const n = names(config.nats.prefix);
  const js = nc.jetstream();
  const profiles = await js.views.kv(n.profilesBucket, { bindOnly: true });
  expect(await profiles.put('k1', 'v1')).toBeGreaterThan(0);
  const sink = await js.consumers.get(n.eventsStream, n.sinkConsumer);
  const m = await sink.next({ expires: 2000 });
  expect(m?.subject.startsWith(`${config.nats.prefix}.events.`)).toBe(true);
  m?.ack();
  const jsm = await nc.jetstreamManager();
  expect(await refused(jsm.streams.delete(n.eventsStream))).toBe('refused');
  expect(await refused(js.publish('someone-else.events.x', new Uint8Array(1)))).toBe('refused');
});

it('analyst: nothing on NATS', async () => {
  const nc = await as('analyst');
  expect(await refused(nc.jetstreamManager())).toBe('refused');
  expect(
    await refused(
      nc.request(names(config.nats.prefix).recommendSubject, new Uint8Array(1), { timeout: 2000 }),
    ),
  ).toBe('refused');
  expect(await subscriptionRefused(nc, '>')).toBe('refused');
});
