// The dead-letter queue end to end: the pipeline service (sink + collector + admin, in process) on a
// real NATS server and embedded ClickHouse dead-letters garbage, invalid events and rejected HTTP
// events; `shopstream dlq list` counts and samples them; `dlq export` + a fix + `dlq replay --file`
// stores the fixed events exactly once and removes them from the DLQ, and leaves the rest.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { JetStreamClient, JetStreamManager, NatsConnection } from 'nats';
import { exportCommand, list, replay } from '../../cli/commands/dlq';
import type { Config } from '../../infra/config';
import { sqlOverHttp, type Sql } from '../../infra/clickhouse/sql';
import { createLogger } from '../../infra/logger';
import { getFreePort } from '../../infra/stack/processes';
import { encodeEnvelope } from '../../schemas/codec';
import type { BatchResponse } from '../../streams/collector/server';
import {
  publishDeadLetter,
  readDeadLetters,
  summarizeDeadLetters,
  type StoredDeadLetter,
} from '../../streams/dlq';
import { toExportLine, type ExportLine } from '../../streams/dlq-replay';
import { connectNats } from '../../infra/nats';
import { startService, type Service } from '../../streams/service';
import { eventSubject, names, partitionOf } from '../../streams/topology';
import { eventually, uniqueName } from '../../infra/stack/test-clickhouse';
import { buildEnvelope, sampleProduct } from '../helpers/events';
import { startTestNats, type TestNats } from '../../infra/stack/test-nats';
import { testConfig } from '../../infra/stack/test-config';

// Jest ignores a project-level testTimeout (it is a global option): hooks and tests get this one.
jest.setTimeout(60_000);
const SHOP = 'shop-dlq';
const WRITE_KEY = 'wk-dlq-test';

let nats: TestNats;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
let config: Config;
let service: Service | undefined;
let dataDir: string;
let workDir: string;
let sql: Sql;
let collectorUrl: string;

// What goes wrong, and how each one is recognised later.
const garbage = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02]);
const invalidEnvelope = buildEnvelope(
  'product_viewed',
  { shopId: SHOP, userId: 'u-proto', producerId: 'other-sdk' },
  { product: { ...sampleProduct, sku: '' }, currency: 'USD' }, // no sku
);
const failedEnvelope = buildEnvelope('products_searched', { shopId: SHOP, userId: 'u-failed' });
const segmentNoSku = {
  type: 'track',
  event: 'Product Added',
  userId: 'u-segment',
  messageId: 'dlq-msg-1',
  timestamp: '2026-03-03T10:00:00.000Z',
  properties: {
    cart_id: 'cart-1',
    name: 'Mug',
    price: 12.5,
    quantity: 1,
    currency: 'USD',
  },
};
const segmentUnknown = {
  type: 'track',
  event: 'Signed Up',
  userId: 'u-segment',
  messageId: 'dlq-msg-2',
  timestamp: '2026-03-03T10:00:01.000Z',
  properties: {},
};
let segmentEventId: string;

const db = (): string => config.clickhouse.database;

async function countEvent(id: string): Promise<{ rows: number; final: number }> {
  const [r] = await sql.query<{ rows: string | number; final: string | number }>(
    `SELECT (SELECT count() FROM ${db()}.events WHERE event_id = {id:String}) AS rows,
            (SELECT count() FROM ${db()}.events FINAL WHERE event_id = {id:String}) AS final`,
    { id },
  );
  return { rows: Number(r!.rows), final: Number(r!.final) };
}

async function sinkDrained(): Promise<void> {
  const n = names(config.nats.prefix);
  await eventually(
    () => jsm.consumers.info(n.eventsStream, n.sinkConsumer),
    (ci) => ci.num_pending === 0 && ci.num_ack_pending === 0,
  );
}

const eventsInStream = async (): Promise<number> =>
  (await jsm.streams.info(names(config.nats.prefix).eventsStream)).state.messages;

async function allDeadLetters(): Promise<StoredDeadLetter[]> {
  const out: StoredDeadLetter[] = [];
  for await (const dl of readDeadLetters(js, jsm, config.nats.prefix)) out.push(dl);
  return out;
}

/** Runs a CLI command function and returns what it printed. */
async function captureLog<T>(fn: () => Promise<T>): Promise<{ result: T; out: string }> {
  const lines: string[] = [];
  const spy = jest.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    lines.push(args.map(String).join(' '));
  });
  try {
    const result = await fn();
    return { result, out: lines.join('\n') };
  } finally {
    spy.mockRestore();
  }
}

const readLines = (file: string): ExportLine[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as ExportLine);

beforeAll(async () => {
  nats = await startTestNats();
  dataDir = mkdtempSync(path.join(tmpdir(), 'shopstream-dlq-ch-'));
  workDir = mkdtempSync(path.join(tmpdir(), 'shopstream-dlq-files-'));
  const [collectorPort, adminPort] = [await getFreePort(), await getFreePort()];
  config = testConfig(nats.url, {
    CLICKHOUSE_URL: '',
    CLICKHOUSE_DATA_DIR: dataDir,
    CLICKHOUSE_DATABASE: uniqueName('dlq'),
    COLLECTOR_PORT: String(collectorPort),
    COLLECTOR_WRITE_KEYS: `${SHOP}:${WRITE_KEY}`,
    ADMIN_PORT: String(adminPort),
  });
  service = await startService({ config, logger: createLogger('silent', 'test') });
  collectorUrl = `http://127.0.0.1:${collectorPort}/v1/events`;
  sql = sqlOverHttp(`http://127.0.0.1:${adminPort}`, config.admin.token);
  nc = await connectNats(config.nats, 'dlq-test');
  js = nc.jetstream();
  jsm = await nc.jetstreamManager();
}, 120_000); // a NATS server and the service with embedded ClickHouse, each with its own 60 s start wait

afterAll(async () => {
  await service?.stop();
  await nc?.drain();
  await nats?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

// The tests below run in order on one DLQ: dead-letter, list, export + fix + replay, replay again.
describe('dead letters', () => {
  const prefix = (): string => config.nats.prefix;
  const garbageSubject = (): string => eventSubject(prefix(), 0, 'product_viewed');

  it('are kept for garbage, invalid events and rejected HTTP events, counted by reason', async () => {
    // garbage bytes and an invalid event straight onto the events subjects (a producer that does not
    // use the validating SDK); the sink dead-letters both
    await js.publish(garbageSubject(), garbage);
    const partition = partitionOf(SHOP, 'u-proto', config.nats.partitions);
    await js.publish(eventSubject(prefix(), partition, 'product_viewed'), encodeEnvelope(invalidEnvelope));
    // rejected by the collector: one fixable (no sku), one that is not an event we collect
    const res = await fetch(collectorUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-write-key': WRITE_KEY },
      body: JSON.stringify({ batch: [segmentNoSku, segmentUnknown] }),
    });
    const body = (await res.json()) as BatchResponse;
    expect(res.status).toBe(200);
    expect(body).toMatchObject({ accepted: 0, rejected: 2 });
    expect(body.results[0]).toMatchObject({ status: 'rejected', reason: 'invalid_event' });
    expect(body.results[1]).toMatchObject({ status: 'rejected', reason: 'unmappable' });
    segmentEventId = body.results[0]!.event_id!;
    expect(segmentEventId).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    // a processor gave up on a good event (a transient failure): replayable as it is
    await publishDeadLetter(js, prefix(), {
      reason: 'processing_failed',
      detail: 'flow cart-recovery: ClickHouse unavailable after 5 attempts',
      data: encodeEnvelope(failedEnvelope),
      sourceSubject: eventSubject(prefix(), 3, 'products_searched'),
      sourceSequence: 12345,
      contentType: 'application/x-protobuf',
      shopId: SHOP,
    });

    const summary = await eventually(
      () => summarizeDeadLetters(jsm, prefix()),
      (s) => s.total >= 5,
    );
    expect(summary).toEqual({
      total: 5,
      byReason: { decode_failed: 1, invalid_event: 1, collector_rejected: 2, processing_failed: 1 },
    });

    const letters = await allDeadLetters();
    expect(letters).toHaveLength(5);
    const of = (reason: string): StoredDeadLetter[] => letters.filter((l) => l.reason === reason);
    const bad = of('decode_failed')[0]!;
    expect(Buffer.from(bad.data)).toEqual(garbage); // the original bytes, untouched
    expect(bad.sourceSubject).toBe(garbageSubject());
    expect(bad.sourceSequence).toBeGreaterThan(0);
    expect(bad.detail).not.toBe('');
    const invalid = of('invalid_event')[0]!;
    expect(invalid.detail).toContain('product_viewed.product.sku');
    expect(Buffer.from(invalid.data)).toEqual(Buffer.from(encodeEnvelope(invalidEnvelope)));
    const http = of('collector_rejected');
    expect(http.map((l) => JSON.parse(Buffer.from(l.data).toString('utf8')) as unknown)).toEqual([
      segmentNoSku,
      segmentUnknown,
    ]);
    expect(http.every((l) => l.shopId === SHOP && l.contentType === 'application/json')).toBe(true);
    expect(of('processing_failed')[0]).toMatchObject({ shopId: SHOP, sourceSequence: 12345 });

    // one reason, limited: a sample
    const sample: StoredDeadLetter[] = [];
    for await (const dl of readDeadLetters(js, jsm, prefix(), { reason: 'collector_rejected', limit: 1 }))
      sample.push(dl);
    expect(sample.map((s) => s.seq)).toEqual([http[0]!.seq]);
    // nothing of this reached ClickHouse
    await sinkDrained();
    expect(await countEvent(invalidEnvelope.eventId!)).toEqual({ rows: 0, final: 0 });
  });

  it('are listed by `dlq list --json` with counts and readable samples', async () => {
    const { out } = await captureLog(() => list(config, { json: true, samples: 1 }));
    const listed = JSON.parse(out) as {
      total: number;
      byReason: Record<string, number>;
      samples: Record<string, ExportLine[]>;
    };
    expect(listed.total).toBe(5);
    expect(listed.byReason).toEqual({
      decode_failed: 1,
      invalid_event: 1,
      collector_rejected: 2,
      processing_failed: 1,
    });
    expect(listed.samples['decode_failed']).toEqual([
      expect.objectContaining({ raw_base64: garbage.toString('base64') }),
    ]);
    expect(listed.samples['invalid_event']![0]!.envelope).toMatchObject({
      eventId: invalidEnvelope.eventId,
      shopId: SHOP,
    });
    expect(listed.samples['collector_rejected']).toEqual([
      expect.objectContaining({ shop_id: SHOP, event: segmentNoSku }),
    ]);

    const text = await captureLog(() => list(config, {}));
    expect(text.out).toContain('dead letters: 5');
    expect(text.out).toMatch(/collector_rejected\s+2/);
  });

  it('are stored once and leave the DLQ when fixed and replayed; garbage stays', async () => {
    // `dlq export` is toExportLine of every stored dead letter, one JSON line each
    const all = path.join(workDir, 'all.jsonl');
    const { out } = await captureLog(() => exportCommand(config, { out: all }));
    expect(out).toContain('exported 5 dead letters');
    expect(readLines(all)).toEqual((await allDeadLetters()).map(toExportLine));

    // the operator exports the rejected HTTP events, adds the missing sku, and replays them together
    // with the garbage (which cannot be replayed and must stay)
    const rejected = path.join(workDir, 'rejected.jsonl');
    const junk = path.join(workDir, 'junk.jsonl');
    await captureLog(() => exportCommand(config, { out: rejected, reason: 'collector_rejected' }));
    await captureLog(() => exportCommand(config, { out: junk, reason: 'decode_failed' }));
    const lines = readLines(rejected);
    expect(lines.map((l) => l.event)).toEqual([segmentNoSku, segmentUnknown]);
    const fix = JSON.parse(JSON.stringify(lines[0])) as ExportLine & { event: typeof segmentNoSku };
    (fix.event.properties as Record<string, unknown>)['sku'] = 'SKU-FIXED-1';
    const fixedFile = path.join(workDir, 'fixed.jsonl');
    writeFileSync(
      fixedFile,
      [fix, lines[1], ...readLines(junk)].map((l) => JSON.stringify(l)).join('\n') + '\n',
    );

    const run = await captureLog(() => replay(config, { file: fixedFile }));
    expect(run.result).toBe(0);
    expect(run.out).toContain('replayed: 1, already stored: 0, still failing (kept): 2');

    // stored exactly once, as the event it was meant to be, with the id it would have had
    await eventually(
      () => countEvent(segmentEventId),
      (c) => c.rows >= 1,
    );
    await sinkDrained();
    expect(await countEvent(segmentEventId)).toEqual({ rows: 1, final: 1 });
    const [row] = await sql.query<Record<string, unknown>>(
      `SELECT sku, shop_id, user_id, event_type, cart_id, price_minor FROM ${db()}.events WHERE event_id = {id:String}`,
      { id: segmentEventId },
    );
    expect(row).toMatchObject({
      sku: 'SKU-FIXED-1',
      shop_id: SHOP,
      user_id: 'u-segment',
      event_type: 'cart_item_added',
      cart_id: 'cart-1',
    });
    expect(Number(row!['price_minor'])).toBe(1250);

    // gone from the DLQ; the garbage and the unmappable event stay, untouched, and so do the others
    expect(await summarizeDeadLetters(jsm, prefix())).toEqual({
      total: 4,
      byReason: { decode_failed: 1, collector_rejected: 1, invalid_event: 1, processing_failed: 1 },
    });
    const left = await allDeadLetters();
    expect(left.map((l) => l.seq)).not.toContain(lines[0]!.seq);
    expect(Buffer.from(left.find((l) => l.reason === 'decode_failed')!.data)).toEqual(garbage);
    expect(
      JSON.parse(Buffer.from(left.find((l) => l.reason === 'collector_rejected')!.data).toString('utf8')),
    ).toEqual(segmentUnknown);
  });

  it('change nothing when the same fixed file is replayed again', async () => {
    const before = await eventsInStream();
    const dlqBefore = await allDeadLetters();
    const run = await captureLog(() => replay(config, { file: path.join(workDir, 'fixed.jsonl') }));
    expect(run.result).toBe(0);
    expect(run.out).toMatch(/^replayed: 0, /m);
    expect(await eventsInStream()).toBe(before);
    await sinkDrained();
    expect(await countEvent(segmentEventId)).toEqual({ rows: 1, final: 1 });
    expect((await allDeadLetters()).map((l) => l.seq)).toEqual(dlqBefore.map((l) => l.seq));
  });

  it('are replayed as stored, by reason, when nothing needs fixing (dlq replay --reason)', async () => {
    const run = await captureLog(() => replay(config, { reason: 'processing_failed' }));
    expect(run.out).toContain('replayed: 1, already stored: 0, still failing (kept): 0');
    await eventually(
      () => countEvent(failedEnvelope.eventId!),
      (c) => c.rows >= 1,
    );
    await sinkDrained();
    expect(await countEvent(failedEnvelope.eventId!)).toEqual({ rows: 1, final: 1 });
    expect(await summarizeDeadLetters(jsm, prefix())).toEqual({
      total: 3,
      byReason: { decode_failed: 1, collector_rejected: 1, invalid_event: 1 },
    });

    // again: there is nothing left to replay for that reason
    const before = await eventsInStream();
    const again = await captureLog(() => replay(config, { reason: 'processing_failed' }));
    expect(again.out).toContain('replayed: 0, already stored: 0, still failing (kept): 0');
    expect(await eventsInStream()).toBe(before);
    expect(await countEvent(failedEnvelope.eventId!)).toEqual({ rows: 1, final: 1 });
  });

  // a protobuf line, fixed by hand: int64 fields come back as numbers, and the replay gets its own
  // Nats-Msg-Id (the stream already saw the event_id on the bad original)
  it('are stored once when a fixed protobuf envelope line is replayed', async () => {
    const file = path.join(workDir, 'invalid.jsonl');
    await captureLog(() => exportCommand(config, { out: file, reason: 'invalid_event' }));
    const [line] = readLines(file);
    expect(line!.envelope).toMatchObject({ eventId: invalidEnvelope.eventId });
    (line!.envelope!['productViewed'] as { product: Record<string, unknown> }).product['sku'] = 'PHO-FIXED';
    writeFileSync(file, `${JSON.stringify(line)}\n`);

    const run = await captureLog(() => replay(config, { file }));
    expect(run.out).toContain('replayed: 1, already stored: 0, still failing (kept): 0');
    await eventually(
      () => countEvent(invalidEnvelope.eventId!),
      (c) => c.rows >= 1,
    );
    await sinkDrained();
    expect(await countEvent(invalidEnvelope.eventId!)).toEqual({ rows: 1, final: 1 });
    expect((await summarizeDeadLetters(jsm, prefix())).byReason['invalid_event']).toBeUndefined();
  });
});
