// Chaos scenarios on the ClickHouse side of the pipeline (issue 12): "ClickHouse unavailable" (the
// sink cannot insert for a while) and "slow consumer" (inserts slower than the sink's ack wait, two
// sinks on one consumer: before the sink kept its batch in progress during the insert too, this was a
// redelivery storm of 10,974 extra deliveries for 20,000 events; now there must be none). The pipeline service runs IN THIS PROCESS (streams/service.ts startService),
// because one process owns an embedded chDB data directory: a second session on the same directory
// (infra/clickhouse/client.ts createClickHouse) is then the operator's hand that breaks ClickHouse
// for real, with genuine engine errors, not a mock:
//  - outage: `ALTER TABLE events MODIFY SETTING max_parts_in_total = 1`: once the table has a part,
//    every INSERT fails with TOO_MANY_PARTS (code 252, one of the sink's operational codes, so the
//    batch is held in place), while SELECTs still answer; `RESET SETTING` brings inserts back.
//  - slow inserts: a table constraint `CHECK sleep(s) = 0` (evaluated once per inserted block) makes
//    each insert take `s` seconds, longer than SINK_ACK_WAIT: the sink must tell JetStream it is still
//    working on the batch, or the ack wait expires while the insert runs and the other sink gets it.
// While it runs it samples the sink consumer's lag (num_pending + num_ack_pending, num_redelivered),
// this process's RSS and heap, nats-server's RSS, /readyz and /metrics, and counts the sink's log
// lines about the wait. Afterwards: sent, stored, duplicated rows, recovery time. The *Problems
// functions turn the figures into what failed (empty: passed).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import type { JetStreamManager, NatsConnection } from 'nats';
import pino from 'pino';
import { simulatedEvents } from '../bench/common';
import { createClickHouse, type ClickHouseClient } from '../infra/clickhouse/client';
import type { Config } from '../infra/config';
import { connectNats } from '../infra/nats';
import { sleep } from '../infra/sleep';
import { getFreePort } from '../infra/stack/processes';
import { uniqueName } from '../infra/stack/test-clickhouse';
import { testConfig } from '../infra/stack/test-config';
import { startTestNats, type TestNats } from '../infra/stack/test-nats';
import { createProducer } from '../streams/producer/producer';
import { startService, type Service } from '../streams/service';
import { names } from '../streams/topology';
import { applyTopology } from '../streams/topology-apply';

/** The producer id of the scenario's events (the count of stored rows is by it). */
const PRODUCER = 'chaos-ch-producer';
/** The sink's log line while it holds a batch for an unavailable ClickHouse (streams/sinks/clickhouse/batch.ts). */
const WAIT_LOG = 'ClickHouse unavailable; holding the batch and retrying in place';
/** Its log line when ClickHouse answers again. */
const BACK_LOG = 'ClickHouse answers again';
const MB = 1024 * 1024;

export interface ClickHouseOutageOptions {
  /** Events sent in all; `beforeShare` of them before the outage (so the table has a part), the rest during it. */
  events: number;
  /** How long inserts fail. */
  outageMs: number;
  /** Share of the events sent and stored before the outage (default 0.2). */
  beforeShare?: number;
  /** SINK_STALL_AFTER of the service: no progress for this long with events waiting fails its health (default 3 s). */
  stallAfterMs?: number;
  seed?: number;
  log?: (line: string) => void;
}

export interface SlowClickHouseOptions {
  events: number;
  /** How long each insert takes (a sleeping constraint); longer than `ackWaitMs` to mean anything. */
  insertSeconds: number;
  /** SINK_ACK_WAIT of the service (default 1 s). */
  ackWaitMs?: number;
  /** SINK_BATCH_SIZE of the service (default 1000). */
  batchSize?: number;
  /**
   * Services (replicas) in this process sharing the sink consumer (default 2). One sink never sees a
   * redelivery (it pulls one batch at a time); a second puller of the same consumer is what would
   * receive a batch whose ack wait expired during a slow insert.
   */
  replicas?: number;
  seed?: number;
  log?: (line: string) => void;
}

/** What /readyz and /metrics said, sampled. */
export interface Observed {
  /** /readyz answers by status code, e.g. { "200": 12, "503": 30 }. */
  readyz: Record<string, number>;
  /** The sink's own check in the /readyz body: samples where it was false, and the problems it gave. */
  sinkCheckFailed: number;
  sinkProblems: string[];
  /** Largest shopstream_sink_pending_messages seen. */
  metricSinkPendingMax: number;
  /** Largest shopstream_consumer_pending_messages + ..._ack_pending_messages of the sink consumer. */
  metricConsumerLagMax: number;
  /** Largest shopstream_sink_oldest_unstored_seconds seen. */
  metricOldestUnstoredMaxSeconds: number;
  /** Largest shopstream_consumer_redelivered_messages of the sink consumer. */
  metricRedeliveredMax: number;
  /** shopstream_sink_clickhouse_retries_total{kind="unavailable"} at the end of the phase. */
  metricRetries: number;
  samples: number;
}

export interface Memory {
  /** This process (the service, its embedded ClickHouse, the producer): RSS max before and during, MB. */
  rssBeforeMb: number;
  rssDuringMb: number;
  heapBeforeMb: number;
  heapDuringMb: number;
  /** nats-server, where the waiting events are: RSS max before and during, MB. */
  natsRssBeforeMb: number;
  natsRssDuringMb: number;
}

export interface ClickHouseOutageFigures {
  scenario: 'clickhouse outage';
  sent: number;
  stored: number;
  /** Rows stored beyond one per event (before any merge). */
  duplicated: number;
  /** Dead letters on the DLQ stream (none expected: an outage blames no event). */
  deadLettered: number;
  outageMs: number;
  /** The error the inserts failed with, as ClickHouse gave it. */
  failure: string;
  /** Largest consumer lag (num_pending + num_ack_pending) during the outage. */
  maxLag: number;
  memory: Memory;
  /** ClickHouse back -> the sink consumer drained, ms. */
  recoveryMs: number;
  /** During the outage. */
  duringOutage: Observed;
  /** /readyz once drained again. */
  readyAfter: number;
  /** The sink's log lines: holding the batch (warn) and ClickHouse answering again (info). */
  logs: { waiting: number; answersAgain: number; stalled: number };
  seconds: number;
}

export interface SlowClickHouseFigures {
  scenario: 'slow clickhouse';
  sent: number;
  stored: number;
  duplicated: number;
  deadLettered: number;
  insertSeconds: number;
  ackWaitMs: number;
  replicas: number;
  /** Largest num_redelivered of the sink consumer seen, and its total deliveries beyond one (delivered.consumer_seq - acked messages). */
  redeliveredMax: number;
  extraDeliveries: number;
  /** Redelivered messages the sink found already stored and skipped, and its batches. */
  duplicatesSkipped: number;
  batches: number;
  maxLag: number;
  memory: Memory;
  /** First event sent -> the sink consumer drained, ms. */
  drainMs: number;
  observed: Observed;
  seconds: number;
}

interface Harness {
  config: Config;
  nats: TestNats;
  service: Service;
  /** Every replica, the first being `service`. */
  services: Service[];
  nc: NatsConnection;
  jsm: JetStreamManager;
  /** A second session on the service's data directory: the operator's hand. */
  ch: ClickHouseClient;
  table: string;
  adminUrl: string;
  logs: { msg: string; level: number }[];
  stop(): Promise<void>;
}

/** NATS, the service in this process (sink and admin only), a control session, a log capture. */
async function startHarness(tag: string, env: Record<string, string>, replicas = 1): Promise<Harness> {
  const nats = await startTestNats();
  const dataDir = mkdtempSync(path.join(tmpdir(), `shopstream-chaos-${tag}-`));
  const adminPort = await getFreePort();
  const config = testConfig(nats.url, {
    CLICKHOUSE_URL: '',
    CLICKHOUSE_DATA_DIR: dataDir,
    CLICKHOUSE_DATABASE: uniqueName(tag),
    ADMIN_PORT: String(adminPort),
    ANALYST_PASSWORD: '',
    SINK_FLUSH_INTERVAL: '500ms',
    ...env,
  });
  // the service's logs, kept to count the sink's lines about the wait
  const logs: { msg: string; level: number }[] = [];
  const sinkStream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        try {
          const o = JSON.parse(line) as { msg?: string; level?: number };
          logs.push({ msg: o.msg ?? '', level: o.level ?? 0 });
        } catch {
          // not JSON: not ours
        }
      }
      done();
    },
  });
  const logger = pino({ level: 'info', base: { component: 'service' } }, sinkStream);
  let service: Service | undefined;
  const others: Service[] = [];
  let nc: NatsConnection | undefined;
  let ch: ClickHouseClient | undefined;
  const stop = async (): Promise<void> => {
    await ch?.close().catch(() => undefined);
    for (const o of others) await o.stop().catch(() => undefined);
    await service?.stop().catch(() => undefined);
    await nc?.drain().catch(() => undefined);
    await nats.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    nc = await connectNats(config.nats, `chaos-${tag}`, { noAsyncTraces: true });
    const jsm = await nc.jetstreamManager();
    await applyTopology(jsm, config);
    const only = { collector: false, interest: false, orders: false, triggers: false, bot: false };
    service = await startService({ config, logger, ...only });
    // more replicas of the service on the same database and sink consumer (their own admin port):
    // sessions of one process share the embedded data directory, as replicas share a server
    for (let k = 1; k < replicas; k++) {
      const admin = { ...config.admin, port: await getFreePort() };
      others.push(await startService({ config: { ...config, admin }, logger, topology: 'check', ...only }));
    }
    ch = createClickHouse(config.clickhouse);
    return {
      config,
      nats,
      service,
      services: [service, ...others],
      nc,
      jsm,
      ch,
      table: `${config.clickhouse.database}.events`,
      adminUrl: `http://127.0.0.1:${adminPort}`,
      logs,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The sink consumer's lag and redeliveries. */
async function sinkConsumer(
  h: Harness,
): Promise<{ lag: number; redelivered: number; delivered: number; ackFloor: number }> {
  const n = names(h.config.nats.prefix);
  const c = await h.jsm.consumers.info(n.eventsStream, n.sinkConsumer);
  return {
    lag: c.num_pending + c.num_ack_pending,
    redelivered: c.num_redelivered,
    delivered: c.delivered.consumer_seq,
    ackFloor: c.ack_floor.stream_seq,
  };
}

/** Resident set size of a process from /proc, bytes (0 where unreadable). */
function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** A metric's value from Prometheus text: the line of `name` whose labels contain `labels` (0 if none). */
export function metricValue(text: string, name: string, labels = ''): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!(rest.startsWith(' ') || rest.startsWith('{'))) continue;
    if (labels && !rest.includes(labels)) continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(v)) return v;
  }
  return 0;
}

/** Samples lag, memory, /readyz and /metrics until stopped; `phase` says where the samples go. */
function startSampler(h: Harness) {
  const consumer = names(h.config.nats.prefix).sinkConsumer;
  const fresh = (): Observed => ({
    readyz: {},
    sinkCheckFailed: 0,
    sinkProblems: [],
    metricSinkPendingMax: 0,
    metricConsumerLagMax: 0,
    metricOldestUnstoredMaxSeconds: 0,
    metricRedeliveredMax: 0,
    metricRetries: 0,
    samples: 0,
  });
  const phases = new Map<
    string,
    { observed: Observed; rss: number; heap: number; natsRss: number; lag: number; redelivered: number }
  >();
  let phase = 'before';
  let running = true;
  const slot = (p: string) => {
    let s = phases.get(p);
    if (!s) phases.set(p, (s = { observed: fresh(), rss: 0, heap: 0, natsRss: 0, lag: 0, redelivered: 0 }));
    return s;
  };
  const memory = async (): Promise<void> => {
    while (running) {
      const s = slot(phase);
      const m = process.memoryUsage();
      s.rss = Math.max(s.rss, m.rss);
      s.heap = Math.max(s.heap, m.heapUsed);
      s.natsRss = Math.max(s.natsRss, rssOf(h.nats.pid));
      const c = await sinkConsumer(h).catch(() => undefined);
      if (c) {
        s.lag = Math.max(s.lag, c.lag);
        s.redelivered = Math.max(s.redelivered, c.redelivered);
      }
      await sleep(200);
    }
  };
  const admin = async (): Promise<void> => {
    while (running) {
      const s = slot(phase).observed;
      const timeout = AbortSignal.timeout(5000);
      try {
        // metrics first: the consumer gauges are read from JetStream at each scrape
        const text = await (await fetch(`${h.adminUrl}/metrics`, { signal: timeout })).text();
        const label = `consumer="${consumer}"`;
        s.metricSinkPendingMax = Math.max(
          s.metricSinkPendingMax,
          metricValue(text, 'shopstream_sink_pending_messages'),
        );
        s.metricConsumerLagMax = Math.max(
          s.metricConsumerLagMax,
          metricValue(text, 'shopstream_consumer_pending_messages', label) +
            metricValue(text, 'shopstream_consumer_ack_pending_messages', label),
        );
        s.metricOldestUnstoredMaxSeconds = Math.max(
          s.metricOldestUnstoredMaxSeconds,
          metricValue(text, 'shopstream_sink_oldest_unstored_seconds'),
        );
        s.metricRedeliveredMax = Math.max(
          s.metricRedeliveredMax,
          metricValue(text, 'shopstream_consumer_redelivered_messages', label),
        );
        s.metricRetries = metricValue(text, 'shopstream_sink_clickhouse_retries_total', 'kind="unavailable"');
        const r = await fetch(`${h.adminUrl}/readyz`, { signal: timeout });
        const body = (await r.json()) as { checks?: Record<string, boolean>; sink?: { problem?: string } };
        s.readyz[String(r.status)] = (s.readyz[String(r.status)] ?? 0) + 1;
        if (body.checks?.['sink'] === false) s.sinkCheckFailed++;
        const problem = body.sink?.problem;
        if (problem && !s.sinkProblems.includes(problem)) s.sinkProblems.push(problem);
        s.samples++;
      } catch {
        s.readyz['error'] = (s.readyz['error'] ?? 0) + 1;
      }
      await sleep(500);
    }
  };
  const loops = Promise.all([memory(), admin()]);
  return {
    set: (p: string) => void (phase = p),
    get: (p: string) => slot(p),
    async stop(): Promise<void> {
      running = false;
      await loops;
    },
  };
}

function memoryFigures(
  before: { rss: number; heap: number; natsRss: number },
  during: typeof before,
): Memory {
  const mb = (b: number) => Math.round(b / MB);
  return {
    rssBeforeMb: mb(before.rss),
    rssDuringMb: mb(during.rss),
    heapBeforeMb: mb(before.heap),
    heapDuringMb: mb(during.heap),
    natsRssBeforeMb: mb(before.natsRss),
    natsRssDuringMb: mb(during.natsRss),
  };
}

/** Publishes `events` (paced in slices of 500), returning how many were acknowledged by the stream. */
async function send(h: Harness, events: ReturnType<typeof simulatedEvents>): Promise<number> {
  const producer = await createProducer({
    nats: h.config.nats,
    shopId: 'chaos-shop',
    producerId: PRODUCER,
    connection: h.nc,
    maxInFlight: 500,
  });
  try {
    for (let k = 0; k < events.length; k += 500) {
      await Promise.all(events.slice(k, k + 500).map((e) => producer.track(e.type, e.input as never)));
      await sleep(10);
    }
  } finally {
    await producer.close();
  }
  return events.length;
}

/** Until the sink consumer has nothing pending nor unacked; returns how long that took. */
async function drained(h: Harness, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const c = await sinkConsumer(h);
    if (c.lag === 0) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs)
      throw new Error(`the sink did not drain in ${timeoutMs} ms (lag ${c.lag})`);
    await sleep(100);
  }
}

async function storedRows(h: Harness): Promise<{ rows: number; events: number }> {
  const rs = await h.ch.query({
    query: `SELECT count() AS rows, uniqExact(event_id) AS events FROM ${h.table} WHERE producer_id = {p:String}`,
    query_params: { p: PRODUCER },
    format: 'JSONEachRow',
  });
  const [r] = await rs.json<{ rows: string | number; events: string | number }>();
  return { rows: Number(r?.rows ?? 0), events: Number(r?.events ?? 0) };
}

async function deadLetters(h: Harness): Promise<number> {
  return (await h.jsm.streams.info(names(h.config.nats.prefix).dlqStream)).state.messages;
}

async function readyStatus(h: Harness): Promise<number> {
  return (await fetch(`${h.adminUrl}/readyz`, { signal: AbortSignal.timeout(5000) })).status;
}

/**
 * ClickHouse refuses inserts (TOO_MANY_PARTS) for `outageMs` while events keep coming: they must wait
 * in JetStream, memory stay bounded, nothing be lost or doubled once inserts work again, and the wait
 * show in the sink's logs, /readyz and /metrics.
 */
export async function clickhouseOutage(opts: ClickHouseOutageOptions): Promise<ClickHouseOutageFigures> {
  const log = opts.log ?? (() => undefined);
  const t0 = Date.now();
  const h = await startHarness('outage', {
    SINK_BATCH_SIZE: '500',
    SINK_ACK_WAIT: '2s',
    SINK_STALL_AFTER: `${opts.stallAfterMs ?? 3000}ms`,
  });
  const sampler = startSampler(h);
  try {
    const events = simulatedEvents(opts.events, opts.seed ?? 12);
    const nBefore = Math.max(1, Math.floor(events.length * (opts.beforeShare ?? 0.2)));
    let sent = await send(h, events.slice(0, nBefore));
    await drained(h, 120_000);
    log(`${sent} events stored before the outage`);

    sampler.set('outage');
    await h.ch.command({ query: `ALTER TABLE ${h.table} MODIFY SETTING max_parts_in_total = 1` });
    const outageStart = Date.now();
    // the failure as ClickHouse gives it, on our own session (the insert cannot land: the table has parts)
    const failure = await h.ch
      .insert({
        table: h.table,
        values: [{ event_id: 'chaos-probe', producer_id: 'chaos-probe', occurred_at: '2024-01-01 00:00:00' }],
        format: 'JSONEachRow',
      })
      .then(
        () => 'no error: the probe insert landed',
        (err: Error & { type?: string }) => `${err.type ?? ''} ${err.message.slice(0, 120)}`,
      );
    log(`outage: inserts refused (${opts.outageMs} ms); sending ${events.length - nBefore} events`);
    sent += await send(h, events.slice(nBefore));
    const left = opts.outageMs - (Date.now() - outageStart);
    if (left > 0) await sleep(left);
    const during = sampler.get('outage');
    const before = sampler.get('before');

    sampler.set('recovery');
    await h.ch.command({ query: `ALTER TABLE ${h.table} RESET SETTING max_parts_in_total` });
    const outageMs = Date.now() - outageStart;
    const recoveryMs = await drained(h, 180_000);
    log(`ClickHouse back after ${outageMs} ms; drained in ${recoveryMs} ms`);
    // /readyz is healthy again once drained (the next check after progress)
    let readyAfter = 0;
    for (let k = 0; k < 50 && readyAfter !== 200; k++) {
      readyAfter = await readyStatus(h).catch(() => 0);
      if (readyAfter !== 200) await sleep(200);
    }
    const c = await storedRows(h);
    const count = (msg: string) => h.logs.filter((l) => l.msg === msg).length;
    return {
      scenario: 'clickhouse outage',
      sent,
      stored: c.events,
      duplicated: c.rows - c.events,
      deadLettered: await deadLetters(h),
      outageMs,
      failure: failure.trim(),
      maxLag: during.lag,
      memory: memoryFigures(before, during),
      recoveryMs,
      duringOutage: during.observed,
      readyAfter,
      logs: { waiting: count(WAIT_LOG), answersAgain: count(BACK_LOG), stalled: count('sink stalled') },
      seconds: Math.round((Date.now() - t0) / 1000),
    };
  } finally {
    await sampler.stop();
    await h.stop();
  }
}

/**
 * Every insert takes `insertSeconds` (longer than the ack wait) while events arrive: JetStream's ack
 * waits expire with inserts still running. No row may be stored twice, memory must stay bounded, and
 * the lag and redeliveries must show in consumer info and /metrics.
 */
export async function slowClickHouse(opts: SlowClickHouseOptions): Promise<SlowClickHouseFigures> {
  const log = opts.log ?? (() => undefined);
  const t0 = Date.now();
  const ackWaitMs = opts.ackWaitMs ?? 1000;
  const h = await startHarness(
    'storm',
    {
      SINK_BATCH_SIZE: String(opts.batchSize ?? 1000),
      SINK_ACK_WAIT: `${ackWaitMs}ms`,
      // slow is not stalled: this scenario is about redeliveries, not readiness
      SINK_STALL_AFTER: '10m',
    },
    opts.replicas ?? 2,
  );
  const sampler = startSampler(h);
  try {
    const events = simulatedEvents(opts.events, opts.seed ?? 13);
    // a baseline of memory with the service idle
    await sleep(1500);
    sampler.set('storm');
    await h.ch.command({
      query: `ALTER TABLE ${h.table} ADD CONSTRAINT chaos_slow_insert CHECK sleep(${opts.insertSeconds}) = 0`,
    });
    const started = Date.now();
    log(
      `each insert takes ${opts.insertSeconds} s, ack wait ${ackWaitMs} ms; sending ${events.length} events`,
    );
    const sent = await send(h, events);
    await drained(h, 600_000);
    const drainMs = Date.now() - started;
    const during = sampler.get('storm');
    const before = sampler.get('before');
    const end = await sinkConsumer(h);
    await h.ch.command({ query: `ALTER TABLE ${h.table} DROP CONSTRAINT chaos_slow_insert` });
    const c = await storedRows(h);
    // summed over the replicas, from their registries
    let duplicatesSkipped = 0;
    let batches = 0;
    for (const svc of h.services) {
      const text = await svc.metrics.registry.metrics();
      duplicatesSkipped += metricValue(text, 'shopstream_sink_events_total', 'result="duplicate"');
      batches += metricValue(text, 'shopstream_sink_batch_duration_seconds_count');
    }
    log(`drained in ${drainMs} ms; ${end.delivered} deliveries for ${sent} events`);
    return {
      scenario: 'slow clickhouse',
      sent,
      stored: c.events,
      duplicated: c.rows - c.events,
      deadLettered: await deadLetters(h),
      insertSeconds: opts.insertSeconds,
      ackWaitMs,
      replicas: opts.replicas ?? 2,
      redeliveredMax: Math.max(during.redelivered, during.observed.metricRedeliveredMax),
      extraDeliveries: end.delivered - sent,
      duplicatesSkipped,
      batches,
      maxLag: during.lag,
      memory: memoryFigures(before, during),
      drainMs,
      observed: during.observed,
      seconds: Math.round((Date.now() - t0) / 1000),
    };
  } finally {
    await sampler.stop();
    await h.stop();
  }
}

/**
 * Growth of this process's RSS (the service or its replicas, their embedded ClickHouse sessions and
 * the producer) we accept as bounded: measured at 20,000 events, an outage grew it by ~80 MB and a
 * storm with two replicas inserting 1,000-row batches side by side by ~200 MB, whatever the backlog
 * waiting in JetStream (each sink holds one batch).
 */
export const MAX_RSS_GROWTH_MB = 256;

/** What went wrong in an outage run (empty: passed). */
export function clickhouseOutageProblems(f: ClickHouseOutageFigures): string[] {
  const p: string[] = [];
  const want = (ok: boolean, what: string): void => void (ok || p.push(what));
  want(f.stored === f.sent, `stored ${f.stored} of ${f.sent} events`);
  want(f.duplicated === 0, `${f.duplicated} rows doubled`);
  want(f.deadLettered === 0, `${f.deadLettered} events dead-lettered for an outage`);
  want(/TOO_MANY_PARTS/.test(f.failure), `the outage was not a refused insert: ${f.failure}`);
  want(f.maxLag > 0, 'no lag during the outage: the events did not wait');
  want(
    f.memory.rssDuringMb - f.memory.rssBeforeMb <= MAX_RSS_GROWTH_MB,
    `RSS grew from ${f.memory.rssBeforeMb} to ${f.memory.rssDuringMb} MB during the outage`,
  );
  const o = f.duringOutage;
  want(
    (o.readyz['503'] ?? 0) > 0,
    `/readyz never answered 503 during the outage: ${JSON.stringify(o.readyz)}`,
  );
  want(o.sinkCheckFailed > 0, 'the sink check never failed in /readyz during the outage');
  want(o.metricConsumerLagMax > 0, 'shopstream_consumer_*pending_messages never showed the lag');
  want(o.metricSinkPendingMax > 0, 'shopstream_sink_pending_messages never showed the lag');
  want(o.metricRetries > 0, 'shopstream_sink_clickhouse_retries_total{kind="unavailable"} stayed 0');
  want(f.logs.waiting > 0, 'the sink never logged that it waits for ClickHouse');
  want(f.logs.answersAgain > 0, 'the sink never logged that ClickHouse answers again');
  want(f.readyAfter === 200, `/readyz answered ${f.readyAfter} once drained`);
  return p;
}

/** What went wrong in a slow-ClickHouse run (empty: passed). */
export function slowClickHouseProblems(f: SlowClickHouseFigures): string[] {
  const p: string[] = [];
  const want = (ok: boolean, what: string): void => void (ok || p.push(what));
  want(f.stored === f.sent, `stored ${f.stored} of ${f.sent} events`);
  want(f.duplicated === 0, `${f.duplicated} rows doubled`);
  want(f.deadLettered === 0, `${f.deadLettered} events dead-lettered`);
  want(f.maxLag > 0, 'no lag while inserts were slow');
  want(f.observed.metricConsumerLagMax > 0, 'shopstream_consumer_*pending_messages never showed the lag');
  // no storm: before the sink kept its batch in progress, 68% of the events went to the other sink
  // (2,738 of 4,000). A few may come again for another reason, known and not fixed yet: nats.js ends
  // a fetch on its own timer and unsubscribes, so messages on the wire when the event loop was late
  // reach nobody and come back after the ack wait (BENCHMARKS.md); up to a tenth is tolerated.
  want(
    f.extraDeliveries <= f.sent / 10,
    `${f.extraDeliveries} redeliveries: a batch was handed to another sink while its insert ran`,
  );
  want(
    f.memory.rssDuringMb - f.memory.rssBeforeMb <= MAX_RSS_GROWTH_MB,
    `RSS grew from ${f.memory.rssBeforeMb} to ${f.memory.rssDuringMb} MB while inserts were slow`,
  );
  return p;
}
