import { createHmac } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { boundedJson } from '../../streams/collector/bounded-json';
import {
  buildCollector,
  DEAD_LETTER_MAX_BYTES,
  type BatchResponse,
  type CollectorDeps,
} from '../../streams/collector/server';
import { KeyTable } from '../../streams/collector/trust';
import { signUserToken, verifyUserToken } from '../../streams/collector/user-token';
import type { Config } from '../../infra/config';
import { createMetrics } from '../../infra/metrics';
import type { EnvelopeInit } from '../../schemas/events';
import { EventValidationError } from '../../schemas/validate';
import type { DeadLetter } from '../../streams/dlq';
import { sleep } from '../../infra/sleep';

// inject() loads light-my-request, which requires the ESM-only `cookie` 2 that Jest cannot load on Node 20.
// Only its request-cookie support uses it, and these tests send no cookies.
jest.mock('cookie', () => ({
  stringifySetCookie: () => {
    throw new Error('cookies are not supported in these tests');
  },
}));

const config: Config['collector'] = {
  host: '127.0.0.1',
  port: 0,
  tlsCertFile: '',
  tlsKeyFile: '',
  writeKeys: { 'key-1': 'shop-1', 'key-2': 'shop-2' },
  serverKeys: { 'server-key-1': 'shop-1' },
  userTokenSecrets: {},
  maxBodyBytes: 64 * 1024,
  maxBatch: 200,
  requestTimeoutMs: 10_000,
  maxConcurrentRequests: 64,
  rateLimit: 0,
  rateBurst: 1000,
  publishTimeoutMs: 5000,
  corsOrigins: '*',
};
const AUTH = { 'x-write-key': 'key-1' };

interface Harness {
  app: FastifyInstance;
  published: EnvelopeInit[];
  deadLetters: DeadLetter[];
  logs: string[];
  metrics: ReturnType<typeof createMetrics>;
}

function harness(overrides: Partial<CollectorDeps> = {}): Harness {
  const published: EnvelopeInit[] = [];
  const deadLetters: DeadLetter[] = [];
  const logs: string[] = [];
  const metrics = createMetrics({ defaults: false });
  const app = buildCollector({
    config,
    publish: (e) => {
      published.push(e);
      return Promise.resolve({ duplicate: false });
    },
    deadLetter: (dl) => {
      deadLetters.push(dl);
      return Promise.resolve();
    },
    logger: pino({ level: 'info' }, { write: (line: string) => void logs.push(line) }),
    metrics,
    now: () => Date.UTC(2024, 4, 1, 12),
    ...overrides,
  });
  return { app, published, deadLetters, logs, metrics };
}

const searched = (i: number, user = `u-${i}`): Record<string, unknown> => ({
  type: 'track',
  event: 'Products Searched',
  userId: user,
  messageId: `m-${i}`,
  timestamp: '2024-05-01T10:00:00Z',
  properties: { query: `query ${i}` },
});

async function post(app: FastifyInstance, payload: unknown, headers: Record<string, string> = AUTH) {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/events',
    headers: { 'content-type': 'application/json', ...headers },
    payload: typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload),
  });
  return {
    status: res.statusCode,
    headers: res.headers,
    body: res.json<BatchResponse & { error?: string; message?: string }>(),
  };
}

describe('authentication', () => {
  it('answers 401 without a write key or with an unknown one', async () => {
    const { app, published } = harness();
    const attempts: Record<string, string>[] = [
      {},
      { 'x-write-key': 'nope' },
      { authorization: 'Bearer constructor' },
      { authorization: 'Basic' },
    ];
    for (const headers of attempts) {
      const res = await post(app, { batch: [searched(1)] }, headers);
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({
        error: 'unauthorized',
        message: expect.stringContaining('write key') as string,
      });
    }
    expect(published).toHaveLength(0);
  });

  it.each([
    ['Basic (Segment)', { authorization: `Basic ${Buffer.from('key-2:').toString('base64')}` }],
    ['Bearer', { authorization: 'Bearer key-2' }],
    ['X-Write-Key', { 'x-write-key': 'key-2' }],
  ])('accepts the key as %s and uses its shop', async (_name, headers) => {
    const { app, published } = harness();
    const res = await post(app, { batch: [searched(1)] }, headers);
    expect(res.status).toBe(200);
    expect(published[0]?.shopId).toBe('shop-2');
  });
});

describe('POST /v1/events', () => {
  it('publishes the valid events of a batch and dead-letters the invalid ones with their JSON', async () => {
    const { app, published, deadLetters } = harness();
    const batch: unknown[] = Array.from({ length: 100 }, (_, i) => searched(i));
    batch[10] = { ...searched(10), properties: {} }; // no query
    batch[50] = { ...searched(50), event: 'Cart Viewed' };
    batch[99] = 'not an event';
    const res = await post(app, { batch });

    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accepted: 97, duplicates: 0, rejected: 3 });
    expect(res.body.results).toHaveLength(100);
    expect(published).toHaveLength(97);
    expect(res.body.results[0]).toEqual({ index: 0, status: 'accepted', event_id: published[0]!.eventId });
    expect(res.body.results[10]).toMatchObject({
      index: 10,
      status: 'rejected',
      reason: 'invalid_event',
      event_id: expect.any(String) as string,
      errors: [{ path: 'products_searched.query', code: 'required', message: 'is required' }],
    });
    expect(res.body.results[50]).toMatchObject({
      status: 'rejected',
      reason: 'unmappable',
      errors: [{ path: 'event', code: 'type' }],
    });
    expect(res.body.results[99]).toMatchObject({
      status: 'rejected',
      reason: 'unmappable',
      errors: [{ path: '', code: 'type' }],
    });

    expect(deadLetters).toHaveLength(3);
    const byData = new Map(deadLetters.map((dl) => [Buffer.from(dl.data).toString('utf8'), dl]));
    for (const i of [10, 50, 99]) {
      const dl = byData.get(JSON.stringify(batch[i]));
      expect(dl).toMatchObject({
        reason: 'collector_rejected',
        contentType: 'application/json',
        shopId: 'shop-1',
        sourceSubject: 'http:/v1/events',
      });
    }
    expect(byData.get(JSON.stringify(batch[10]))!.detail).toBe(
      'invalid_event: products_searched.query: is required',
    );
  });

  it('accepts a bare array, text/plain and gzip', async () => {
    const { app, published } = harness();
    expect((await post(app, [searched(1)])).status).toBe(200);
    expect(
      (await post(app, JSON.stringify({ batch: [searched(2)] }), { ...AUTH, 'content-type': 'text/plain' }))
        .status,
    ).toBe(200);
    const gz = gzipSync(JSON.stringify({ batch: [searched(3)] }));
    expect((await post(app, gz, { ...AUTH, 'content-encoding': 'gzip' })).status).toBe(200);
    expect(published).toHaveLength(3);
  });

  it('merges a Segment batch context into each event', async () => {
    const { app, published } = harness();
    await post(app, {
      batch: [searched(1), { ...searched(2), context: { channel: 'server' } }],
      context: { channel: 'mobile' },
    });
    expect(published.map((e) => e.channel)).toEqual([2, 8]);
  });

  it('counts duplicates', async () => {
    const { app } = harness({ publish: () => Promise.resolve({ duplicate: true }) });
    const res = await post(app, [searched(1)]);
    expect(res.body).toMatchObject({
      accepted: 0,
      duplicates: 1,
      rejected: 0,
      results: [{ index: 0, status: 'duplicate' }],
    });
  });

  it('answers 413 for a body over the limit', async () => {
    const { app, published } = harness();
    const res = await post(app, {
      batch: [{ ...searched(1), properties: { query: 'x'.repeat(config.maxBodyBytes) } }],
    });
    expect(res.status).toBe(413);
    expect(res.body).toEqual({
      error: 'payload_too_large',
      message: `the request body is larger than ${config.maxBodyBytes} bytes`,
    });
    expect(published).toHaveLength(0);
  });

  it('answers 413 for a gzip body that inflates over the limit', async () => {
    const { app } = harness();
    const gz = gzipSync(
      JSON.stringify({ batch: [{ ...searched(1), properties: { query: 'x'.repeat(config.maxBodyBytes) } }] }),
    );
    expect((await post(app, gz, { ...AUTH, 'content-encoding': 'gzip' })).status).toBe(413);
  });

  it('answers 400 naming the limit for too many events', async () => {
    const { app, published } = harness();
    const res = await post(
      app,
      Array.from({ length: config.maxBatch + 1 }, (_, i) => searched(i)),
    );
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      error: 'batch_too_large',
      message: expect.stringContaining(`limit is ${config.maxBatch}`) as string,
    });
    expect(published).toHaveLength(0);
  });

  it.each([
    ['not JSON', '{"batch": [', 'invalid_json'],
    ['not a batch', '{"events": []}', 'not_a_batch'],
    ['a single event', JSON.stringify(searched(1)), 'not_a_batch'],
    ['empty', '', 'empty_body'],
  ])('answers 400 for a body that is %s', async (_name, payload, error) => {
    const { app } = harness();
    const res = await post(app, payload);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error, message: expect.any(String) as string });
  });

  it('answers 200 with zero counts for an empty batch', async () => {
    const { app } = harness();
    expect((await post(app, { batch: [] })).body).toEqual({
      accepted: 0,
      duplicates: 0,
      rejected: 0,
      results: [],
    });
  });
});

describe('publish failures', () => {
  const down = (): Promise<{ duplicate: boolean }> => Promise.reject(new Error('no responders'));

  it('answers 503 with Retry-After when no event could be published, and still keeps them', async () => {
    const { app, deadLetters } = harness({ publish: down });
    const res = await post(app, [searched(1), searched(2), { type: 'teleport' }]);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.body).toMatchObject({ error: 'publish_failed', accepted: 0, rejected: 3 });
    expect(res.body.results.map((r) => r.reason)).toEqual(['publish_failed', 'publish_failed', 'unmappable']);
    expect(deadLetters).toHaveLength(3);
    expect(deadLetters.find((d) => d.detail.startsWith('publish_failed'))?.detail).toContain('no responders');
  });

  it('answers 200 when some events were published, and starts no publish after the first failure', async () => {
    let calls = 0;
    const { app, published } = harness({
      publishConcurrency: 1,
      publish: (e) => {
        calls++;
        if (e.userId === 'u-a' && calls === 2) return Promise.reject(new Error('timeout'));
        published.push(e);
        return Promise.resolve({ duplicate: false });
      },
    });
    const res = await post(app, [
      searched(1, 'u-a'),
      searched(2, 'u-a'),
      searched(3, 'u-a'),
      searched(4, 'u-b'),
    ]);
    expect(res.status).toBe(200);
    expect(res.body.results.map((r) => [r.status, r.reason])).toEqual([
      ['accepted', undefined],
      ['rejected', 'publish_failed'],
      ['rejected', 'publish_failed'],
      ['rejected', 'publish_failed'],
    ]);
    expect(res.body.results[2]!.message).toContain('earlier event of the same user');
    // NATS in trouble: the rest of the batch is answered at once (resend it), not tried one by one
    expect(res.body.results[3]!.message).toContain('another event of this batch failed');
    expect(calls).toBe(2);
    expect(published.map((e) => e.userId)).toEqual(['u-a']);
  });

  it('reports an event the producer finds invalid as invalid_event', async () => {
    const issues = [{ path: 'shop_id', code: 'max_len' as const, message: 'is longer than 64 characters' }];
    const { app, deadLetters } = harness({ publish: () => Promise.reject(new EventValidationError(issues)) });
    const res = await post(app, [searched(1)]);
    expect(res.status).toBe(200);
    expect(res.body.results[0]).toMatchObject({
      status: 'rejected',
      reason: 'invalid_event',
      errors: issues,
    });
    expect(deadLetters).toHaveLength(1);
  });

  it('answers 503 when a rejected event cannot be dead-lettered', async () => {
    const { app, published } = harness({ deadLetter: () => Promise.reject(new Error('nats down')) });
    const res = await post(app, [searched(1), { type: 'identify' }]);
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ error: 'dead_letter_failed', accepted: 1, rejected: 1 });
    expect(published).toHaveLength(1);
  });
});

describe('ordering and concurrency', () => {
  it("publishes one user's events in batch order, with bounded concurrency", async () => {
    const order: string[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const { app } = harness({
      publishConcurrency: 4,
      publish: async (e) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await sleep(Math.floor(Math.random() * 5));
        order.push(`${e.userId!}:${e.productsSearched!.query!}`);
        inFlight--;
        return { duplicate: false };
      },
    });
    const users = ['u-a', 'u-b', 'u-c', 'u-d', 'u-e', 'u-f'];
    const batch = Array.from({ length: 60 }, (_, i) => searched(i, users[(i * 7) % users.length]));
    const res = await post(app, { batch });
    expect(res.body.accepted).toBe(60);
    expect(maxInFlight).toBeGreaterThan(1);
    expect(maxInFlight).toBeLessThanOrEqual(4);
    for (const u of users) {
      const expected = batch
        .filter((e) => e['userId'] === u)
        .map((e) => `${u}:${(e['properties'] as { query: string }).query}`);
      expect(order.filter((o) => o.startsWith(`${u}:`))).toEqual(expected);
    }
  });
});

describe('observability', () => {
  it('counts results and request durations', async () => {
    const { app, metrics } = harness();
    await post(app, [searched(1), searched(2), { type: 'page' }]);
    const values = (await metrics.collectorEvents.get()).values.map((v) => [v.labels['result'], v.value]);
    expect(values).toEqual(
      expect.arrayContaining([
        ['accepted', 2],
        ['rejected', 1],
      ]),
    );
    const count = (await metrics.collectorRequestSeconds.get()).values.find((v) =>
      v.metricName?.endsWith('_count'),
    );
    expect(count?.value).toBe(1);
  });

  it('logs counts and shop ids but no user ids or texts', async () => {
    const { app, logs } = harness({ publish: () => Promise.reject(new Error('timeout')) });
    await post(app, [
      { ...searched(1, 'secret-user'), properties: { query: 'secret query' } },
      { type: 'page', userId: 'secret-user' },
    ]);
    const all = logs.join('');
    expect(all).toContain('shop-1');
    expect(all).toContain('"rejected":2');
    expect(all).not.toContain('secret');
  });

  it('answers GET /healthz', async () => {
    const { app } = harness();
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ ok: true });
  });
});

const SERVER = { 'x-write-key': 'server-key-1' };
const segment = (
  event: string,
  properties: Record<string, unknown>,
  user = 'u-1',
): Record<string, unknown> => ({
  type: 'track',
  event,
  userId: user,
  messageId: `m-${event}-${user}`,
  timestamp: '2024-05-01T10:00:00Z',
  properties,
});
const nativeEvent = (
  type: string,
  properties: Record<string, unknown>,
  user = 'u-1',
): Record<string, unknown> => ({
  type,
  user_id: user,
  channel: 'web',
  occurred_at: '2024-05-01T10:00:00Z',
  properties,
});
/** One event of each type only a server key may send, and a chat turn of each non-user role. */
const serverOnly = [
  segment('Order Completed', { order_id: 'o-1', products: [{ sku: 'A', price: 1 }], total: 1 }),
  segment('Order Refunded', { order_id: 'o-1', total: 1 }),
  nativeEvent('order_paid', { order_id: 'o-1', total_minor: 100, currency: 'CNY' }),
  nativeEvent('order_shipped', { order_id: 'o-1', carrier: 'SF', tracking_number: 'SF1234567890' }),
  nativeEvent('order_delivered', { order_id: 'o-1' }),
  nativeEvent('agent_accepted', { conversation_id: 'c-1', agent_id: 'a-1' }),
  nativeEvent('conversation_closed', { conversation_id: 'c-1', reason: 'resolved' }),
  nativeEvent('chat_turn', { conversation_id: 'c-1', role: 'agent', text: 'hi' }),
  nativeEvent('chat_turn', { conversation_id: 'c-1', role: 'bot', text: 'hi' }),
];
const publicOk = [
  searched(1),
  segment('Product Added', { cart_id: 'c', sku: 'A', price: 1 }),
  nativeEvent('chat_turn', { conversation_id: 'c-1', role: 'user', text: 'where is my order?' }),
  nativeEvent('handoff_requested', { conversation_id: 'c-1', reason: 'explicit_request' }),
  { type: 'page', userId: 'u-1', name: 'Home' },
];

describe('trust levels', () => {
  it('refuses server-only events from a public key with a reason, dead-letters them, stores the rest', async () => {
    const { app, published, deadLetters } = harness();
    const res = await post(app, [...publicOk, ...serverOnly]);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accepted: publicOk.length, rejected: serverOnly.length });
    const refused = res.body.results.slice(publicOk.length);
    for (const r of refused) {
      expect(r).toMatchObject({
        status: 'rejected',
        reason: 'forbidden_event',
        message: expect.stringMatching(/server key/) as string,
      });
    }
    expect(published).toHaveLength(publicOk.length);
    expect(deadLetters).toHaveLength(serverOnly.length);
    expect(deadLetters.every((d) => d.detail.startsWith('forbidden_event: '))).toBe(true);
  });

  it('takes everything from a server key', async () => {
    const { app, published } = harness();
    const res = await post(app, [...publicOk, ...serverOnly], SERVER);
    expect(res.body).toMatchObject({ accepted: publicOk.length + serverOnly.length, rejected: 0 });
    expect(published.every((e) => e.shopId === 'shop-1')).toBe(true);
  });

  it('refuses every request, saying why, when no key is configured', async () => {
    const { app, published } = harness({ config: { ...config, writeKeys: {}, serverKeys: {} } });
    for (const headers of [AUTH, {}]) {
      const res = await post(app, [searched(1)], headers);
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({
        error: 'no_keys_configured',
        message: expect.stringContaining('COLLECTOR_WRITE_KEYS') as string,
      });
    }
    expect(published).toHaveLength(0);
  });

  it('looks keys up by digest and refuses a key that is both public and server', () => {
    const table = new KeyTable({ pk: 'shop-a' }, { sk: 'shop-a' });
    expect(table.lookup('pk')).toMatchObject({ shopId: 'shop-a', trust: 'public' });
    expect(table.lookup('sk')).toMatchObject({ shopId: 'shop-a', trust: 'server' });
    expect(table.lookup('p')).toBeUndefined();
    expect(table.lookup('constructor')).toBeUndefined();
    expect(() => new KeyTable({ k: 'a' }, { k: 'a' })).toThrow(/both a public write key and a server key/);
  });
});

describe('signed user tokens', () => {
  const SECRET = 's'.repeat(40);
  const NOW = Date.UTC(2024, 4, 1, 12);
  const exp = NOW / 1000 + 3600;
  const token = (userId: string, expiresAt = exp, shopId = 'shop-1'): string =>
    signUserToken(SECRET, { shopId, userId, expiresAt });
  const withTokens = (): Harness =>
    harness({ config: { ...config, userTokenSecrets: { 'shop-1': SECRET } } });

  it('accepts a public-key event whose user_id the token binds (header or context.userToken)', async () => {
    const { app, published } = withTokens();
    const res = await post(app, [searched(1, 'u-1')], { ...AUTH, 'x-user-token': token('u-1') });
    expect(res.body).toMatchObject({ accepted: 1 });
    const inContext = { ...searched(2, 'u-2'), context: { userToken: token('u-2') } };
    expect((await post(app, [inContext])).body).toMatchObject({ accepted: 1 });
    // anonymous visitors have no user to bind; a server key needs no token
    expect((await post(app, [{ ...searched(3), userId: undefined, anonymousId: 'a-1' }])).body).toMatchObject(
      {
        accepted: 1,
      },
    );
    expect((await post(app, [searched(4, 'u-4')], SERVER)).body).toMatchObject({ accepted: 1 });
    expect(published).toHaveLength(4);
  });

  it.each([
    ['no token', undefined, /required/],
    ["another user's token", () => token('u-2'), /not signed for this user_id/],
    ["another shop's token", () => token('u-1', exp, 'shop-2'), /not signed for this user_id/],
    ['an expired token', () => token('u-1', NOW / 1000 - 1), /expired/],
    ['a malformed token', () => 'v1.abc', /not v1\./],
  ])('refuses a public-key event with %s and dead-letters it', async (_name, make, message) => {
    const { app, published, deadLetters } = withTokens();
    const headers = make ? { ...AUTH, 'x-user-token': make() } : AUTH;
    const res = await post(app, [searched(1, 'u-1')], headers);
    expect(res.status).toBe(200);
    expect(res.body.results[0]).toMatchObject({ status: 'rejected', reason: 'unauthenticated_user' });
    expect(res.body.results[0]!.message).toMatch(message);
    expect(published).toHaveLength(0);
    expect(deadLetters).toHaveLength(1);
  });

  it('is the documented HMAC: v1.<expires>.<base64url HMAC-SHA256 of v1\\n<shop>\\n<user>\\n<expires>>', () => {
    const sig = createHmac('sha256', SECRET).update(`v1\nshop-1\nu-1\n${exp}`).digest('base64url');
    expect(token('u-1')).toBe(`v1.${exp}.${sig}`);
    expect(verifyUserToken(SECRET, `v1.${exp}.${sig}`, 'shop-1', 'u-1', NOW)).toEqual({ ok: true });
  });
});

describe('Segment and RudderStack HTTP API', () => {
  const basic = (key: string): Record<string, string> => ({
    authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}`,
  });
  const postTo = async (
    app: FastifyInstance,
    url: string,
    payload: unknown,
    headers: Record<string, string>,
  ) => {
    const res = await app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json', ...headers },
      payload: JSON.stringify(payload),
    });
    return {
      status: res.statusCode,
      headers: res.headers,
      body: res.json<BatchResponse & { error?: string }>(),
    };
  };

  it('takes a batch on /v1/batch and one call on each single-call route', async () => {
    const { app, published } = harness();
    expect((await postTo(app, '/v1/batch', { batch: [searched(1)] }, basic('key-1'))).body).toMatchObject({
      accepted: 1,
    });
    const calls: [string, Record<string, unknown>, string][] = [
      ['/v1/track', { ...searched(2), type: undefined }, 'productsSearched'],
      ['/v1/identify', { userId: 'u-1', traits: { plan: 'gold' } }, 'userIdentified'],
      ['/v1/page', { userId: 'u-1', name: 'Home' }, 'pageViewed'],
      ['/v1/screen', { userId: 'u-1', name: 'Cart' }, 'screenViewed'],
      ['/v1/group', { userId: 'u-1', groupId: 'acme' }, 'groupJoined'],
      ['/v1/alias', { userId: 'u-1', previousId: 'anon-1' }, 'userAliased'],
    ];
    for (const [url, body, field] of calls) {
      const res = await postTo(app, url, body, basic('key-1'));
      expect([url, res.status, res.body.accepted]).toEqual([url, 200, 1]);
      expect(published.at(-1)).toHaveProperty(field);
    }
    expect((await postTo(app, '/v1/track', [searched(1)], basic('key-1'))).body).toMatchObject({
      error: 'not_an_event',
    });
  });

  it('reads the write key from the body when no header carries one (Segment browser library)', async () => {
    const { app, published } = harness();
    const res = await post(app, JSON.stringify({ batch: [searched(1)], writeKey: 'key-2' }), {
      'content-type': 'text/plain',
    });
    expect(res.status).toBe(200);
    expect(published[0]?.shopId).toBe('shop-2');
    const single = await postTo(app, '/v1/page', { userId: 'u-1', writeKey: 'key-1' }, {});
    expect(single.status).toBe(200);
    expect(published[1]).toMatchObject({ shopId: 'shop-1', pageViewed: {} });
    const wrong = await post(app, { batch: [searched(1)], writeKey: 'nope' }, {});
    expect(wrong.status).toBe(401);
    expect(published).toHaveLength(2);
  });

  it('answers a CORS preflight and marks answers for browsers', async () => {
    const { app } = harness();
    const pre = await app.inject({
      method: 'OPTIONS',
      url: '/v1/batch',
      headers: {
        origin: 'https://shop.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
    expect(pre.statusCode).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe('*');
    expect(pre.headers['access-control-allow-methods']).toContain('POST');
    expect(String(pre.headers['access-control-allow-headers'])).toMatch(/Authorization/);
    const res = await post(app, [searched(1)], { ...AUTH, origin: 'https://shop.example' });
    expect(res.headers['access-control-allow-origin']).toBe('*');

    const only = harness({ config: { ...config, corsOrigins: 'https://a.example' } }).app;
    const allowed = await post(only, [searched(1)], { ...AUTH, origin: 'https://a.example' });
    expect(allowed.headers['access-control-allow-origin']).toBe('https://a.example');
    const other = await post(only, [searched(1)], { ...AUTH, origin: 'https://evil.example' });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('hostile events never cost the good ones (503)', () => {
  /** Like JetStream: refuses a message over NATS's default 1 MiB max payload. */
  const natsLike = (deadLetters: DeadLetter[]) => (dl: DeadLetter) =>
    dl.data.length > 1024 * 1024
      ? Promise.reject(new Error('MAX_PAYLOAD_EXCEEDED'))
      : (deadLetters.push(dl), Promise.resolve());
  const deep = (depth: number): unknown => {
    let v: unknown = 'x';
    for (let i = 0; i < depth; i++) v = [v];
    return v;
  };

  it('rejects a 10,000-deep event as invalid, keeps its copy, and stores the rest of the batch', async () => {
    const deadLetters: DeadLetter[] = [];
    const { app, published } = harness({ deadLetter: natsLike(deadLetters) });
    const res = await post(
      app,
      `[${JSON.stringify(searched(1))},{"type":"track","x":${'['.repeat(10_000)}${']'.repeat(10_000)}},${JSON.stringify(searched(2))}]`,
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accepted: 2, rejected: 1 });
    expect(res.body.results[1]).toMatchObject({ reason: 'invalid_event' });
    expect(published).toHaveLength(2);
    expect(deadLetters).toHaveLength(1);
    const copy = Buffer.from(deadLetters[0]!.data).toString('utf8');
    expect(copy).toBe(`{"type":"track","x":${'['.repeat(10_000)}${']'.repeat(10_000)}}`);
  });

  it('cuts the dead-letter copy of a rejected event near 1 MiB so it fits, saying so', async () => {
    const deadLetters: DeadLetter[] = [];
    const big = { config: { ...config, maxBodyBytes: 2 * 1024 * 1024 } };
    const { app, published } = harness({ ...big, deadLetter: natsLike(deadLetters) });
    const huge = { ...searched(9), event: 'Product Teleported', properties: { blob: 'é'.repeat(600_000) } };
    const res = await post(app, [searched(1), huge, searched(2)]);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accepted: 2, rejected: 1 });
    expect(published).toHaveLength(2);
    const [dl] = deadLetters;
    expect(dl!.data.length).toBeLessThanOrEqual(DEAD_LETTER_MAX_BYTES);
    expect(dl!.detail).toMatch(/^unmappable: .*dead-letter copy truncated to its first \d+ bytes/);
    expect(JSON.stringify(huge).startsWith(Buffer.from(dl!.data).toString('utf8'))).toBe(true);
    // resent: the same dead-letter id, so the DLQ keeps it once
    await post(app, [searched(1), huge, searched(2)]);
    expect(deadLetters[1]!.msgId).toBe(dl!.msgId);
  });

  it('writes the same JSON as JSON.stringify for any depth, cut at the limit', () => {
    const values = [{ a: [1, 'two', null, true, { b: -0.5 }], c: 'é"\\\n' }, [], {}, 'x', 3, null, deep(3)];
    for (const v of values)
      expect(boundedJson(v, 1 << 20)).toEqual({ text: JSON.stringify(v), truncated: false });
    expect(boundedJson({ a: 'x'.repeat(100) }, 10)).toEqual({ text: '{"a":"xxxx', truncated: true });
    expect(boundedJson(deep(100_000), 8)).toEqual({ text: '[[[[[[[[', truncated: true });
    // never half a character
    expect(boundedJson('éé', 4)).toEqual({ text: '"é', truncated: true });
  });

  it('refuses a body that is not UTF-8 with 400, rather than storing replaced characters', async () => {
    const { app, published } = harness();
    const good = Buffer.from(JSON.stringify([searched(1)]));
    const bad = Buffer.concat([good.subarray(0, 20), Buffer.from([0xff, 0xfe]), good.subarray(20)]);
    const res = await post(app, bad);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_utf8' });
    expect(published).toHaveLength(0);
  });
});

describe('load bounds', () => {
  it('rate-limits events per write key with a token bucket: 429 with Retry-After', async () => {
    let t = Date.UTC(2024, 4, 1, 12);
    const limited = { ...config, rateLimit: 2, rateBurst: 4, maxBatch: 4 };
    const { app, published } = harness({ config: limited, now: () => t });
    expect((await post(app, [searched(1), searched(2), searched(3)])).status).toBe(200);
    const over = await post(app, [searched(4), searched(5)]);
    expect(over.status).toBe(429);
    expect(over.headers['retry-after']).toBe('1');
    expect(over.body).toMatchObject({ error: 'rate_limited' });
    // another key has its own bucket
    expect((await post(app, [searched(6)], { 'x-write-key': 'key-2' })).status).toBe(200);
    t += 500; // one more token: 2 now
    expect((await post(app, [searched(4), searched(5)])).status).toBe(200);
    // empty bucket: refused before the body is read
    const empty = await post(app, [searched(7)]);
    expect(empty.status).toBe(429);
    expect(published).toHaveLength(6);
  });

  it('answers 503 with Retry-After beyond the concurrent request cap', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { app } = harness({
      config: { ...config, maxConcurrentRequests: 2 },
      publish: async () => {
        await gate;
        return { duplicate: false };
      },
    });
    const first = [post(app, [searched(1)]), post(app, [searched(2)])];
    await sleep(50);
    const third = await post(app, [searched(3)]);
    expect(third.status).toBe(503);
    expect(third.headers['retry-after']).toBe('1');
    expect(third.body).toMatchObject({ error: 'busy' });
    release();
    expect((await Promise.all(first)).map((r) => r.status)).toEqual([200, 200]);
    // the slots are free again
    expect((await post(app, [searched(4)])).status).toBe(200);
  });

  it('cuts off a client that does not send its whole body in time', async () => {
    const { app } = harness({ config: { ...config, requestTimeoutMs: 300 } });
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const { port } = app.server.address() as AddressInfo;
      const started = Date.now();
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.write(
            'POST /v1/events HTTP/1.1\r\nHost: x\r\nX-Write-Key: key-1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n[{',
          );
        });
        let text = '';
        socket.on('data', (d: Buffer) => (text += d.toString()));
        socket.on('close', () => resolve(text));
        socket.on('error', reject);
      });
      // the idle socket is closed (Node answers 408 instead when its request-timeout sweep comes first)
      expect(answer === '' || answer.startsWith('HTTP/1.1 408')).toBe(true);
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      await app.close();
    }
  });
});
