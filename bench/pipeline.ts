// The whole pipeline's figures: the real service (`shopstream serve --no-collector`, default settings:
// the sink's 5,000-event batches, the interest processor's 500, 16 partitions) as separate OS
// processes on a throwaway nats-server, each with its own embedded ClickHouse data directory, fed by
// the producer SDK with the simulated shop's users (demo/simulator.ts, the first events of each
// user's journey). Each phase is timed alone:
//  1. throughput: `events` events of `users` users published as fast as the SDK goes (publishAll);
//     timed from the first publish until every durable consumer of the events stream (the sink, the
//     interest processor's partitions, the chat bot's, the order view) has num_pending 0 and
//     num_ack_pending 0 and ClickHouse holds every event. The triggers' consumers are left out: there
//     is no Temporal (TEMPORAL_ADDRESS points at a closed port), so they hold their events, as in the
//     chaos scenarios (chaos/service.ts drained).
//  2. resident memory of each service process (VmRSS of /proc/<pid>/status) once every user's
//     interest state is applied.
//  3. latency at a steady `rate` for `seconds`, each event stamped occurredAt = Date.now() when it is
//     handed to the producer, one event per (returning) user: event -> ClickHouse is ingested_at -
//     occurred_at in the events table (bench/freshness.ts); event -> vector is that stamp -> the
//     time JetStream stored the first update of the user's profile (the profiles bucket, watched)
//     whose watermark (floor / appliedSeqs, state-codec.ts) includes the event's stream sequence
//     (its publish ack).
// With `instances: 2` a second service runs on the same prefix with `--no-sink` (the embedded
// ClickHouse has one owner per data directory, and the sink, snapshots, rules job and admin SQL come
// with it): both run the interest processor on every partition (INTEREST_PARTITIONS all), the chat
// bot, the order view and the triggers, with SERVICE_LEASES on: the ordered consumers are dealt out
// by lease (docs/scaling.md), the sink's is shared.
// The driver is bench/pipeline-run.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { KvWatchInclude, type JetStreamManager, type NatsConnection } from 'nats';
import { CLI, exited, running } from '../chaos/service';
import { demoCatalog } from '../demo/catalog';
import { planUser, type PlannedEvent } from '../demo/simulator';
import { sqlOverHttp, type Sql } from '../infra/clickhouse/sql';
import { describeVariables, loadConfig, type Config } from '../infra/config';
import { sleep } from '../infra/sleep';
import { getFreePort } from '../infra/stack/processes';
import { uniqueName } from '../infra/stack/test-clickhouse';
import { IGNORED_EVENT_TYPES } from '../streams/processors/interest/model';
import { profileKey } from '../streams/processors/interest/store';
import { rolePasswordVariable } from '../streams/permissions';
import { createProducer } from '../streams/producer/producer';
import { names } from '../streams/topology';
import { onThrowawayNats, publishAll, quantiles, round1, type Quantiles } from './common';

export interface PipelineFigures {
  /** events / seconds from the first publish until every consumer drained and ClickHouse held them all. */
  pipeline_events_per_s: number;
  /** events / seconds the producer SDK took to publish them (all acked), with the services running. */
  publish_per_s: number;
  events: number;
  users: number;
  /** First publish -> every consumer drained and ClickHouse holding every event, s. */
  drain_s: number;
  /** Publish stamp -> JetStream's time of the first profile update that includes the event. */
  event_to_vector_ms: Quantiles;
  /** occurred_at (the publish stamp) -> ingested_at, in the events table. */
  event_to_clickhouse_ms: Quantiles;
  /** Resident memory after phase 1, MB: `service`, or `service_1` and `service_2`. */
  rss_mb: Record<string, number>;
  instances: 1 | 2;
  detail: PipelineDetail;
}

export interface PipelineDetail {
  /** Seconds of publishing alone in phase 1. */
  publish_s: number;
  /** When each consumer (group) had nothing pending or unacked for good, s after the first publish. */
  consumers_drained_s: Record<string, number>;
  /** What the triggers' consumers still held (no Temporal): pending + unacked. */
  triggers_held: number;
  /**
   * Deliveries beyond one per message (an ack wait ran out, a failed batch nak'd), of the sink and of
   * the interest partitions together, in phase 1 and in phase 3.
   */
  redelivered: Record<'phase1' | 'phase3', { sink_clickhouse: number; interest: number }>;
  /** Peak resident memory of each process (VmHWM), MB. */
  rss_peak_mb: Record<string, number>;
  /** Per process: the interest partitions it ran and whether it ran the sink. */
  processes: Record<string, { pid: number; interest_partitions: string; sink: boolean }>;
  /** Spawn -> every process healthy, s. */
  startup_s: number;
  /** Counters from each process's /v1/stats after phase 1. */
  stats_after_phase1: Record<string, unknown>;
  latency: {
    rate_per_s: number;
    seconds: number;
    sent: number;
    achieved_per_s: number;
    /** Events of types the interest processor applies, and those no profile update was found for. */
    vector_events: number;
    vector_unmatched: number;
    /** Publish stamp -> the watcher here received that update (the watch's own delay included). */
    vector_seen_ms: Quantiles;
    clickhouse_events: number;
    /** First publish -> every event in ClickHouse and in its profile, s. */
    all_in_s: number;
    /** Consumers with something pending+unacked then (drain not awaited in phase 3). */
    busy_at_end: Record<string, string>;
  };
  cpu_profiles: string[];
  total_s: number;
}

export interface PipelineOptions {
  /** Distinct users of phase 1 (default 100,000). */
  users?: number;
  /** Events of phase 1 (default 2 per user). */
  events?: number;
  /** Events per second of phase 3 (default 2,000). */
  rate?: number;
  /** Seconds of phase 3 (default 20). */
  seconds?: number;
  instances?: 1 | 2;
  /** Each service process runs with --cpu-prof into this directory (written when it exits). */
  cpuProfileDir?: string;
  log?: (line: string) => void;
}

const SHOP_ID = 'bench';
const LATENCY_PRODUCER = 'bench-pipeline-latency';
const DATABASE = 'shopstream';
/** How often the consumers' state is read while waiting for a drain. */
const POLL_MS = 200;
const HEALTHY_WITHIN_MS = 180_000;
const DRAIN_WITHIN_MS = 600_000;
/** Longest wait for phase 3's events to reach ClickHouse and the profiles after the last publish. */
const LATENCY_WAIT_MS = 120_000;
/** SIGTERM, then SIGKILL after this long (a drain, the last snapshot, the CPU profile written). */
const STOP_GRACE_MS = 60_000;

interface ServiceProc {
  name: string;
  child: ChildProcess;
  adminPort: number;
  dataDir: string;
  partitions: string;
  sink: boolean;
  /** The last lines the process wrote (stdout and stderr). */
  tail: string[];
  spawnError?: Error;
}

/**
 * The users' journeys (demo/simulator.ts planUser, one seed): user i's first events for phase 1 (the
 * `events` spread evenly, about events/users each) and, after them, the events of phase 3.
 */
function planEvents(
  users: number,
  events: number,
  latencyEvents: number,
): { phase1: PlannedEvent[]; later: PlannedEvent[][] } {
  const catalog = demoCatalog();
  const t0 = Date.now() - 2 * 3_600_000;
  const extra = Math.ceil(latencyEvents / users) + 1; // some journeys are short
  const phase1: PlannedEvent[] = [];
  const later: PlannedEvent[][] = [];
  for (let i = 0; i < users; i++) {
    const k = Math.floor(((i + 1) * events) / users) - Math.floor((i * events) / users);
    const journey = planUser(41, i, catalog, t0).events;
    phase1.push(...journey.slice(0, k));
    later.push(journey.slice(k, k + extra));
  }
  return { phase1, later };
}

/** Phase 3's events: each user's next event, user after user, then the one after, until `total`. */
function latencyEvents(later: PlannedEvent[][], total: number): PlannedEvent[] {
  const out: PlannedEvent[] = [];
  for (let round = 0; out.length < total; round++) {
    let any = false;
    for (const evs of later) {
      const e = evs[round];
      if (!e) continue;
      any = true;
      out.push(e);
      if (out.length === total) break;
    }
    if (!any) break;
  }
  return out;
}

/** The service's environment: every shopstream variable at its default but those set here. */
function serviceEnv(
  config: Config,
  p: { adminPort: number; dataDir: string; partitions: string; leases: boolean },
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const { variable } of describeVariables()) {
    delete env[variable];
    delete env[`${variable}_FILE`];
  }
  return {
    ...env,
    NATS_URL: config.nats.url,
    SHOPSTREAM_PREFIX: config.nats.prefix,
    NATS_PARTITIONS: String(config.nats.partitions),
    // the throwaway server has no users: no role login from the local stack's .data/local.env
    [rolePasswordVariable('service')]: '',
    CLICKHOUSE_URL: '',
    CLICKHOUSE_DATA_DIR: p.dataDir,
    CLICKHOUSE_DATABASE: DATABASE,
    ADMIN_PORT: String(p.adminPort),
    ADMIN_TOKEN: config.admin.token,
    ANALYST_PASSWORD: '', // the ClickHouse-compatible endpoint off (its port is fixed)
    COUPON_SECRET: config.coupons.secret,
    TEMPORAL_ADDRESS: config.temporal.address, // nothing listens: the triggers hold their events
    INTEREST_PARTITIONS: p.partitions,
    // two instances deal the ordered consumers out by lease (docs/scaling.md); one needs none
    SERVICE_LEASES: p.leases ? 'on' : 'off',
    LOG_LEVEL: 'warn',
  };
}

function spawnService(
  config: Config,
  opts: {
    name: string;
    adminPort: number;
    partitions: string;
    sink: boolean;
    leases: boolean;
    cpuProfileDir?: string;
  },
  log: (line: string) => void,
): ServiceProc {
  const dataDir = mkdtempSync(path.join(tmpdir(), `shopstream-bench-${opts.name}-`));
  const nodeArgs = opts.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfileDir}`] : [];
  const args = [...nodeArgs, CLI, 'serve', '--no-collector', ...(opts.sink ? [] : ['--no-sink'])];
  const child = spawn(process.execPath, args, {
    env: serviceEnv(config, {
      adminPort: opts.adminPort,
      dataDir,
      partitions: opts.partitions,
      leases: opts.leases,
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc: ServiceProc = { ...opts, child, dataDir, tail: [] };
  child.on('error', (err) => (proc.spawnError = err));
  const lines = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      proc.tail.push(line);
      if (proc.tail.length > 40) proc.tail.shift();
      log(`  [${opts.name}] ${line.length > 400 ? `${line.slice(0, 400)}...` : line}`);
    }
  };
  child.stdout?.on('data', lines);
  child.stderr?.on('data', lines);
  return proc;
}

/** Throws, with its last output, if the process is gone. */
function checkAlive(p: ServiceProc): void {
  if (p.spawnError) throw new Error(`${p.name} could not start: ${p.spawnError.message}`);
  const { exitCode, signalCode } = p.child;
  if (exitCode !== null || signalCode !== null)
    throw new Error(
      `${p.name} exited (code ${exitCode}, signal ${signalCode}); last output:\n${p.tail.join('\n')}`,
    );
}

/** A wait that does not keep the process alive (a grace period raced against an exit). */
const unrefSleep = (ms: number): Promise<void> =>
  new Promise((resolve) => void setTimeout(resolve, ms).unref());

/**
 * Runs `fn`; when it fails (a request to a service that just died), says which process exited and
 * how, rather than the socket error.
 */
async function whileAlive<T>(procs: readonly ServiceProc[], fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    await Promise.race([Promise.all(procs.map((p) => exited(p.child))), unrefSleep(1000)]);
    for (const p of procs) checkAlive(p);
    throw err;
  }
}

async function healthy(p: ServiceProc): Promise<void> {
  const until = Date.now() + HEALTHY_WITHIN_MS;
  while (Date.now() < until) {
    checkAlive(p);
    const ok = await fetch(`http://127.0.0.1:${p.adminPort}/healthz`, {
      signal: AbortSignal.timeout(2000),
    }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await sleep(250);
  }
  throw new Error(`${p.name} did not become healthy within ${HEALTHY_WITHIN_MS / 1000} s`);
}

async function stopService(p: ServiceProc, log: (line: string) => void): Promise<void> {
  const t0 = performance.now();
  try {
    if (running(p.child)) {
      p.child.kill('SIGTERM');
      await Promise.race([exited(p.child), unrefSleep(STOP_GRACE_MS)]);
      if (running(p.child)) {
        log(`  ${p.name} still running ${STOP_GRACE_MS / 1000} s after SIGTERM: SIGKILL`);
        p.child.kill('SIGKILL');
        await Promise.race([exited(p.child), unrefSleep(5000)]);
      }
      log(`  ${p.name} stopped in ${round1((performance.now() - t0) / 1000)} s (code ${p.child.exitCode})`);
    }
  } finally {
    rmSync(p.dataDir, { recursive: true, force: true });
  }
}

/** VmRSS and VmHWM of a process, MB. */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rss: round1(kb('VmRSS') / 1024), peak: round1(kb('VmHWM') / 1024) };
}

async function statsOf(p: ServiceProc, token: string): Promise<Record<string, unknown>> {
  const res = await fetch(`http://127.0.0.1:${p.adminPort}/v1/stats`, {
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(5000),
  });
  if (!res.ok) throw new Error(`${p.name} /v1/stats answered ${res.status}`);
  return (await res.json()) as Record<string, unknown>;
}

/** The counters worth reading in a report: the sink's and interest processor's. */
function statsSummary(s: Record<string, unknown>): Record<string, unknown> {
  const pick = (v: unknown, keys: string[]): Record<string, unknown> | undefined =>
    v && typeof v === 'object'
      ? Object.fromEntries(keys.flatMap((k) => (k in v ? [[k, (v as Record<string, unknown>)[k]]] : [])))
      : undefined;
  return {
    ...(s['sink'] ? { sink: pick(s['sink'], ['stored', 'batches', 'duplicates', 'deadLettered']) } : {}),
    ...(s['interest']
      ? {
          interest: pick(s['interest'], [
            'batches',
            'applied',
            'writes',
            'conflicts',
            'skippedDuplicates',
            'tierChangesPublished',
          ]),
        }
      : {}),
  };
}

/** A consumer's group in the report: interest_p3 -> interest, chat_p0 -> chat, others as named. */
const groupOf = (consumer: string): string => consumer.replace(/_p\d+$/, '');

/** The events stream's consumers at one moment. */
interface ConsumersNow {
  /** Consumers (but the triggers') with something pending or unacked: name -> "pending+unacked". */
  busy: Map<string, string>;
  /** Every consumer but the triggers'. */
  all: string[];
  /** What the triggers' consumers hold (no Temporal): pending + unacked. */
  triggersHeld: number;
  /** Deliveries of the sink and of the interest partitions together (each message matches one of each). */
  deliveries: { sink_clickhouse: number; interest: number };
  /** The stream's last sequence (read just before the consumers). */
  lastSeq: number;
}

async function readConsumers(jsm: JetStreamManager, stream: string): Promise<ConsumersNow> {
  const lastSeq = (await jsm.streams.info(stream)).state.last_seq;
  const now: ConsumersNow = {
    busy: new Map(),
    all: [],
    triggersHeld: 0,
    deliveries: { sink_clickhouse: 0, interest: 0 },
    lastSeq,
  };
  for await (const c of jsm.consumers.list(stream)) {
    const left = c.num_pending + c.num_ack_pending;
    if (c.name.startsWith('triggers')) {
      now.triggersHeld += left;
      continue;
    }
    now.all.push(c.name);
    const g = groupOf(c.name);
    if (g === 'sink_clickhouse' || g === 'interest') now.deliveries[g] += c.delivered.consumer_seq;
    if (left > 0) now.busy.set(c.name, `${c.num_pending}+${c.num_ack_pending}`);
  }
  return now;
}

const busyList = (c: ConsumersNow): string => [...c.busy].map(([name, left]) => `${name} ${left}`).join(', ');

interface Drained extends ConsumersNow {
  /** When every consumer was first seen drained (performance.now()). */
  at: number;
  /** When each consumer group had nothing pending or unacked for good, s after `since`. */
  groups: Record<string, number>;
}

/**
 * Waits until every consumer of the events stream but the triggers' has nothing pending or unacked
 * (seen twice in a row: a tier change published just before an ack) and `stored()` holds true.
 */
async function waitDrained(
  jsm: JetStreamManager,
  stream: string,
  procs: readonly ServiceProc[],
  stored: () => Promise<boolean>,
  since: number,
  log: (line: string) => void,
): Promise<Drained> {
  const idleSince = new Map<string, number | undefined>();
  const until = Date.now() + DRAIN_WITHIN_MS;
  let candidate: number | undefined;
  let reportAt = Date.now() + 10_000;
  for (;;) {
    for (const p of procs) checkAlive(p);
    const now = performance.now();
    const c = await readConsumers(jsm, stream);
    for (const name of c.all)
      if (c.busy.has(name)) idleSince.set(name, undefined);
      else if (idleSince.get(name) === undefined) idleSince.set(name, now);
    if (c.busy.size > 0) candidate = undefined;
    else if (candidate === undefined) {
      candidate = now;
      continue; // confirm at once
    } else if (await whileAlive(procs, stored)) {
      const groups: Record<string, number> = {};
      for (const [name, at] of idleSince) {
        const g = groupOf(name);
        groups[g] = Math.max(groups[g] ?? 0, round1(((at ?? candidate) - since) / 1000));
      }
      return { ...c, at: candidate, groups };
    }
    if (Date.now() > reportAt) {
      reportAt = Date.now() + 10_000;
      log(`  still waiting (pending+unacked): ${busyList(c) || 'ClickHouse'}`);
    }
    if (Date.now() > until) throw new Error(`the pipeline did not drain within ${DRAIN_WITHIN_MS / 1000} s`);
    await sleep(POLL_MS);
  }
}

/** Messages delivered more than once (after an ack wait or a nak) between two drains. */
function redeliveries(d: ConsumersNow, before?: ConsumersNow): { sink_clickhouse: number; interest: number } {
  const messages = d.lastSeq - (before?.lastSeq ?? 0);
  const of = (k: 'sink_clickhouse' | 'interest'): number =>
    d.deliveries[k] - (before?.deliveries[k] ?? 0) - messages;
  return { sink_clickhouse: of('sink_clickhouse'), interest: of('interest') };
}

/** Rows of these events in ClickHouse (through the admin endpoint's read-only SQL). */
async function countStored(sql: Sql, where: string, params: Record<string, unknown>): Promise<number> {
  const [row] = await sql.query<{ n: string | number }>(
    `SELECT count() AS n FROM ${DATABASE}.events WHERE ${where}`,
    params,
  );
  return Number(row?.n ?? 0);
}

interface ProfileUpdate {
  /** When JetStream stored it (epoch ms), and when the watcher here received it. */
  at: number;
  seenAt: number;
  floor: number;
  applied: number[];
}

/** Watches the profiles bucket: every update of every key, with its watermark. */
async function watchProfiles(nc: NatsConnection, bucket: string) {
  const kv = await nc.jetstream().views.kv(bucket, { bindOnly: true });
  const updates = new Map<string, ProfileUpdate[]>();
  const iter = await kv.watch({ key: '>', include: KvWatchInclude.UpdatesOnly });
  let failure: Error | undefined;
  const done = (async () => {
    for await (const e of iter) {
      if (e.operation !== 'PUT' || e.value.length === 0) continue;
      const seenAt = Date.now();
      const s = JSON.parse(Buffer.from(e.value).toString('utf8')) as {
        floor?: number;
        appliedSeqs?: number[];
      };
      let list = updates.get(e.key);
      if (!list) updates.set(e.key, (list = []));
      list.push({ at: e.created.getTime(), seenAt, floor: s.floor ?? 0, applied: s.appliedSeqs ?? [] });
    }
  })().catch((err: unknown) => {
    failure = err instanceof Error ? err : new Error(String(err));
  });
  return {
    updates,
    /** Throws if the watch failed. */
    check(): void {
      if (failure) throw new Error(`watching ${bucket} failed: ${failure.message}`);
    },
    async stop(): Promise<void> {
      iter.stop();
      await done;
    },
  };
}

/** The first update of the key whose watermark includes `seq`. */
function firstIncluding(list: readonly ProfileUpdate[] | undefined, seq: number): ProfileUpdate | undefined {
  return list?.find((u) => seq <= u.floor || u.applied.includes(seq));
}

export async function measurePipeline(opts: PipelineOptions = {}): Promise<PipelineFigures> {
  const log = opts.log ?? ((): void => undefined);
  const users = opts.users ?? 100_000;
  const events = opts.events ?? users * 2;
  const rate = opts.rate ?? 2000;
  const seconds = opts.seconds ?? 20;
  const instances = opts.instances ?? 1;
  const startedAt = performance.now();
  const cpuProfileDir = opts.cpuProfileDir ? path.resolve(opts.cpuProfileDir) : undefined;
  if (cpuProfileDir) mkdirSync(cpuProfileDir, { recursive: true });
  const profilesBefore = new Set(cpuProfileDir ? readdirSync(cpuProfileDir) : []);

  // the service's defaults throughout; the secrets a service needs, made up for this run
  const configOf = (url: string): Config =>
    loadConfig({
      NATS_URL: url,
      SHOPSTREAM_PREFIX: uniqueName('bp').toLowerCase(),
      LOG_LEVEL: 'silent',
      ADMIN_TOKEN: `admin-${randomBytes(16).toString('hex')}`,
      COUPON_SECRET: randomBytes(32).toString('hex'),
      TEMPORAL_ADDRESS: '127.0.0.1:1',
    });

  const figures = await onThrowawayNats(
    { name: 'bench-pipeline', config: configOf },
    async ({ config, nc }) => {
      const n = names(config.nats.prefix);
      const jsm = await nc.jetstreamManager();
      // INTEREST_PARTITIONS all on both: the instances share every consumer (JetStream splits the
      // messages, the per-user watermark makes a lost compare-and-set safe; with consumer leases the
      // service deals the partitions out itself); a fixed split would leave partitions unconsumed
      // when the service assigns them by lease to the instance that does not run them
      const plan =
        instances === 1
          ? [{ name: 'service', partitions: 'all', sink: true, leases: false }]
          : [
              { name: 'service_1', partitions: 'all', sink: true, leases: true },
              { name: 'service_2', partitions: 'all', sink: false, leases: true },
            ];
      const procs: ServiceProc[] = [];
      let watcher: Awaited<ReturnType<typeof watchProfiles>> | undefined;
      try {
        const spawnAt = performance.now();
        for (const p of plan) {
          const adminPort = await getFreePort();
          procs.push(
            spawnService(config, { ...p, adminPort, ...(cpuProfileDir ? { cpuProfileDir } : {}) }, log),
          );
          log(
            `${p.name}: pid ${procs.at(-1)!.child.pid}, interest partitions ${p.partitions}, sink ${p.sink}`,
          );
        }
        // planned while the services start (the simulator takes a while for 100,000 users)
        const latencyTotal = rate * seconds;
        const planned = planEvents(users, events, latencyTotal);
        const phase1 = planned.phase1;
        const phase3 = latencyEvents(planned.later, latencyTotal);
        log(`planned ${phase1.length} events of ${users} users for phase 1, ${phase3.length} for phase 3`);
        for (const p of procs) await healthy(p);
        const startupS = round1((performance.now() - spawnAt) / 1000);
        log(`services healthy after ${startupS} s`);
        const owner = procs[0]!;
        const sql = sqlOverHttp(`http://127.0.0.1:${owner.adminPort}`, config.admin.token);

        // 1. throughput
        log(`phase 1: ${phase1.length} events published as fast as the SDK goes`);
        const t0 = performance.now();
        const publishMs = await publishAll(config, nc, phase1);
        log(`  published in ${round1(publishMs / 1000)} s; waiting for every consumer and ClickHouse`);
        const drained = await waitDrained(
          jsm,
          n.eventsStream,
          procs,
          async () => (await countStored(sql, 'shop_id = {s:String}', { s: SHOP_ID })) >= phase1.length,
          t0,
          log,
        );
        const drainS = (drained.at - t0) / 1000;
        log(
          `  drained after ${round1(drainS)} s: ${JSON.stringify(drained.groups)}, redelivered ${JSON.stringify(redeliveries(drained))}`,
        );

        // 2. resident memory
        const rss: Record<string, number> = {};
        const peak: Record<string, number> = {};
        const stats: Record<string, unknown> = {};
        for (const p of procs) {
          const m = memoryOf(p.child.pid!);
          rss[p.name] = m.rss;
          peak[p.name] = m.peak;
          stats[p.name] = statsSummary(await whileAlive(procs, () => statsOf(p, config.admin.token)));
        }
        log(`phase 2: rss ${JSON.stringify(rss)} MB (peak ${JSON.stringify(peak)})`);

        // 3. latency at a steady rate
        log(`phase 3: ${phase3.length} events at ${rate}/s`);
        watcher = await watchProfiles(nc, n.profilesBucket);
        const producer = await createProducer({
          nats: config.nats,
          shopId: SHOP_ID,
          producerId: LATENCY_PRODUCER,
          connection: nc,
          maxInFlight: 1000,
        });
        const sent: { key: string; seq: number; at: number; applies: boolean }[] = [];
        const sends: Promise<void>[] = [];
        const p0 = performance.now();
        try {
          for (let i = 0; i < phase3.length;) {
            const due = Math.min(phase3.length, Math.floor(((performance.now() - p0) / 1000) * rate));
            for (; i < due; i++) {
              const e = phase3[i]!;
              const at = Date.now();
              const input = { ...(e.input as object), occurredAt: at } as typeof e.input;
              const key = profileKey(SHOP_ID, e.input.userId ?? '');
              const applies = !IGNORED_EVENT_TYPES.has(e.type);
              sends.push(
                producer
                  .track(e.type, input as never)
                  .then((r) => void sent.push({ key, seq: r.seq, at, applies })),
              );
            }
            await sleep(10);
          }
          await Promise.all(sends);
        } finally {
          await producer.close();
        }
        const publishS = (performance.now() - p0) / 1000;
        log(`  published in ${round1(publishS)} s; waiting for ClickHouse and the profiles`);
        // every event in ClickHouse and in its user's profile (not every consumer drained: the
        // latencies need no more, and a consumer waiting out a redelivery back-off would hold it up)
        const vectorEvents = sent.filter((s) => s.applies);
        const w = watcher;
        const unmatchedNow = (): number =>
          vectorEvents.reduce((k, s) => k + (firstIncluding(w.updates.get(s.key), s.seq) ? 0 : 1), 0);
        const latencyUntil = Date.now() + LATENCY_WAIT_MS;
        let reportAt = Date.now() + 10_000;
        for (;;) {
          for (const p of procs) checkAlive(p);
          w.check();
          const stored = await whileAlive(procs, () =>
            countStored(sql, 'producer_id = {p:String}', { p: LATENCY_PRODUCER }),
          );
          const left = unmatchedNow();
          if (stored >= sent.length && left === 0) break;
          if (Date.now() > latencyUntil) {
            log(`  gave up waiting: ${sent.length - stored} events not in ClickHouse, ${left} in no profile`);
            break;
          }
          if (Date.now() > reportAt) {
            reportAt = Date.now() + 10_000;
            log(`  still waiting: ${sent.length - stored} events not in ClickHouse, ${left} in no profile`);
          }
          await sleep(POLL_MS);
        }
        const inS = round1((performance.now() - p0) / 1000);
        const after3 = await readConsumers(jsm, n.eventsStream);
        log(
          `  all in ${inS} s after the first publish; redelivered ${JSON.stringify(redeliveries(after3, drained))}` +
            (after3.busy.size > 0 ? `; still busy: ${busyList(after3)}` : ''),
        );
        await watcher.stop();
        const toVector: number[] = [];
        const seen: number[] = [];
        let unmatched = 0;
        for (const s of vectorEvents) {
          const u = firstIncluding(w.updates.get(s.key), s.seq);
          if (!u) {
            unmatched++;
            continue;
          }
          toVector.push(u.at - s.at);
          seen.push(u.seenAt - s.at);
        }
        const [row] = await sql.query<{ n: string | number; q: (string | number)[] }>(
          `SELECT count() AS n,
                quantilesExact(0.5, 0.95, 0.99)(dateDiff('millisecond', occurred_at, ingested_at)) AS q
         FROM ${DATABASE}.events WHERE producer_id = {p:String}`,
          { p: LATENCY_PRODUCER },
        );
        const [c50, c95, c99] = (row?.q ?? [0, 0, 0]).map(Number) as [number, number, number];
        const eventToVector = quantiles(toVector);
        log(
          `  event -> vector ${JSON.stringify(eventToVector)} ms (${toVector.length} events, ${unmatched} unmatched), ` +
            `event -> ClickHouse ${JSON.stringify({ p50: c50, p95: c95, p99: c99 })} ms`,
        );
        return {
          pipeline_events_per_s: Math.round(phase1.length / drainS),
          publish_per_s: Math.round(phase1.length / (publishMs / 1000)),
          events: phase1.length,
          users,
          drain_s: round1(drainS),
          event_to_vector_ms: eventToVector,
          event_to_clickhouse_ms: { p50: c50, p95: c95, p99: c99 },
          rss_mb: rss,
          instances,
          detail: {
            publish_s: round1(publishMs / 1000),
            consumers_drained_s: drained.groups,
            triggers_held: drained.triggersHeld,
            redelivered: { phase1: redeliveries(drained), phase3: redeliveries(after3, drained) },
            rss_peak_mb: peak,
            processes: Object.fromEntries(
              procs.map((p) => [
                p.name,
                { pid: p.child.pid ?? 0, interest_partitions: p.partitions, sink: p.sink },
              ]),
            ),
            startup_s: startupS,
            stats_after_phase1: stats,
            latency: {
              rate_per_s: rate,
              seconds,
              sent: sent.length,
              achieved_per_s: Math.round(sent.length / publishS),
              vector_events: vectorEvents.length,
              vector_unmatched: unmatched,
              vector_seen_ms: quantiles(seen),
              clickhouse_events: Number(row?.n ?? 0),
              all_in_s: inS,
              busy_at_end: Object.fromEntries(after3.busy),
            },
            cpu_profiles: [] as string[],
            total_s: 0,
          },
        } satisfies PipelineFigures;
      } finally {
        await watcher?.stop().catch(() => undefined);
        await Promise.all(procs.map((p) => stopService(p, log).catch(() => undefined)));
      }
    },
  );
  if (cpuProfileDir)
    figures.detail.cpu_profiles = readdirSync(cpuProfileDir)
      .filter((f) => f.endsWith('.cpuprofile') && !profilesBefore.has(f))
      .map((f) => path.join(cpuProfileDir, f));
  figures.detail.total_s = round1((performance.now() - startedAt) / 1000);
  return figures;
}
