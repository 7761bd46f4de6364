// NATS users per role (streams/permissions.ts) on a real nats-server running the configuration the
// local stack generates (`make up`: role passwords written once into <data dir>/local.env, the users
// into <data dir>/nats-auth.conf): each role can do its job and is refused what it must not do, and
// each CLI command connects as its own role.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { connect, type NatsConnection } from 'nats';
import { testConfig } from '../../infra/stack/test-config';
import { startTestNats, type TestNats } from '../../infra/stack/test-nats';
import { ensureLocalEnv, loadEnvFiles } from '../../infra/stack/local-env';
import { writeLocalNatsAuth } from '../../infra/stack/stack';
import type { Config } from '../../infra/config';
import { rolePasswordVariable, type Role } from '../../streams/permissions';
import { createProducer } from '../../streams/producer/producer';
import { names } from '../../streams/topology';
import { applyTopology } from '../../streams/topology-apply';

const run = promisify(execFile);
const CLI = path.join(__dirname, '../../cli/shopstream.cjs');
let nats: TestNats;
let config: Config;
let dataDir: string;
/** What the local stack's commands read: only the data directory, the rest from its local.env. */
let localEnv: NodeJS.ProcessEnv;
const password = (role: Role): string => localEnv[rolePasswordVariable(role)]!;
const open: NatsConnection[] = [];
const as = async (role: Role): Promise<NatsConnection> => {
  const nc = await connect({ servers: nats.url, user: role, pass: password(role) });
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
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shopstream-perm-'));
  const prefix = `perm${Date.now().toString(36)}`;
  localEnv = { SHOPSTREAM_DATA_DIR: dataDir, SHOPSTREAM_PREFIX: prefix };
  ensureLocalEnv(localEnv);
  loadEnvFiles(localEnv, dataDir); // no .env in the data directory: local.env alone
  const stackConfig = testConfig('nats://unused', {
    SHOPSTREAM_DATA_DIR: dataDir,
    SHOPSTREAM_PREFIX: prefix,
  });
  const auth = writeLocalNatsAuth(stackConfig, localEnv);
  expect(auth?.changed).toBe(true);
  expect(fs.statSync(auth!.file).mode & 0o777).toBe(0o600);
  nats = await startTestNats({ config: fs.readFileSync(auth!.file, 'utf8') });
  config = testConfig(nats.url, { SHOPSTREAM_PREFIX: prefix });
  await applyTopology(await (await as('ops')).jetstreamManager(), config);
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(open.map((nc) => nc.close()));
  await nats?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

it('each CLI command connects as its role, from local.env; credentials of ones own win', async () => {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SHOPSTREAM_DATA_DIR: dataDir,
    SHOPSTREAM_PREFIX: config.nats.prefix,
  };
  for (const k of ['NATS_USER', 'NATS_PASSWORD', 'NATS_TOKEN', 'NATS_CREDS_FILE']) delete env[k];
  env['NATS_URL'] = nats.url;
  // ops: `topology check` reads every stream and consumer
  const ok = await run(process.execPath, [CLI, 'topology', 'check'], { env });
  expect(ok.stdout).toMatch(/ok|present|exists/i);
  // the same command as the analyst (its own NATS_USER wins over the role) is refused
  const asAnalyst = { ...env, NATS_USER: 'analyst', NATS_PASSWORD: password('analyst') };
  const refusedRun = await run(process.execPath, [CLI, 'topology', 'check'], { env: asAnalyst }).then(
    () => '',
    (e: { stderr: string }) => e.stderr,
  );
  expect(refusedRun).toMatch(/permission/i);
}, 60_000);

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
  // it answers requests (recommendations) without any right to publish to inboxes
  const sub = nc.subscribe(n.recommendSubject, { callback: (_e, msg) => msg.respond(msg.data) });
  await nc.flush();
  const reply = await (await as('ops')).request(n.recommendSubject, new Uint8Array([7]), { timeout: 2000 });
  expect([...reply.data]).toEqual([7]);
  sub.unsubscribe();
  expect(await refused(nc.request('_INBOX.someone', new Uint8Array(1), { timeout: 2000 }))).toBe('refused');
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
