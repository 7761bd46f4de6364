// The acceptance of issue 8: a poison event of each class the review found, sent through the collector
// with the public write key, lands in the dead-letter stream with its reason, while the good events
// posted after it are stored within seconds. Real NATS, real embedded ClickHouse, one service.
import type { JetStreamManager, NatsConnection } from 'nats';
import type { Config } from '../../infra/config';
import { type Sql } from '../../infra/clickhouse/sql';
import { boundedJson } from '../../streams/collector/bounded-json';
import type { BatchResponse } from '../../streams/collector/server';
import { readDeadLetters, type StoredDeadLetter } from '../../streams/dlq';
import { eventually } from '../../infra/stack/test-clickhouse';
import { deeplyNested } from '../../chaos/fuzz';
import { startCollectorService, type CollectorService } from './fixtures/collector-service';

jest.setTimeout(60_000);
const SHOP = 'poison-shop';
const PUBLIC_KEY = 'pk-poison';
let nc: NatsConnection;
let jsm: JetStreamManager;
let config: Config;
let sql: Sql;
let url: string;

let fixture: CollectorService;

beforeAll(async () => {
  fixture = await startCollectorService('poison', `${SHOP}:${PUBLIC_KEY}`, { interest: false });
  ({ config, sql, nc, jsm } = fixture);
  url = fixture.batchUrl;
}, 120_000);

afterAll(() => fixture?.stop());

let n = 0;
const NOW = Date.now();
/** A good browse event (a public key may send it), unique per call. */
const good = (at = NOW - 60_000): Record<string, unknown> => ({
  type: 'track',
  event: 'Product Viewed',
  userId: `u-${++n}`,
  messageId: `good-${n}`,
  timestamp: new Date(at).toISOString(),
  properties: { sku: 'PHO-0001', price: 499.99, currency: 'USD' },
});

async function post(events: unknown[]): Promise<BatchResponse> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Basic ${Buffer.from(`${PUBLIC_KEY}:`).toString('base64')}`,
    },
    body: boundedJson({ batch: events }, 8 << 20).text,
  });
  expect(res.status).toBe(200);
  return (await res.json()) as BatchResponse;
}

async function deadLetters(): Promise<StoredDeadLetter[]> {
  const out: StoredDeadLetter[] = [];
  for await (const dl of readDeadLetters(nc.jetstream(), jsm, config.nats.prefix)) out.push(dl);
  return out;
}

async function stored(ids: string[]): Promise<number> {
  const [row] = await sql.query<{ c: string | number }>(
    `SELECT count() AS c FROM ${config.clickhouse.database}.events FINAL WHERE event_id IN {ids:Array(String)}`,
    { ids },
  );
  return Number(row?.c ?? 0);
}

const poisons: [string, () => Record<string, unknown>, RegExp][] = [
  ['occurred_at beyond what a Date holds', () => ({ ...good(), timestamp: 8.64e15 + 1 }), /occurred_at/],
  ['year 10000', () => ({ ...good(), timestamp: 253_402_300_800_000 }), /occurred_at/],
  ['year 3000 (far in the future)', () => ({ ...good(), timestamp: '3000-01-01T00:00:00Z' }), /occurred_at/],
  [
    'a lone surrogate in a string',
    () => ({ ...good(), properties: { sku: 'PHO-\ud800', price: 1, currency: 'USD' } }),
    /sku/,
  ],
  ['10,000-deep nesting', () => ({ ...good(), properties: deeplyNested(10_000) }), /depth|nest/i],
  [
    'a rejected event near 1 MiB',
    () => ({ ...good(), timestamp: 'not a time', pad: 'x'.repeat(1_000_000) }),
    /truncated/,
  ],
  [
    'an order with the public key',
    () => ({
      ...good(),
      event: 'Order Completed',
      properties: { order_id: 'o-1', total: 10, currency: 'USD', products: [{ sku: 'PHO-0001', price: 10 }] },
    }),
    /forbidden_event/,
  ],
];

it.each(poisons)(
  '%s: dead-lettered with its reason; the events after it are stored',
  async (_name, make, why) => {
    const poison = make();
    const after = [good(), good(), good()];
    const body = await post([poison, ...after]);
    expect(body.results[0]!.status).toBe('rejected');
    const ids = body.results.slice(1).map((r) => r.event_id!);
    expect(body.results.slice(1).every((r) => r.status === 'accepted')).toBe(true);
    const started = Date.now();
    await eventually(
      () => stored(ids),
      (c) => c === ids.length,
      10_000,
    );
    expect(Date.now() - started).toBeLessThan(15_000);
    const letters = await eventually(
      deadLetters,
      (dls) =>
        dls.some(
          (d) =>
            d.reason === 'collector_rejected' &&
            why.test(d.detail) &&
            Buffer.from(d.data).includes(String(poison['messageId'])),
        ),
      10_000,
    );
    expect(letters.length).toBeGreaterThan(0);
  },
);

it('101+ distinct months in one batch: every event stored (no "Too many partitions")', async () => {
  const events = Array.from({ length: 130 }, (_, i) => good(Date.UTC(2014, i, 15)));
  const body = await post(events);
  const ids = body.results.map((r) => r.event_id!);
  expect(body.accepted).toBe(130);
  await eventually(
    () => stored(ids),
    (c) => c === 130,
    20_000,
  );
});
