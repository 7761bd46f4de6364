// Chaos scenario: the pipeline service SIGKILLed again and again while simulated shop traffic flows,
// and restarted each time. A second service on its own prefix and data directory takes the same
// events without kills: the reference. Afterwards: ClickHouse holds exactly the events sent (no row
// doubled), no bot reply was produced twice, and every user's interest profile equals the
// reference's (counters exactly, interest vectors to 1e-9).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { JetStreamManager, NatsConnection } from 'nats';
import { loadCatalog } from '../catalog';
import { simulatedEvents } from '../bench/common';
import type { Config } from '../infra/config';
import { sqlOverHttp, type Sql } from '../infra/clickhouse/sql';
import { connectNats } from '../infra/nats';
import { sleep } from '../infra/sleep';
import { getFreePort } from '../infra/stack/processes';
import { uniqueName } from '../infra/stack/test-clickhouse';
import { testConfig } from '../infra/stack/test-config';
import { startTestNats } from '../infra/stack/test-nats';
import { decodeState } from '../streams/processors/interest/state-codec';
import type { ProfileState } from '../streams/processors/interest/state';
import { createProducer } from '../streams/producer/producer';
import { names } from '../streams/topology';
import { applyTopology } from '../streams/topology-apply';
import { mulberry32 } from '../demo/random';
import { HOSTILE_PRODUCER, hostileMessages } from './hostile';

const CLI = path.join(__dirname, '../cli/shopstream.cjs');

export interface ProcessKillsOptions {
  events: number;
  kills: number;
  /** Hostile messages (chaos/hostile.ts) sent to both services while the kills happen. */
  hostile?: number;
  seed?: number;
  log?: (line: string) => void;
}

export interface ProcessKillsFigures {
  scenario: 'process kills';
  sent: number;
  stored: number;
  /** Rows stored beyond one per event (before any merge). */
  duplicated: number;
  deadLettered: number;
  /** Hostile messages sent, of which good (to be stored) and bad (to be dead-lettered). */
  hostile: { sent: number; good: number; stored: number; bad: number; deadLettered: number };
  kills: number;
  /** Kill -> the restarted service healthy again, ms. */
  recoveryMs: { p50: number; max: number };
  botReplies: number;
  botRepliesDoubled: number;
  profiles: number;
  profilesDiffering: number;
  seconds: number;
}

interface Instance {
  config: Config;
  dataDir: string;
  adminPort: number;
  child?: ChildProcess;
  sql: Sql;
}

async function instance(natsUrl: string, tag: string): Promise<Instance> {
  const dataDir = mkdtempSync(path.join(tmpdir(), `shopstream-chaos-${tag}-`));
  const adminPort = await getFreePort();
  const base = testConfig(natsUrl);
  const config = { ...base, clickhouse: { ...base.clickhouse, database: uniqueName(tag), dataDir } };
  return {
    config,
    dataDir,
    adminPort,
    sql: sqlOverHttp(`http://127.0.0.1:${adminPort}`, config.admin.token),
  };
}

function start(i: Instance): ChildProcess {
  const c = i.config;
  const child = spawn(process.execPath, [CLI, 'serve', '--no-collector'], {
    env: {
      ...process.env,
      NATS_URL: c.nats.url,
      SHOPSTREAM_PREFIX: c.nats.prefix,
      NATS_PARTITIONS: String(c.nats.partitions),
      CLICKHOUSE_URL: '',
      CLICKHOUSE_DATA_DIR: i.dataDir,
      CLICKHOUSE_DATABASE: c.clickhouse.database,
      ADMIN_PORT: String(i.adminPort),
      ADMIN_TOKEN: c.admin.token,
      ANALYST_PASSWORD: '',
      COUPON_SECRET: c.coupons.secret,
      TEMPORAL_ADDRESS: '127.0.0.1:1', // no flows: this scenario is about the stream processors
      SINK_BATCH_SIZE: '500',
      SINK_FLUSH_INTERVAL: '500ms',
      SINK_ACK_WAIT: '3s',
      LOG_LEVEL: 'error',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  i.child = child;
  return child;
}

async function healthy(i: Instance, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const ok = await fetch(`http://127.0.0.1:${i.adminPort}/healthz`, {
      signal: AbortSignal.timeout(1000),
    }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`the ${i.config.nats.prefix} service did not become healthy in ${timeoutMs} ms`);
}

const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));

/** The consumers that must drain (the triggers hold events while Temporal is away, by design). */
async function drained(jsm: JetStreamManager, prefix: string): Promise<boolean> {
  for await (const c of jsm.consumers.list(names(prefix).eventsStream))
    if (!c.name.startsWith('triggers') && c.num_pending + c.num_ack_pending > 0) return false;
  return true;
}

async function profiles(nc: NatsConnection, prefix: string): Promise<Map<string, ProfileState>> {
  const features = loadCatalog().features;
  const kv = await nc.jetstream().views.kv(names(prefix).profilesBucket, { bindOnly: true });
  const out = new Map<string, ProfileState>();
  const keys: string[] = [];
  for await (const key of await kv.keys()) keys.push(key); // listed first: a slow reader ends the listing
  for (const key of keys) {
    const e = await kv.get(key);
    if (e && e.operation === 'PUT' && e.value.length > 0) out.set(key, decodeState(e.value, features));
  }
  return out;
}

/**
 * The same profile: counters, products and interest vectors. Not lastEventAt: the bot's replies are
 * events of the user stamped with the wall clock, which differs between the two runs.
 */
function sameProfile(a: ProfileState, b: ProfileState): boolean {
  const close = (x: number[][], y: number[][]): boolean =>
    x.length === y.length && x.every((r, i) => r.every((v, j) => Math.abs(v - y[i]![j]!) < 1e-9));
  return (
    JSON.stringify(a.counters) === JSON.stringify(b.counters) &&
    JSON.stringify(a.purchased) === JSON.stringify(b.purchased) &&
    // the same products with the same figures (in whichever order the state lists them)
    JSON.stringify(Object.entries(a.skus).sort()) === JSON.stringify(Object.entries(b.skus).sort()) &&
    close(a.short.row.to2DArray(), b.short.row.to2DArray()) &&
    close(a.long.row.to2DArray(), b.long.row.to2DArray())
  );
}

export async function processKills(opts: ProcessKillsOptions): Promise<ProcessKillsFigures> {
  const log = opts.log ?? (() => undefined);
  const rnd = mulberry32(opts.seed ?? 11);
  const t0 = Date.now();
  const nats = await startTestNats();
  const chaos = await instance(nats.url, 'chaos');
  const reference = await instance(nats.url, 'reference');
  const nc = await connectNats(chaos.config.nats, 'chaos', { noAsyncTraces: true });
  try {
    const jsm = await nc.jetstreamManager();
    for (const i of [chaos, reference]) await applyTopology(jsm, i.config);
    start(chaos);
    start(reference);
    await Promise.all([healthy(chaos), healthy(reference)]);
    const events = simulatedEvents(opts.events, opts.seed ?? 11);
    log(`${events.length} events to both services; ${opts.kills} kills of the chaos one`);
    const send = async (i: Instance): Promise<number> => {
      const producer = await createProducer({
        nats: i.config.nats,
        shopId: 'chaos-shop',
        producerId: 'chaos-producer',
        connection: nc,
        maxInFlight: 500,
      });
      // paced a little, so the kills land while events flow
      for (let k = 0; k < events.length; k += 500) {
        await Promise.all(events.slice(k, k + 500).map((e) => producer.track(e.type, e.input as never)));
        await sleep(20);
      }
      await producer.close();
      return events.length;
    };
    const hostile = hostileMessages(
      opts.hostile ?? 0,
      (opts.seed ?? 11) + 1,
      chaos.config.nats.prefix,
      chaos.config.nats.partitions,
    );
    const sendHostile = async (i: Instance): Promise<void> => {
      const js = nc.jetstream();
      for (let k = 0; k < hostile.length; k += 200) {
        await Promise.all(
          hostile
            .slice(k, k + 200)
            .map((m) =>
              js.publish(
                m.subject.replace(`${chaos.config.nats.prefix}.`, `${i.config.nats.prefix}.`),
                m.data,
                { msgID: m.msgId },
              ),
            ),
        );
        await sleep(50);
      }
    };
    const sending = Promise.all([send(chaos), send(reference), sendHostile(chaos), sendHostile(reference)]);
    const recoveries: number[] = [];
    for (let k = 0; k < opts.kills; k++) {
      await sleep(500 + Math.floor(rnd() * 2500));
      const killedAt = Date.now();
      chaos.child!.kill('SIGKILL');
      await exited(chaos.child!);
      start(chaos);
      await healthy(chaos);
      recoveries.push(Date.now() - killedAt);
      log(`kill ${k + 1}/${opts.kills}: back in ${recoveries.at(-1)} ms`);
    }
    const [sent] = await sending;
    const until = Date.now() + 300_000;
    while (!(
      (await drained(jsm, chaos.config.nats.prefix)) && (await drained(jsm, reference.config.nats.prefix))
    )) {
      if (Date.now() > until) throw new Error('the services did not drain in 5 minutes');
      await sleep(500);
    }
    const db = chaos.config.clickhouse.database;
    const [c] = await chaos.sql.query<Record<string, string | number>>(
      `SELECT count() AS rows, uniqExact(event_id) AS events FROM ${db}.events WHERE producer_id = 'chaos-producer'`,
    );
    const [bot] = await chaos.sql.query<Record<string, string | number>>(
      `SELECT count() AS replies, countIf(n > 1) AS doubled
       FROM (SELECT reply_to, count() AS n FROM ${db}.events
             WHERE event_type = 'chat_turn' AND chat_role = 'bot'
             GROUP BY JSONExtractString(properties, 'reply_to') AS reply_to)`,
    );
    const dlq = await jsm.streams.info(names(chaos.config.nats.prefix).dlqStream);
    const [h] = await chaos.sql.query<Record<string, string | number>>(
      `SELECT uniqExact(event_id) AS stored FROM ${db}.events WHERE producer_id = '${HOSTILE_PRODUCER}'`,
    );
    const [a, b] = await Promise.all([
      profiles(nc, chaos.config.nats.prefix),
      profiles(nc, reference.config.nats.prefix),
    ]);
    let differing = 0;
    for (const [key, ref] of b)
      if (!a.has(key) || !sameProfile(a.get(key)!, ref)) {
        differing++;
      }
    // the shop's users only: the service's own alert_changed events (shop `ops`) are operators' events,
    // and a run with kills may well fire an alert the reference does not (replies wait for a restart)
    const extra = [...a.keys()].filter((k) => !b.has(k) && !k.startsWith('ops.'));
    if (process.env['CHAOS_DEBUG'])
      console.log(
        'only in the chaos run:',
        extra,
        [...a.keys()].filter((k) => !b.has(k)),
      );
    differing += extra.length;
    const sorted = [...recoveries].sort((x, y) => x - y);
    return {
      scenario: 'process kills',
      sent: sent,
      stored: Number(c?.['events'] ?? 0),
      duplicated: Number(c?.['rows'] ?? 0) - Number(c?.['events'] ?? 0),
      deadLettered: dlq.state.messages,
      hostile: {
        sent: hostile.length,
        good: hostile.filter((m) => m.good).length,
        stored: Number(h?.['stored'] ?? 0),
        bad: hostile.filter((m) => !m.good).length,
        deadLettered: dlq.state.messages,
      },
      kills: recoveries.length,
      recoveryMs: { p50: sorted[Math.floor(sorted.length / 2)] ?? 0, max: sorted.at(-1) ?? 0 },
      botReplies: Number(bot?.['replies'] ?? 0),
      botRepliesDoubled: Number(bot?.['doubled'] ?? 0),
      profiles: b.size,
      profilesDiffering: differing,
      seconds: Math.round((Date.now() - t0) / 1000),
    };
  } finally {
    for (const i of [chaos, reference]) {
      if (i.child && i.child.exitCode === null && i.child.signalCode === null) {
        i.child.kill('SIGTERM');
        await Promise.race([exited(i.child), sleep(10_000)]);
        if (i.child.exitCode === null && i.child.signalCode === null) i.child.kill('SIGKILL');
      }
      rmSync(i.dataDir, { recursive: true, force: true });
    }
    await nc.drain();
    await nats.stop();
  }
}
