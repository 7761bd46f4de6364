// The ClickHouse sink against a real NATS server and embedded ClickHouse: exact counts under
// duplicates, dead letters for garbage, and per-user order.
import { randomBytes } from 'node:crypto';
import type { NatsConnection } from 'nats';
import type { Config } from '../../infra/config';
import { createLogger } from '../../infra/logger';
import { summarizeDeadLetters, readDeadLetters } from '../../streams/dlq';
import { repairLine, toExportLine } from '../../streams/dlq-replay';
import { connectNats } from '../../infra/nats';
import { createProducer, type Producer } from '../../streams/producer/producer';
import { createClickHouseSink, type ClickHouseSink } from '../../streams/sinks/clickhouse/sink';
import { eventSubject } from '../../streams/topology';
import { applyTopology } from '../../streams/topology-apply';
import { encodeEnvelope } from '../../schemas/codec';
import { buildEnvelope } from '../helpers/events';
import { eventually, startTestClickHouse, type TestClickHouse } from '../../infra/stack/test-clickhouse';
import { startTestNats, type TestNats } from '../../infra/stack/test-nats';
import { testConfig } from '../../infra/stack/test-config';

let nats: TestNats;
let chs: TestClickHouse;
let nc: NatsConnection;
let config: Config;
let sink: ClickHouseSink;
let producer: Producer;

const count = async (where = '1'): Promise<{ rows: number; final: number }> => {
  const rs = await chs.ch.query({
    query: `SELECT (SELECT count() FROM ${config.clickhouse.database}.events WHERE ${where}) AS rows,
                   (SELECT count() FROM ${config.clickhouse.database}.events FINAL WHERE ${where}) AS final`,
    format: 'JSONEachRow',
  });
  const [r] = await rs.json<{ rows: number | string; final: number | string }>();
  return { rows: Number(r!.rows), final: Number(r!.final) };
};

beforeAll(async () => {
  nats = await startTestNats();
  chs = await startTestClickHouse();
  config = { ...testConfig(nats.url), clickhouse: chs.config };
  nc = await connectNats(config.nats, 'sink-test');
  await applyTopology(await nc.jetstreamManager(), config);
  sink = await createClickHouseSink({ nc, ch: chs.ch, config, logger: createLogger('silent', 'test') });
  void sink.run();
  producer = await createProducer({ nats: config.nats, shopId: 'shop-1', connection: nc, producerId: 'p1' });
});

afterAll(async () => {
  await producer?.close();
  await sink?.stop();
  await nc?.drain();
  await chs?.stop();
  await nats?.stop();
});

describe('ClickHouse sink', () => {
  it('stores every event once: exact count', async () => {
    const sent = await Promise.all(
      Array.from({ length: 1200 }, (_, i) =>
        producer.track('product_viewed', {
          userId: `u${i % 50}`,
          channel: 'web',
          properties: { product: { sku: `S${i}` } },
        }),
      ),
    );
    const ids = sent.map((r) => r.eventId);
    const where = `event_id IN (${ids.map((id) => `'${id}'`).join(',')})`;
    const c = await eventually(
      () => count(where),
      (c) => c.rows >= 1200,
    );
    expect(c).toEqual({ rows: 1200, final: 1200 });
  });

  it('stores an event published twice with the same event_id once', async () => {
    const env = buildEnvelope('order_placed', { shopId: 'shop-1', userId: 'dup-user' });
    const first = await producer.publish(env);
    const second = await producer.publish(env);
    expect(first.duplicate).toBe(false);
    expect(second.duplicate).toBe(true);
    // and once more past JetStream's dedup (no Nats-Msg-Id), as after the duplicate window
    await nc.jetstream().publish(first.subject, encodeEnvelope(env));
    await eventually(
      () => count(`event_id = '${env.eventId!}'`),
      (c) => c.rows >= 1,
    );
    await eventually(
      () => Promise.resolve(sink.stats().batches),
      (b) => b > 0,
    );
    const c = await eventually(
      () => count(`event_id = '${env.eventId!}'`),
      (c) => c.final === 1,
    );
    expect(c.final).toBe(1);
  });

  it('dead-letters garbage with a reason and keeps consuming good events after it', async () => {
    const js = nc.jetstream();
    const garbage = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02]);
    await js.publish(eventSubject(config.nats.prefix, 0, 'product_viewed'), garbage);
    await js.publish(eventSubject(config.nats.prefix, 1, 'product_viewed'), randomBytes(0)); // empty: decodes, but invalid
    const after = await producer.track('products_searched', {
      userId: 'after-garbage',
      channel: 'app',
      properties: { query: 'power bank' },
    });
    await eventually(
      () => count(`event_id = '${after.eventId}'`),
      (c) => c.rows === 1,
    );
    const jsm = await nc.jetstreamManager();
    const dlq = await eventually(
      () => summarizeDeadLetters(jsm, config.nats.prefix),
      (s) => s.total >= 2,
    );
    expect(dlq.byReason).toMatchObject({ decode_failed: 1, invalid_event: 1 });
    const letters = [];
    for await (const dl of readDeadLetters(js, jsm, config.nats.prefix)) letters.push(dl);
    const bad = letters.find((l) => l.reason === 'decode_failed')!;
    expect(Buffer.from(bad.data)).toEqual(garbage); // the original bytes, untouched
    expect(bad.sourceSubject).toBe(eventSubject(config.nats.prefix, 0, 'product_viewed'));
    expect(bad.detail).not.toBe('');
    const stored = await count(`event_type = 'product_viewed' AND sku = ''`);
    expect(stored.rows).toBe(0);
  });

  it('keeps an invalid event as a dead letter when the producer is told to, and replays it once fixed', async () => {
    const lenient = await createProducer({
      nats: config.nats,
      shopId: 'shop-1',
      connection: nc,
      onInvalid: 'dead-letter',
    });
    const r = await lenient.track('cart_item_added', {
      userId: 'lenient',
      channel: 'web',
      properties: { cartId: 'c', product: { sku: '' } },
    });
    expect(r).toMatchObject({
      deadLettered: true,
      issues: [{ path: 'cart_item_added.product.sku', code: 'required' }],
    });
    const jsm = await nc.jetstreamManager();
    const letters = [];
    for await (const dl of readDeadLetters(nc.jetstream(), jsm, config.nats.prefix, {
      reason: 'invalid_event',
    }))
      letters.push(dl);
    const mine = letters.map(toExportLine).find((l) => l.envelope?.['eventId'] === r.eventId)!;
    expect(repairLine(mine, 1)).toMatchObject({ ok: false });
    (mine.envelope!['cartItemAdded'] as { product: { sku: string } }).product.sku = 'FIXED-1';
    const fixed = repairLine(mine, 1);
    if (!fixed.ok) throw new Error(fixed.why);
    await lenient.publish(fixed.envelope, { msgId: `replay:${r.eventId}` });
    const c = await eventually(
      () => count(`event_id = '${r.eventId}'`),
      (c) => c.rows === 1,
    );
    expect(c).toEqual({ rows: 1, final: 1 });
    await lenient.close();
  });

  it('keeps a strict per-user order: time, then sequence', async () => {
    const t = Date.UTC(2026, 0, 1);
    // same millisecond, published out of order: sequence decides
    for (const seq of [3, 1, 2]) {
      await producer.publish(
        buildEnvelope('product_viewed', {
          shopId: 'shop-1',
          userId: 'order-user',
          occurredAt: t,
          sequence: seq,
          producerId: 'p-order',
        }),
      );
    }
    await eventually(
      () => count(`user_key = 'order-user'`),
      (c) => c.rows === 3,
    );
    const rs = await chs.ch.query({
      query: `SELECT sequence FROM ${config.clickhouse.database}.events WHERE user_key = 'order-user' ORDER BY occurred_at, sequence, event_id`,
      format: 'JSONEachRow',
    });
    expect((await rs.json<{ sequence: number | string }>()).map((r) => Number(r.sequence))).toEqual([
      1, 2, 3,
    ]);
  });
});
