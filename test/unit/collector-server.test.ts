import { gzipSync } from 'node:zlib';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildCollector, type BatchResponse, type CollectorDeps } from '../../streams/collector/server';
import type { Config } from '../../infra/config';
import { createMetrics } from '../../infra/metrics';
import type { EnvelopeInit } from '../../schemas/events';
import { EventValidationError } from '../../schemas/validate';
import type { DeadLetter } from '../../streams/dlq';

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
  writeKeys: { 'key-1': 'shop-1', 'key-2': 'shop-2' },
  maxBodyBytes: 64 * 1024,
  maxBatch: 200,
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

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

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
    const res = await post(app, [searched(1), searched(2), { type: 'page' }]);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.body).toMatchObject({ error: 'publish_failed', accepted: 0, rejected: 3 });
    expect(res.body.results.map((r) => r.reason)).toEqual(['publish_failed', 'publish_failed', 'unmappable']);
    expect(deadLetters).toHaveLength(3);
    expect(deadLetters.find((d) => d.detail.startsWith('publish_failed'))?.detail).toContain('no responders');
  });

  it('answers 200 when some events were published, and stops a user at their first failure', async () => {
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
      ['accepted', undefined],
    ]);
    expect(res.body.results[2]!.message).toContain('earlier event of the same user');
    expect(calls).toBe(3);
    expect(published.map((e) => e.userId)).toEqual(['u-a', 'u-b']);
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
