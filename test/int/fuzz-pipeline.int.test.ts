// Fuzzing the running pipeline: FUZZ_EVENTS events (a few thousand in `make test`, 100,000 in
// `make fuzz`), good ones shuffled among hostile ones, posted with a public write key to the real
// service (collector, NATS, ClickHouse sink, interest processor). Every request is answered, every good
// event arrives, the service never stops, and stored plus dead-lettered equals sent.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import type { JetStreamManager } from 'nats';
import type { Config } from '../../infra/config';
import { type Sql } from '../../infra/clickhouse/sql';
import { boundedJson } from '../../streams/collector/bounded-json';
import { summarizeDeadLetters } from '../../streams/dlq';
import { type Service } from '../../streams/service';
import { eventually } from '../../infra/stack/test-clickhouse';
import { mixedBatch } from '../helpers/fuzz';
import { startCollectorService, type CollectorService } from './fixtures/collector-service';

const EVENTS = Number(process.env['FUZZ_EVENTS'] ?? 3000);
const SHOP = 'fuzz-shop';
const WRITE_KEY = 'fuzz-public-key';
const BATCH = 100;
const SEED = Number(process.env['FUZZ_SEED'] ?? 20261203);

let jsm: JetStreamManager;
let config: Config;
let service: Service;
let serviceFailed: Error | undefined;
let sql: Sql;
let collectorUrl: string;

let fixture: CollectorService;

beforeAll(async () => {
  fixture = await startCollectorService('fuzz', `${SHOP}:${WRITE_KEY}`);
  ({ config, service, sql, jsm } = fixture);
  collectorUrl = fixture.batchUrl;
  void service.failed.then((err) => (serviceFailed = err));
}, 120_000);

afterAll(() => fixture?.stop());

interface Result {
  index: number;
  status: 'accepted' | 'duplicate' | 'rejected';
  event_id?: string;
}

/**
 * Posts events in batches of up to BATCH and under the body limit (a larger request is refused whole:
 * 413); every good event must be accepted. Records accepted ids, good ids and rejected digests.
 */
async function post(
  events: { event: unknown; good: boolean }[],
  accepted: string[],
  goodIds: string[],
  rejectedDigests: Set<string>,
): Promise<void> {
  // not JSON.stringify: it overflows the stack on the deepest events a client can still send
  const texts = events.map((e) => boundedJson(e.event, 1 << 20).text);
  for (let start = 0; start < events.length;) {
    let end = start;
    let bytes = 0;
    while (end < events.length && end - start < BATCH && bytes + texts[end]!.length < 900_000) {
      bytes += texts[end]!.length + 1;
      end++;
    }
    const res = await fetch(collectorUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`,
      },
      body: `{"batch":[${texts.slice(start, end).join(',')}]}`,
    });
    const body = (await res.json()) as { results?: Result[]; error?: string; message?: string };
    if (res.status !== 200)
      throw new Error(`batch at ${start}: HTTP ${res.status} ${body.error ?? ''} ${body.message ?? ''}`);
    expect(body.results).toHaveLength(end - start);
    body.results!.forEach((r, i) => {
      if (r.status === 'rejected')
        rejectedDigests.add(
          createHash('sha256')
            .update(texts[start + i]!)
            .digest('hex'),
        );
      else accepted.push(r.event_id!);
      if (events[start + i]!.good) {
        expect(r.status).toBe('accepted');
        goodIds.push(r.event_id!);
      }
    });
    start = end;
  }
}

it(`${EVENTS} good and hostile events: the good arrive, nothing is lost, the service stays up`, async () => {
  const accepted: string[] = [];
  const goodIds: string[] = [];
  // a rejected event is kept once per content: byte-identical ones (two `null`s) are one dead letter,
  // as a client's resent batch is (digests, not texts: 100,000 events do not stay in memory)
  const rejectedDigests = new Set<string>();
  // the same events on every run (FUZZ_SEED changes them), made and posted a chunk at a time
  let produced = 0;
  for (let chunk = 0; produced < EVENTS; chunk++) {
    const events = fc
      .sample(mixedBatch(50), { numRuns: 20, seed: SEED + chunk })
      .flat()
      .slice(0, EVENTS - produced);
    // a unique message id each: the count check is about loss, not client retries
    const withIds = events.map(({ event, good }, i) => ({
      good,
      event:
        typeof event === 'object' && event !== null && !Array.isArray(event)
          ? { ...event, messageId: `fuzz-${SEED}-${produced + i}` }
          : event,
    }));
    produced += withIds.length;
    await post(withIds, accepted, goodIds, rejectedDigests);
  }
  const expected = accepted.length + rejectedDigests.size;
  expect(new Set(accepted).size).toBe(accepted.length);
  expect(goodIds.length).toBeGreaterThan(EVENTS / 3);

  const db = config.clickhouse.database;
  const settled = await eventually(
    async () => {
      const [row] = await sql.query<{ stored: string | number }>(
        `SELECT uniqExact(event_id) AS stored FROM ${db}.events`,
      );
      const dead = (await summarizeDeadLetters(jsm, config.nats.prefix)).total;
      return { stored: Number(row?.stored ?? 0), dead };
    },
    (s) => s.stored + s.dead >= expected,
    Math.max(60_000, EVENTS * 3),
  );
  expect(settled.stored + settled.dead).toBe(expected);
  const storedGood = await sql.query<{ n: string | number }>(
    `SELECT count() AS n FROM ${db}.events FINAL WHERE event_id IN {ids:Array(String)}`,
    { ids: goodIds.slice(0, 5000) },
  );
  expect(Number(storedGood[0]!.n)).toBe(Math.min(goodIds.length, 5000));
  expect(serviceFailed).toBeUndefined();
}, 900_000);
