// Fuzzing the running pipeline: FUZZ_EVENTS events (a few thousand in `make test`, 100,000 in
// `make fuzz`), good ones shuffled among hostile ones, posted with a public write key to the real
// service (collector, NATS, ClickHouse sink, interest processor). Every request is answered, every good
// event arrives, the service never stops, and stored plus dead-lettered equals sent.
import type { JetStreamManager } from 'nats';
import type { Config } from '../../infra/config';
import { type Sql } from '../../infra/clickhouse/sql';
import { summarizeDeadLetters } from '../../streams/dlq';
import { type Service } from '../../streams/service';
import { eventually } from '../../infra/stack/test-clickhouse';
import { fuzzCollector } from '../../chaos/collector-fuzz';
import { startCollectorService, type CollectorService } from './fixtures/collector-service';

const EVENTS = Number(process.env['FUZZ_EVENTS'] ?? 3000);
const SHOP = 'fuzz-shop';
const WRITE_KEY = 'fuzz-public-key';
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

it(`${EVENTS} good and hostile events: the good arrive, nothing is lost, the service stays up`, async () => {
  // a rejected event is kept once per content: byte-identical ones (two `null`s) are one dead letter,
  // as a client's resent batch is
  const { accepted, goodIds, goodRefused, rejectedDigests } = await fuzzCollector({
    url: collectorUrl,
    writeKey: WRITE_KEY,
    events: EVENTS,
    seed: SEED,
  });
  expect(goodRefused).toBe(0);
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
  // and each where the collector said: what it accepted is stored (none refused later by the sink), what
  // it rejected is a dead letter
  expect(settled).toEqual({ stored: accepted.length, dead: rejectedDigests.size });
  const storedGood = await sql.query<{ n: string | number }>(
    `SELECT count() AS n FROM ${db}.events FINAL WHERE event_id IN {ids:Array(String)}`,
    { ids: goodIds.slice(0, 5000) },
  );
  expect(Number(storedGood[0]!.n)).toBe(Math.min(goodIds.length, 5000));
  expect(serviceFailed).toBeUndefined();
}, 900_000);
