// Poison isolation of the ClickHouse sink (issue 8, finding 1), against a real NATS server and the
// embedded ClickHouse: one bad event of each class lands in the dead-letter stream with its reason,
// the events after it are stored, and an unavailable ClickHouse burns no JetStream delivery.
import type { NatsConnection } from 'nats';
import type { Config } from '../../infra/config';
import { createLogger } from '../../infra/logger';
import { encodeEnvelope } from '../../schemas/codec';
import type { EnvelopeInit } from '../../schemas/events';
import { readDeadLetters, type StoredDeadLetter } from '../../streams/dlq';
import { connectNats } from '../../infra/nats';
import { createClickHouseSink, type ClickHouseSink } from '../../streams/sinks/clickhouse/sink';
import { eventSubject, names } from '../../streams/topology';
import { applyTopology } from '../../streams/topology-apply';
import { buildEnvelope, sampleProduct } from '../helpers/events';
import { eventually, startTestClickHouse, type TestClickHouse } from '../../infra/stack/test-clickhouse';
import { startTestNats, type TestNats } from '../../infra/stack/test-nats';
import { testConfig } from '../../infra/stack/test-config';

let nats: TestNats;
let chs: TestClickHouse;
let nc: NatsConnection;
let config: Config;
let sink: ClickHouseSink | undefined;

const table = (): string => `${config.clickhouse.database}.events`;

async function storedIds(ids: string[]): Promise<Set<string>> {
  const rs = await chs.ch.query({
    query: `SELECT event_id FROM ${table()} WHERE event_id IN {ids:Array(String)}`,
    query_params: { ids },
    format: 'JSONEachRow',
  });
  return new Set((await rs.json<{ event_id: string }>()).map((r) => r.event_id));
}

async function deadLetters(): Promise<StoredDeadLetter[]> {
  const out: StoredDeadLetter[] = [];
  for await (const dl of readDeadLetters(nc.jetstream(), await nc.jetstreamManager(), config.nats.prefix))
    out.push(dl);
  return out;
}

/** Publishes an envelope as it is, past every producer-side check (as a hostile or buggy producer could). */
async function publishRaw(e: EnvelopeInit): Promise<number> {
  const ack = await nc
    .jetstream()
    .publish(eventSubject(config.nats.prefix, 0, 'product_viewed'), encodeEnvelope(e));
  return ack.seq;
}

async function startSink(cfg: Config = config): Promise<ClickHouseSink> {
  const s = await createClickHouseSink({
    nc,
    ch: chs.ch,
    config: cfg,
    logger: createLogger('silent', 'test'),
    maxRetryDelayMs: 500,
  });
  void s.run();
  sink = s;
  return s;
}

beforeAll(async () => {
  nats = await startTestNats();
  chs = await startTestClickHouse();
  config = { ...testConfig(nats.url), clickhouse: chs.config };
  nc = await connectNats(config.nats, 'sink-poison-test');
  await applyTopology(await nc.jetstreamManager(), config);
});

afterEach(async () => {
  await sink?.stop();
  sink = undefined;
});

afterAll(async () => {
  await nc?.drain();
  await chs?.stop();
  await nats?.stop();
});

describe('ClickHouse sink: poison isolation', () => {
  it('stores a batch spanning 120 distinct months in one go (no "Too many partitions")', async () => {
    // published before the sink starts, so they arrive in one fetch
    const events = Array.from({ length: 120 }, (_, i) =>
      buildEnvelope('product_viewed', { occurredAt: Date.UTC(2010, i, 15), userId: `months-${i}` }),
    );
    for (const e of events) await publishRaw(e);
    const s = await startSink();
    const ids = events.map((e) => e.eventId!);
    await eventually(
      () => storedIds(ids),
      (got) => got.size === 120,
    );
    expect(s.stats()).toMatchObject({ deadLettered: 0, batches: 1 });
  });

  it('dead-letters events dated year 10000, beyond a Date, or days after they arrived, and lone surrogates; stores the rest', async () => {
    const poison: [string, EnvelopeInit][] = [
      ['year 10000', buildEnvelope('product_viewed', { occurredAt: Date.UTC(10000, 0, 1) })],
      ['beyond Date', buildEnvelope('product_viewed', { occurredAt: 9e18 })],
      ['2099, days after arrival', buildEnvelope('product_viewed', { occurredAt: Date.UTC(2099, 0, 1) })],
      ['lone surrogate', buildEnvelope('product_viewed', { userId: 'u-\ud800' })],
      [
        'nested lone surrogate',
        buildEnvelope('product_viewed', {}, { product: { ...sampleProduct, name: 'x\udc00y' } }),
      ],
    ];
    const seqs = new Map<number, string>();
    const good: string[] = [];
    for (const [what, e] of poison) {
      seqs.set(await publishRaw(e), what);
      const after = buildEnvelope('product_viewed', { userId: `after-${seqs.size}` });
      await publishRaw(after);
      good.push(after.eventId!);
    }
    const s = await startSink();
    await eventually(
      () => storedIds(good),
      (got) => got.size === good.length,
    );
    const letters = await eventually(
      deadLetters,
      (l) => l.filter((d) => seqs.has(d.sourceSequence!)).length === 5,
    );
    const reasons: Record<string, string> = {};
    for (const d of letters) {
      const what = seqs.get(d.sourceSequence!);
      if (what) reasons[what] = d.reason;
    }
    // protobuf strings are UTF-8: a lone surrogate written as such does not decode at all
    expect(reasons).toEqual({
      'year 10000': 'invalid_event',
      'beyond Date': 'invalid_event',
      '2099, days after arrival': 'invalid_event',
      'lone surrogate': 'decode_failed',
      'nested lone surrogate': 'decode_failed',
    });
    const detail = (what: string) => letters.find((d) => seqs.get(d.sourceSequence!) === what)!.detail;
    expect(detail('year 10000')).toMatch(/occurred_at/);
    expect(detail('2099, days after arrival')).toMatch(/occurred_at/);
    expect(detail('lone surrogate')).toMatch(/utf-8/i);
    expect(await storedIds(poison.map(([, e]) => e.eventId!))).toEqual(new Set());
    expect(s.stats().storeRejected).toBe(0);
  });

  it('splits an insert ClickHouse rejects: the rows at fault are dead-lettered as store_rejected, the rest stored', async () => {
    // rows that pass every check here but that this ClickHouse refuses (a constraint added for the test)
    await chs.ch.command({
      query: `ALTER TABLE ${table()} ADD CONSTRAINT no_poison CHECK sku != 'POISON-SKU'`,
    });
    try {
      const events = Array.from({ length: 60 }, (_, i) =>
        buildEnvelope(
          'product_viewed',
          { userId: `reject-${i}` },
          { product: { ...sampleProduct, sku: i === 7 || i === 41 ? 'POISON-SKU' : `OK-${i}` } },
        ),
      );
      const bad = new Set([events[7]!.eventId!, events[41]!.eventId!]);
      const seqs: number[] = [];
      for (const e of events) seqs.push(await publishRaw(e));
      const s = await startSink();
      const goodIds = events.map((e) => e.eventId!).filter((id) => !bad.has(id));
      await eventually(
        () => storedIds(goodIds),
        (got) => got.size === 58,
      );
      const letters = await eventually(
        deadLetters,
        (l) => l.filter((d) => d.reason === 'store_rejected').length === 2,
      );
      const rejected = letters.filter((d) => d.reason === 'store_rejected');
      expect(rejected.map((d) => d.sourceSequence).sort((a, b) => a! - b!)).toEqual([seqs[7], seqs[41]]);
      expect(rejected[0]!.detail).toMatch(/ClickHouse 469 VIOLATED_CONSTRAINT/);
      expect(await storedIds([...bad])).toEqual(new Set());
      expect(s.stats()).toMatchObject({ storeRejected: 2 });
    } finally {
      await chs.ch.command({ query: `ALTER TABLE ${table()} DROP CONSTRAINT no_poison` });
    }
  });

  it('waits for an unavailable ClickHouse in place, burning no delivery, and still stops promptly', async () => {
    const jsm = await nc.jetstreamManager();
    const n = names(config.nats.prefix);
    // /healthz calls the sink stalled once events wait and nothing is stored for a second
    const s = await startSink({ ...config, sink: { ...config.sink, stallAfterMs: 1000 } });
    expect(await s.health()).toMatchObject({ ok: true, pending: 0 });
    await chs.ch.command({ query: `DETACH TABLE ${table()}` });
    let attached = false;
    try {
      const events = Array.from({ length: 20 }, (_, i) =>
        buildEnvelope('product_viewed', { userId: `outage-${i}` }),
      );
      for (const e of events) await publishRaw(e);
      // well past ack_wait (2 s) while ClickHouse does not take the insert
      await eventually(
        () => Promise.resolve(s.stats()),
        (st) => st.waitingForClickHouse && st.insertFailures >= 8,
        20_000,
      );
      const health = await s.health();
      expect(health).toMatchObject({ ok: false, problem: 'stalled', pending: 20 });
      expect(health.oldestUnstoredMs).toBeGreaterThan(2000);
      const info = await jsm.consumers.info(n.eventsStream, n.sinkConsumer);
      expect(info.num_redelivered).toBe(0);
      expect(info.num_ack_pending).toBe(20);
      expect(s.stats().deadLettered).toBe(0);
      const t0 = Date.now();
      await s.stop();
      expect(Date.now() - t0).toBeLessThan(3000);
      sink = undefined;
      await chs.ch.command({ query: `ATTACH TABLE ${table()}` });
      attached = true;
      const again = await startSink();
      await eventually(
        () => storedIds(events.map((e) => e.eventId!)),
        (got) => got.size === 20,
      );
      const healed = await eventually(
        () => again.health(),
        (h) => h.pending === 0,
      );
      expect(healed).toMatchObject({ ok: true, oldestUnstoredMs: 0 });
    } finally {
      if (!attached) await chs.ch.command({ query: `ATTACH TABLE ${table()}` });
    }
  });
});
