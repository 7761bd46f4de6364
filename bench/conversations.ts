// Conversations under shop load: the customer-service bot and the chat escalations while the shop's
// clickstream runs and the triggers keep thousands of marketing flows going. On a throwaway
// nats-server, a throwaway Temporal dev server and a throwaway embedded ClickHouse directory, the real
// processes run as production runs them (chaos/service.ts): the pipeline service (`shopstream serve
// --no-collector`: sink, interest, triggers, orders, bot), the flow worker (`worker --queues flows`)
// and the chat worker (`worker --queues chat`), with the demo's flow timing (demo/timing.ts: a cart
// is abandoned after 5 s, reminders within seconds, every message to a local relay), so the marketing
// flows do their whole work (timers, activities, messages) inside the window. Then, for `seconds`:
//   - the clickstream: simulated shop events (bench/common.ts simulatedEvents: views, searches, carts,
//     orders, the simulator's own chats) paced at `rate` events/s, each stamped when it is sent, from a
//     process of its own (as a collector would be: this one only chats and measures);
//   - `conversations` shoppers chatting at once, each in a loop: write a turn, wait for the bot's reply
//     on the conversation's reply subject, think (uniform 0.5x..1.5x `thinkMs`), write again. A share
//     of turns (`handoffShare`) asks for a human ("I want to talk to a human agent"...): the bot hands
//     the conversation off (handoff_requested), the chat triggers start its escalation workflow, and
//     the shopper opens a new conversation.
// Figures (times on this machine's one clock; Temporal's event times are the dev server's, same clock):
//   chat_reply_ms             every user turn published in the window: from just before the producer's
//                             publish of the turn to the reply arriving on its reply subject (p50/p95/p99).
//                             Handoff replies included. A shopper waits REPLY_TIMEOUT_MS (20 s) and then
//                             opens a new conversation; a reply that comes later still counts with its
//                             time, and a turn never answered by the end of the run with the time it
//                             waited (a lower bound; detail.turns_never_answered says how many).
//   handoff_to_escalation_ms  every turn published in the window that the bot handed off: from just
//                             before the publish of the turn to the escalation workflow's first workflow
//                             task STARTED (the chat worker took it: WorkflowTaskStarted in its history)
//                             (p50/p99). An escalation not started ESCALATION_WAIT_MS (60 s) after the
//                             window counts with the time it waited (detail.escalations_missing).
//   marketing_flows           marketing workflows (every type but escalationWorkflow) Temporal lists as
//                             started by the end of the window; marketing_flows_running_peak: the most
//                             running at once (sampled every 2 s).
// `detail` says where the time goes: each stage of a reply and of a handoff, the consumers' backlogs,
// each process's CPU, RSS and event-loop delay, and the task queues' backlog and schedule-to-start.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import type { NatsConnection } from 'nats';
import { flowEnv, FLOWS, FLOWS_RUNNING, pollsWithin } from '../chaos/flows';
import { startRelay, type Relay } from '../chaos/relay';
import { CLI, dispose, healthy, instance, running, serviceEnv, stop, type Instance } from '../chaos/service';
import { DEMO_TIMING } from '../demo/timing';
import { loadConfig, type Config } from '../infra/config';
import { connectNats } from '../infra/nats';
import { sleep } from '../infra/sleep';
import { getFreePort, stopPid } from '../infra/stack/processes';
import { startTemporalDevServer } from '../infra/stack/stack';
import { startTestNats, type TestNats } from '../infra/stack/test-nats';
import { findTools } from '../infra/stack/tools';
import { decodeEnvelope } from '../schemas/codec';
import type { ReplyPayload } from '../streams/processors/chat/processor';
import { createProducer, type Producer } from '../streams/producer/producer';
import { names, partitionOf } from '../streams/topology';
import { applyTopology } from '../streams/topology-apply';
import { escalationWorkflowId } from '../workflows/escalation';
import { round1, SHOPPER_QUESTIONS as ASKED, simulatedEvents, spread, type Spread } from './common';

export interface ConversationOptions {
  /** Shoppers chatting at once. Default 500. */
  conversations?: number;
  /** Clickstream events per second. Default 2,000. */
  rate?: number;
  /** The measured window. Default 40. */
  seconds?: number;
  /** A shopper's mean think time between a reply and the next turn, ms. Default 4,000. */
  thinkMs?: number;
  /** The share of turns that ask for a human. Default 0.05. */
  handoffShare?: number;
  /**
   * 'demo' (default): the demo's flow timing, the marketing flows run through within the window;
   * 'production': the shipped durations (flows wait hours on their timers: they pile up running).
   */
  timing?: 'demo' | 'production';
  /**
   * 'split' (default): the service as two processes, as docs/scaling.md recommends: the clickstream
   * (`serve --only sink,interest`) and the conversations (`serve --only bot,recommend,triggers,orders`), so a
   * chat turn never waits for the event loop of the process busy with clicks; 'one': every part in
   * one `serve` process.
   */
  layout?: 'one' | 'split';
  /** With the split layout: PROCESS_NICE of the bulk processes (the clickstream service, the flow worker). Default 10. */
  bulkNice?: number;
  /** Writes a --cpu-prof profile of each service and worker process here (on their exit). */
  cpuProfileDir?: string;
  log?: (line: string) => void;
}

export interface ConversationFigures {
  chat_reply_ms: { p50: number; p95: number; p99: number };
  handoff_to_escalation_ms: { p50: number; p99: number };
  /** Turns published in the window the bot handed off (each starting an escalation). */
  handoffs: number;
  /** Shoppers chatting at once. */
  conversations: number;
  /** User turns published in the window and answered (also late) by the end of the run. */
  replies: number;
  /** Marketing workflows started by the end of the window. */
  marketing_flows: number;
  marketing_flows_running_peak: number;
  rate: number;
  seconds: number;
  detail: ConversationDetail;
}

export interface ConversationDetail {
  timing: 'demo' | 'production';
  layout: 'one' | 'split';
  /** PROCESS_NICE of the bulk processes (0: all at the same priority). */
  bulk_nice: number;
  think_ms: number;
  handoff_share: number;
  conversations_opened: number;
  turns_sent: number;
  /** Turns with no reply within REPLY_TIMEOUT_MS (the shopper gave up and opened a new conversation). */
  turns_unanswered: number;
  /** Of those, answered later (before the end of the run), and never answered. */
  turns_late: number;
  turns_never_answered: number;
  turns_failed_publish: number;
  /** Each unanswered turn: when it was sent (s into the window), whether the bot sent agent suggestions instead, a reply after the timeout. */
  unanswered: {
    conversation: string;
    text: string;
    partition: number;
    sent_s: number;
    assisted: boolean;
    late_reply_ms: number | null;
  }[];
  /** The slowest replies: when sent (s into the window), the bot's partition, the total and the part before the bot handled it. */
  slowest_turns: {
    conversation: string;
    text: string;
    partition: number;
    sent_s: number;
    total_ms: number;
    to_bot_ms: number;
  }[];
  /**
   * With consumer leases (streams/consumer/leases.ts; absent before them): over the window, the longest
   * gap between two renewals of a unit's lease (the KV entries' server times), and the units that had
   * a gap over LEASE_TTL - 2 heartbeats (4 s), when the runner takes the lease for stale and stops
   * consuming that unit.
   */
  lease_renewals?: { max_gap_ms: number; units_with_stale_gap: Record<string, number> };
  /**
   * Each consumer group's messages delivered again and not acked yet (JetStream's num_redelivered, a
   * gauge): the most at once (sampled each second) and at the end. A delivery goes again when it is
   * not acked within its ack_wait (the bot's: 10 s; the triggers': 30 s) or is nak'd.
   */
  consumer_redelivered: Record<string, { max: number; end: number }>;
  handoff_reasons: Record<string, number>;
  /** Handoffs whose escalation's first workflow task never started (or was not found). */
  escalations_missing: number;
  clickstream: { sent: number; failed: number; achieved_per_s: number };
  chat_reply: {
    /** Every turn (as chat_reply_ms): late replies with their time, never answered ones with the time they waited. */
    total: Spread;
    /** The turns answered within REPLY_TIMEOUT_MS; the stages below are theirs. */
    answered_in_time: Spread;
    /** Publish -> the JetStream ack of the turn (the producer, NATS, the stream's disk). */
    publish_ack: Spread;
    /** Publish -> the bot's clock when it handled the turn (consumer wait, per-user order, NLU, state load). */
    to_bot: Spread;
    /** The bot's handling time -> the reply here (state CAS, bot turn and handoff published and acked, the reply sent). */
    bot_to_reply: Spread;
    /** The slowest 1% of replies: their mean time in each stage. */
    slowest_1pct_mean: { total: number; publish_ack: number; to_bot: number; bot_to_reply: number };
  };
  handoff: {
    /** Every handoff (as handoff_to_escalation_ms): one whose escalation did not start counts with the time it waited. */
    total: Spread;
    /** The handoffs whose escalation started; the stages below are theirs. */
    started: Spread;
    /** Publish of the turn -> the handoff_requested event on the stream (JetStream's timestamp): the bot. */
    bot: Spread;
    /** handoff_requested on the stream -> WorkflowExecutionStarted: the chat triggers' consumer, its KV record, the profile, the start call. */
    trigger: Spread;
    /** WorkflowExecutionStarted -> WorkflowTaskScheduled: Temporal. */
    scheduled: Spread;
    /** WorkflowTaskScheduled -> WorkflowTaskStarted: a chat worker poller taking it. */
    schedule_to_start: Spread;
    /** The slowest 1%: mean time in each stage. */
    slowest_1pct_mean: {
      total: number;
      bot: number;
      trigger: number;
      scheduled: number;
      schedule_to_start: number;
    };
  };
  /** Workflow-task schedule-to-start of a sample of marketing flows (all their workflow tasks), ms. */
  marketing_workflow_task_schedule_to_start_ms: Spread;
  /** The sample behind it: flows listed, histories read, the first error if any. */
  marketing_sample: { listed: number; histories: number; error?: string };
  /**
   * Consumers on the events stream (grouped: chat = chat_p*), sampled each second: events not yet
   * delivered (pending: waiting at the server) and delivered but not acked (in the process: in its
   * window, queued behind the user's earlier events, or being handled).
   */
  consumer_backlog: Record<
    string,
    { pending: { mean: number; max: number }; delivered_unacked: { mean: number; max: number } }
  >;
  /** Task queues' backlog (Temporal's hint), sampled each second. */
  task_queue_backlog: Record<string, { mean: number; max: number }>;
  /** Each process over the window: CPU (% of one core), peak RSS, event-loop delay p99 (the worst 2 s sample). */
  processes: Record<
    string,
    {
      cpu_pct: number;
      rss_mb_peak: number;
      eventloop_p99_ms_max?: number;
      eventloop_p99_ms_mean?: number;
      /** Scrapes of its /metrics (every 2 s) that got no answer within 1.5 s. */
      metrics_scrapes_unanswered?: number;
    }
  >;
  /**
   * The whole machine over the window: CPU busy (% of all cores), this benchmark's processes' share,
   * and CPU pressure (PSI `some`: % of the time some runnable task waited for a CPU).
   */
  machine_cpu: { busy_pct_of_all_cores: number; ours_pct_of_all_cores: number; pressure_some_pct: number };
  /** The service's own counters at the end (/v1/stats): the bot and the triggers. */
  service_stats: Record<string, unknown>;
  /** Escalations Temporal lists as started (incl. the simulator's own chats' handoffs). */
  escalations_started: number;
  marketing_flows_at_end: number;
  setup_seconds: number;
  total_seconds: number;
  machine: string;
}

/** A turn without a reply by then counts as unanswered. */
const REPLY_TIMEOUT_MS = 20_000;
/** How long after the window the escalations of its handoffs may take to start before they count as missing. */
const ESCALATION_WAIT_MS = 60_000;
const SHOP = 'bench';

/** Asking for a human (human_handoff, not phrasings of the training data). */
const HUMAN = [
  'I want to talk to a human agent',
  'can I talk to a real person please',
  'transfer me to a human agent please',
  '我要转人工客服',
  '请帮我转人工',
];

// ---- small helpers -------------------------------------------------------------------------------------

const mean = (xs: readonly number[]): number =>
  xs.length === 0 ? 0 : round1(xs.reduce((a, b) => a + b, 0) / xs.length);

/** The slowest 1% (at least one) of `rows` by `total`, and the mean of each numeric field. */
function slowestMean<K extends string>(
  rows: readonly Record<K, number>[],
  total: K,
  keys: readonly K[],
): Record<K, number> {
  const sorted = [...rows].sort((a, b) => b[total] - a[total]);
  const top = sorted.slice(0, Math.max(1, Math.ceil(sorted.length / 100)));
  return Object.fromEntries(keys.map((k) => [k, mean(top.map((r) => r[k]))])) as Record<K, number>;
}

type LongLike = number | { toNumber(): number } | null | undefined;

/** A protobuf Long (or number) as a number. */
const num = (v: LongLike): number => (typeof v === 'number' ? v : v ? v.toNumber() : 0);

/** A protobuf Timestamp as epoch ms. */
function tsMs(ts: { seconds?: LongLike; nanos?: number | null } | null | undefined): number {
  if (!ts) return Number.NaN;
  return num(ts.seconds) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
}

const CLK_TCK = 100;

/** A process's CPU time (user + system, seconds) and RSS (MB) from /proc; undefined if it is gone. */
function procSample(pid: number): { cpu: number; rssMb: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is the state (field 3): utime is field 14, stime 15
    const cpu = (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+) kB/.exec(status);
    return { cpu, rssMb: rss ? Math.round(Number(rss[1]) / 1024) : 0 };
  } catch {
    return undefined;
  }
}

/** The machine's CPU time (busy and all, seconds over every core) and CPU pressure (PSI `some` total, s). */
function machineCpu(): { busy: number; total: number; pressure: number } {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
    const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
    let pressure = Number.NaN;
    try {
      const m = /^some .*total=(\d+)/m.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
      if (m) pressure = Number(m[1]) / 1e6;
    } catch {
      // no PSI on this kernel
    }
    return { busy: (total - idle) / CLK_TCK, total: total / CLK_TCK, pressure };
  } catch {
    return { busy: Number.NaN, total: Number.NaN, pressure: Number.NaN };
  }
}

/** The event-loop delay p99 (ms) a process's /metrics says (prom-client's default metrics). */
async function eventLoopP99(url: string): Promise<number | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1500) });
    if (!res.ok) return undefined;
    const m = /^shopstream_nodejs_eventloop_lag_p99_seconds\s+([0-9.eE+-]+)$/m.exec(await res.text());
    return m ? Number(m[1]) * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** The last lines a child wrote to stderr (the SDK's bundling and state lines), kept for its exit. */
const stderrTails = new WeakMap<ChildProcess, string[]>();
function quiet(child: ChildProcess): ChildProcess {
  const tail: string[] = [];
  stderrTails.set(child, tail);
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    tail.push(...chunk.split('\n').filter(Boolean));
    tail.splice(0, Math.max(0, tail.length - 40));
  });
  return child;
}

// ---- the throwaway Temporal (its pid, for the CPU figures) ---------------------------------------------

interface Temporal {
  address: string;
  pid: number;
  stop(): Promise<void>;
}

async function startTemporal(): Promise<Temporal> {
  const { temporal: binary } = await findTools(loadConfig().stack);
  if (!binary)
    throw new Error('temporal CLI not found in .tools/venv/bin or on PATH: run `make install` first');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'shopstream-bench-temporal-'));
  try {
    const server = await startTemporalDevServer({
      binary,
      port: await getFreePort(),
      uiPort: await getFreePort(),
      dbFile: path.join(dir, 'temporal.db'),
      logFile: path.join(dir, 'temporal.log'),
    });
    return {
      address: server.address,
      pid: server.pid,
      stop: async () => {
        await stopPid(server.pid, { timeoutMs: 10_000 }).finally(() =>
          fs.rm(dir, { recursive: true, force: true }),
        );
      },
    };
  } catch (err) {
    await fs.rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Watches the consumer leases' KV bucket (when there is one: leasesBucket in the topology) and, on
 * stop, says the longest gap between two renewals of each unit's lease and which units went stale.
 */
async function watchLeases(
  nc: NatsConnection,
  n: ReturnType<typeof names>,
): Promise<{ stop(): { max_gap_ms: number; units_with_stale_gap: Record<string, number> } } | undefined> {
  const bucket = (n as Partial<Record<'leasesBucket', string>>).leasesBucket;
  if (!bucket) return undefined;
  try {
    const kv = await nc.jetstream().views.kv(bucket, { bindOnly: true });
    const last = new Map<string, number>();
    const gaps = new Map<string, number>();
    const w = await kv.watch({ key: 'unit.>' });
    void (async () => {
      try {
        for await (const e of w) {
          const at = e.created.getTime();
          const before = last.get(e.key);
          if (before !== undefined) gaps.set(e.key, Math.max(gaps.get(e.key) ?? 0, at - before));
          last.set(e.key, at);
        }
      } catch {
        // the watch ended
      }
    })();
    return {
      stop() {
        w.stop();
        // a unit not renewed since its last entry: the gap up to now
        const now = Date.now();
        for (const [k, at] of last) gaps.set(k, Math.max(gaps.get(k) ?? 0, now - at));
        const stale = [...gaps].filter(([, g]) => g > 4000);
        return {
          max_gap_ms: Math.max(0, ...gaps.values()),
          units_with_stale_gap: Object.fromEntries(stale.map(([k, g]) => [k.replace(/^unit\./, ''), g])),
        };
      },
    };
  } catch {
    return undefined;
  }
}

// ---- the clickstream, in a process of its own (as a collector would be) ------------------------------

/** What the parent hands the clickstream process (env BENCH_CLICKSTREAM, JSON). */
interface ClickstreamJob {
  nats: Config['nats'];
  rate: number;
  seconds: number;
  seed: number;
}

/**
 * The clickstream process: connects, plans its events, says `ready` on stdout, waits for a line on
 * stdin, then publishes `rate` simulated shop events per second for `seconds` (paced in 10 ms slices,
 * each stamped when it is handed to the producer) and prints its figures as one JSON line.
 */
export async function runClickstream(): Promise<void> {
  const job = JSON.parse(process.env['BENCH_CLICKSTREAM'] ?? '{}') as ClickstreamJob;
  const events = simulatedEvents(job.rate * job.seconds, job.seed);
  const nc = await connectNats(job.nats, 'bench-clickstream', { noAsyncTraces: true });
  const producer = await createProducer({
    nats: job.nats,
    shopId: SHOP,
    producerId: 'bench-clickstream',
    connection: nc,
    maxInFlight: 1000,
  });
  process.stdout.write('ready\n');
  // the parent writes a line to start; its stdin closing without one (the parent gone) ends this process
  const go = await new Promise<boolean>((resolve) => {
    process.stdin.once('data', () => resolve(true));
    process.stdin.once('end', () => resolve(false));
  });
  if (!go) {
    await producer.close();
    await nc.drain();
    return;
  }
  const start = performance.now();
  const out = { sent: 0, failed: 0, seconds: 0 };
  const sends: Promise<unknown>[] = [];
  while (out.sent < events.length) {
    const due = Math.min(events.length, Math.floor(((performance.now() - start) / 1000) * job.rate));
    for (; out.sent < due; out.sent++) {
      const e = events[out.sent]!;
      const input = { ...(e.input as object), occurredAt: Date.now() };
      sends.push(
        producer.track(e.type, input as never).catch(() => {
          out.failed++;
        }),
      );
    }
    await sleep(10);
  }
  await Promise.all(sends);
  out.seconds = (performance.now() - start) / 1000;
  await producer.close();
  await nc.drain();
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

interface Clickstream {
  child: ChildProcess;
  /** Starts the publishing; resolves to its figures when it is done. */
  go(): Promise<{ sent: number; failed: number; seconds: number }>;
}

async function startClickstream(job: ClickstreamJob): Promise<Clickstream> {
  const boot = `require(${JSON.stringify(require.resolve('tsx/cjs'))});
require(${JSON.stringify(__filename)}).runClickstream().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });`;
  const child = quiet(
    spawn(process.execPath, ['-e', boot], {
      env: { ...process.env, BENCH_CLICKSTREAM: JSON.stringify(job) },
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  );
  const lines: string[] = [];
  let notify: (() => void) | undefined;
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    lines.push(...chunk.split('\n').filter(Boolean));
    notify?.();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const line = async (ms: number, what: string): Promise<string> => {
    const until = Date.now() + ms;
    while (lines.length === 0) {
      if (child.exitCode !== null || Date.now() > until)
        throw new Error(`the clickstream process: no ${what}\n${(stderrTails.get(child) ?? []).join('\n')}`);
      await Promise.race([new Promise<void>((r) => (notify = r)), sleep(500), exited]);
    }
    return lines.shift()!;
  };
  await line(120_000, "'ready'");
  return {
    child,
    async go() {
      child.stdin?.end('go\n');
      return JSON.parse(await line(job.seconds * 1000 + 120_000, 'figures')) as {
        sent: number;
        failed: number;
        seconds: number;
      };
    },
  };
}

// ---- the run -------------------------------------------------------------------------------------------

interface TurnRecord {
  conversationId: string;
  userId: string;
  text: string;
  asked: 'human' | 'question';
  sentPerf: number;
  sentWall: number;
  ackedPerf?: number;
  replyPerf?: number;
  replyWall?: number;
  /** The bot's clock when it handled the turn (the reply's `at`). */
  botAt?: number;
  handoff?: string;
  failed?: boolean;
  /** A reply that came after REPLY_TIMEOUT_MS: when, from the publish. */
  lateReplyMs?: number;
}

interface Worker {
  name: 'flows' | 'chat';
  queue: string;
  adminPort: number;
  child?: ChildProcess;
}

export async function measureConversations(opts: ConversationOptions = {}): Promise<ConversationFigures> {
  const log = opts.log ?? (() => undefined);
  const conversations = opts.conversations ?? 500;
  const rate = opts.rate ?? 2000;
  const seconds = opts.seconds ?? 40;
  const thinkMs = opts.thinkMs ?? 4000;
  const handoffShare = opts.handoffShare ?? 0.05;
  const timing = opts.timing ?? 'demo';
  const layout = opts.layout ?? 'split';
  const bulkNice = opts.bulkNice ?? 10;
  const t0 = Date.now();

  let nats: TestNats | undefined;
  let relay: Relay | undefined;
  let temporal: Temporal | undefined;
  let inst: Instance | undefined;
  /** With the split layout: the conversations' service process (bot, triggers, orders). */
  let convService: { child?: ChildProcess; adminPort: number } | undefined;
  let nc: NatsConnection | undefined;
  let chatNc: NatsConnection | undefined;
  let connection: Connection | undefined;
  const producers: Producer[] = [];
  const workers: Worker[] = [];
  let clickstream: Clickstream | undefined;
  let sampling = false;
  let watching = false;
  let samplers: Promise<void>[] = [];
  const benchLoop = monitorEventLoopDelay({ resolution: 10 });
  try {
    // ---- the servers and the processes
    // started side by side; whichever started is stopped in `finally` even if another failed
    const [natsR, relayR, temporalR] = await Promise.allSettled([
      startTestNats(),
      startRelay(randomBytes(32).toString('hex')),
      startTemporal(),
    ]);
    if (natsR.status === 'fulfilled') nats = natsR.value;
    if (relayR.status === 'fulfilled') relay = relayR.value;
    if (temporalR.status === 'fulfilled') temporal = temporalR.value;
    for (const r of [natsR, relayR, temporalR]) if (r.status === 'rejected') throw r.reason;
    if (!nats || !relay || !temporal) throw new Error('unreachable: a server did not start');
    const env: Record<string, string> = {
      ...flowEnv(temporal.address, relay),
      // the service's own batching and partitions, not the tests' small ones
      NATS_PARTITIONS: '16',
      SINK_BATCH_SIZE: '5000',
      SINK_FLUSH_INTERVAL: '1s',
      SINK_ACK_WAIT: '30s',
      BOT_KB_WATCH: 'off',
      LOG_LEVEL: 'error',
    };
    if (timing === 'production') for (const k of Object.keys(DEMO_TIMING)) delete env[k];
    inst = await instance(nats.url, 'conv', env);
    const { config } = inst;
    const prefix = config.nats.prefix;
    const n = names(prefix);
    nc = await connectNats(config.nats, 'bench-conversations', { noAsyncTraces: true });
    const jsm = await nc.jetstreamManager();
    await applyTopology(jsm, config);
    connection = await Connection.connect({ address: temporal.address });
    const client = new Client({ connection, namespace: config.temporal.namespace });

    const service = inst;
    // a --cpu-prof profile of each service and worker process (bench/cpu-profile.ts reads it)
    const profiling = opts.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfileDir}`] : [];
    const spawnChild = (args: string[], extra: Record<string, string> = {}): ChildProcess =>
      quiet(
        spawn(process.execPath, [...profiling, CLI, ...args], {
          env: { ...serviceEnv(service), ...extra },
          stdio: ['ignore', 'ignore', 'pipe'],
        }),
      );
    if (layout === 'split') {
      // the bulk parts yield the CPU to the conversations under load (docs/scaling.md)
      inst.child = spawnChild(['serve', '--only', 'sink,interest'], { PROCESS_NICE: String(bulkNice) });
      convService = { adminPort: await getFreePort() };
      convService.child = spawnChild(['serve', '--only', 'bot,recommend,triggers,orders'], {
        ADMIN_PORT: String(convService.adminPort),
      });
    } else inst.child = spawnChild(['serve', '--no-collector']);
    for (const [name, queue] of [
      ['flows', config.temporal.taskQueue],
      ['chat', config.temporal.chatTaskQueue],
    ] as const) {
      const w: Worker = { name, queue, adminPort: await getFreePort() };
      w.child = spawnChild(['worker', '--queues', name], {
        WORKER_ADMIN_PORT: String(w.adminPort),
        ...(layout === 'split' && name === 'flows' ? { PROCESS_NICE: String(bulkNice) } : {}),
      });
      workers.push(w);
    }
    log(`servers up (${Math.round((Date.now() - t0) / 1000)} s); starting the service and the workers`);
    const tailOf = (c: ChildProcess | undefined): string => (c ? (stderrTails.get(c) ?? []) : []).join('\n');
    await healthy(inst, 120_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${tailOf(inst?.child)}`);
    });
    if (convService)
      await healthy({ ...inst, adminPort: convService.adminPort }, 120_000).catch((err: Error) => {
        throw new Error(`the conversations service: ${err.message}\n${tailOf(convService?.child)}`);
      });
    for (const w of workers)
      if (!(await pollsWithin(connection, inst, w.child, w.queue, 180_000)))
        throw new Error(`the ${w.name} worker did not poll ${w.queue} within 180 s\n${tailOf(w.child)}`);
    let exitedEarly: string | undefined;
    for (const [what, child] of [
      ['service', inst.child],
      ...(convService ? [['conversations service', convService.child] as const] : []),
      ...workers.map((w) => [`${w.name} worker`, w.child] as const),
    ] as const)
      child?.once('exit', (code, signal) => {
        if (!watching) return;
        exitedEarly ??= `the ${what} exited (${signal ?? code}) during the run`;
        log(`the ${what} exited; its last lines:\n${(stderrTails.get(child) ?? []).join('\n')}`);
      });

    // ---- the shoppers' side: replies by conversation
    chatNc = await connectNats(config.nats, 'bench-conversations-chat', { noAsyncTraces: true });
    const chat = await createProducer({
      nats: config.nats,
      shopId: SHOP,
      producerId: 'bench-chat',
      connection: chatNc,
      maxInFlight: 2000,
    });
    producers.push(chat);
    const waiting = new Map<string, (r: ReplyPayload) => void>();
    /** Turns past their timeout, by conversation: a reply that still comes is recorded as late. */
    const timedOut = new Map<string, TurnRecord>();
    /** Conversations the bot answered with agent suggestions (an escalated conversation) instead. */
    const assisted = new Set<string>();
    const sub = chatNc.subscribe(`${prefix}.chat.reply.>`);
    const assistSub = chatNc.subscribe(`${prefix}.chat.assist.>`);
    const listen = async (
      s: typeof sub,
      on: (conversationId: string, r: ReplyPayload) => void,
    ): Promise<void> => {
      try {
        for await (const m of s) {
          let r: ReplyPayload;
          try {
            r = m.json<ReplyPayload>();
          } catch {
            continue;
          }
          on(r.conversationId, r);
        }
      } catch {
        // the subscription closed
      }
    };
    const listening = [
      listen(sub, (id, r) => {
        const w = waiting.get(id);
        if (w) {
          waiting.delete(id);
          w(r);
          return;
        }
        const late = timedOut.get(id);
        if (late) {
          timedOut.delete(id);
          late.lateReplyMs = performance.now() - late.sentPerf;
          if (r.meta?.handoff) late.handoff = r.meta.handoff;
        }
      }),
      listen(assistSub, (id) => {
        assisted.add(id);
      }),
    ];

    let turnSeq = 0;
    /** One turn: published, then its reply (or a timeout). Never rejects. */
    const turn = (userId: string, conversationId: string, turnIndex: number, asked: TurnRecord['asked']) =>
      new Promise<TurnRecord>((resolve) => {
        const text = asked === 'human' ? HUMAN[turnSeq++ % HUMAN.length]! : ASKED[turnSeq++ % ASKED.length]!;
        const rec: TurnRecord = {
          conversationId,
          userId,
          text,
          asked,
          sentPerf: performance.now(),
          sentWall: Date.now(),
        };
        const timer = setTimeout(() => {
          waiting.delete(conversationId);
          timedOut.set(conversationId, rec);
          resolve(rec);
        }, REPLY_TIMEOUT_MS);
        waiting.set(conversationId, (r) => {
          clearTimeout(timer);
          rec.replyPerf = performance.now();
          rec.replyWall = Date.now();
          rec.botAt = Date.parse(r.at);
          if (r.meta?.handoff) rec.handoff = r.meta.handoff;
          resolve(rec);
        });
        chat
          .track('chat_turn', {
            userId,
            channel: 'web',
            properties: { conversationId, role: 1, text, turnIndex, channel: 1 },
          })
          .then(
            () => (rec.ackedPerf = performance.now()),
            () => {
              rec.failed = true;
              clearTimeout(timer);
              waiting.delete(conversationId);
              resolve(rec);
            },
          );
      });

    // warm up: the model, the KV buckets, the consumers, the triggers' Temporal connection, the chat
    // worker's first escalation (not measured)
    const warm = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        turn(`warm-u${i}`, `warm-c${i}`, 1, i === 0 ? 'human' : 'question'),
      ),
    );
    if (warm.some((r) => r.replyPerf === undefined))
      throw new Error('the bot did not answer the warm-up turns');
    const warmId = escalationWorkflowId(SHOP, 'warm-c0');
    const until = Date.now() + 60_000;
    while (
      !(await client.workflow
        .getHandle(warmId)
        .describe()
        .then(
          () => true,
          () => false,
        ))
    ) {
      if (Date.now() > until) throw new Error('the warm-up handoff started no escalation within 60 s');
      await sleep(250);
    }
    const setupSeconds = Math.round((Date.now() - t0) / 1000);
    log(`warm (${setupSeconds} s); ${seconds} s of ${rate} events/s and ${conversations} conversations`);

    // the clickstream process, its events planned and connected: it starts with the window
    clickstream = await startClickstream({ nats: config.nats, rate, seconds, seed: 5 });

    // ---- samplers, over the window: consumers, processes, task queues, marketing flows
    watching = true;
    const pids: Record<string, number | undefined> = {
      service: inst.child?.pid,
      ...(convService ? { 'conversations service': convService.child?.pid } : {}),
      'flows worker': workers[0]?.child?.pid,
      'chat worker': workers[1]?.child?.pid,
      temporal: temporal.pid,
      'nats-server': nats.pid,
      clickstream: clickstream.child.pid,
      bench: process.pid,
    };
    const cpuNow = (): Record<string, number> => {
      const out: Record<string, number> = {};
      for (const [k, pid] of Object.entries(pids)) {
        const s = pid === undefined ? undefined : procSample(pid);
        if (s) out[k] = s.cpu;
      }
      return out;
    };
    const rssPeak: Record<string, number> = {};
    const backlog: Record<string, number[]> = {};
    const redelivered: Record<string, number[]> = {};
    const ackPending: Record<string, number[]> = {};
    const queueBacklog: Record<string, number[]> = {};
    const loopP99: Record<string, number[]> = {};
    /** /metrics scrapes that did not answer within 1.5 s (a process whose event loop is stuck). */
    const scrapesFailed: Record<string, number> = {};
    let runningPeak = 0;
    const every = async (ms: number, what: () => Promise<void>): Promise<void> => {
      while (sampling) {
        const at = Date.now();
        await what().catch(() => undefined);
        await sleep(Math.max(0, ms - (Date.now() - at)));
      }
    };
    const loopUrls: Record<string, string> = {
      service: `http://127.0.0.1:${inst.adminPort}/metrics`,
      ...(convService
        ? { 'conversations service': `http://127.0.0.1:${convService.adminPort}/metrics` }
        : {}),
      ...Object.fromEntries(
        workers.map((w) => [`${w.name} worker`, `http://127.0.0.1:${w.adminPort}/metrics`]),
      ),
    };

    const startSamplers = (): Promise<void>[] => [
      every(1000, async () => {
        const sums: Record<string, number> = {};
        const unacked: Record<string, number> = {};
        const redel: Record<string, number> = {};
        for await (const c of jsm.consumers.list(n.eventsStream)) {
          if (!c.config.durable_name) continue; // this benchmark's own readers
          const group = c.name.replace(/_p\d+$/, '');
          sums[group] = (sums[group] ?? 0) + c.num_pending;
          unacked[group] = (unacked[group] ?? 0) + c.num_ack_pending;
          redel[group] = (redel[group] ?? 0) + c.num_redelivered;
        }
        for (const [k, v] of Object.entries(sums)) (backlog[k] ??= []).push(v);
        for (const [k, v] of Object.entries(unacked)) (ackPending[k] ??= []).push(v);
        for (const [k, v] of Object.entries(redel)) (redelivered[k] ??= []).push(v);
        for (const [k, pid] of Object.entries(pids)) {
          const s = pid === undefined ? undefined : procSample(pid);
          if (!s) continue;
          rssPeak[k] = Math.max(rssPeak[k] ?? 0, s.rssMb);
        }
      }),
      every(1000, async () => {
        for (const w of workers)
          for (const [kind, type] of [
            ['workflow', 1],
            ['activity', 2],
          ] as const) {
            const res = await connection!.workflowService.describeTaskQueue({
              namespace: config.temporal.namespace,
              taskQueue: { name: w.queue },
              taskQueueType: type,
              includeTaskQueueStatus: true,
            });
            (queueBacklog[`${w.name} ${kind}`] ??= []).push(num(res.taskQueueStatus?.backlogCountHint));
          }
      }),
      every(2000, async () => {
        runningPeak = Math.max(runningPeak, (await client.workflow.count(FLOWS_RUNNING)).count);
      }),
      every(2000, async () => {
        await Promise.all(
          Object.entries(loopUrls).map(async ([k, url]) => {
            const v = await eventLoopP99(url);
            if (v !== undefined) (loopP99[k] ??= []).push(v);
            else scrapesFailed[k] = (scrapesFailed[k] ?? 0) + 1;
          }),
        );
      }),
    ];

    // ---- the window: the clickstream and the shoppers
    const windowStart = performance.now();
    const windowEnd = windowStart + seconds * 1000;
    sampling = true;
    samplers = startSamplers();
    benchLoop.enable();
    const cpuStart = cpuNow();
    const machineStart = machineCpu();
    const clicking = clickstream.go();
    const leases = await watchLeases(nc, n);
    const turns: TurnRecord[] = [];
    let opened = 0;
    const shopper = async (c: number): Promise<void> => {
      const userId = `shopper-${c}`;
      await sleep(Math.random() * thinkMs); // conversations open over one think time: a steady turn rate
      for (let k = 0; performance.now() < windowEnd; k++) {
        const conversationId = `conv-${c}-${k}`;
        opened++;
        for (let turnIndex = 1; performance.now() < windowEnd; turnIndex += 2) {
          const r = await turn(
            userId,
            conversationId,
            turnIndex,
            Math.random() < handoffShare ? 'human' : 'question',
          );
          turns.push(r);
          if (performance.now() >= windowEnd) return;
          await sleep(Math.min(thinkMs * (0.5 + Math.random()), windowEnd - performance.now()));
          // handed off (the desk has it now) or lost: the shopper opens a new conversation
          if (r.handoff || r.replyPerf === undefined) break;
        }
      }
    };
    const shopping = Promise.all(Array.from({ length: conversations }, (_, c) => shopper(c)));
    const click = await clicking;
    await sleep(windowEnd - performance.now());
    // the window is over (the shoppers' last turns may still wait for their replies)
    const cpuEnd = cpuNow();
    const machineEnd = machineCpu();
    const windowEndWall = Date.now();
    const leaseGaps = leases?.stop();
    const windowSeconds = (performance.now() - windowStart) / 1000;
    sampling = false;
    await Promise.all(samplers);
    benchLoop.disable();
    const marketingFlows = (await client.workflow.count(FLOWS)).count;
    runningPeak = Math.max(runningPeak, (await client.workflow.count(FLOWS_RUNNING)).count);
    await shopping;
    log(
      `window over (${Math.round(windowSeconds)} s): ${turns.length} turns, ${click.sent} clickstream events, ${marketingFlows} marketing flows`,
    );

    // ---- the handoffs' escalations: history of each (a handoff whose reply came late is one too);
    // waited for until every handoff's escalation started and no ask for a human awaits its reply
    const escalation = new Map<string, { started: number; scheduled: number; taskStarted: number }>();
    const escalationsUntil = Date.now() + ESCALATION_WAIT_MS;
    const awaitingHuman = (r: TurnRecord): boolean =>
      r.asked === 'human' && r.replyPerf === undefined && r.lateReplyMs === undefined && !r.failed;
    for (;;) {
      const left = turns.filter((r) => r.handoff !== undefined && !escalation.has(r.conversationId));
      for (let i = 0; i < left.length; i += 16)
        await Promise.all(
          left.slice(i, i + 16).map(async (r) => {
            const h = await client.workflow
              .getHandle(escalationWorkflowId(SHOP, r.conversationId))
              .fetchHistory()
              .catch(() => undefined);
            const ev = h?.events ?? [];
            const started = ev.find((e) => e.workflowExecutionStartedEventAttributes);
            const scheduled = ev.find((e) => e.workflowTaskScheduledEventAttributes);
            const taskStarted = ev.find((e) => e.workflowTaskStartedEventAttributes);
            if (started && scheduled && taskStarted)
              escalation.set(r.conversationId, {
                started: tsMs(started.eventTime),
                scheduled: tsMs(scheduled.eventTime),
                taskStarted: tsMs(taskStarted.eventTime),
              });
          }),
        );
      const done =
        turns.every((r) => r.handoff === undefined || escalation.has(r.conversationId)) &&
        !turns.some(awaitingHuman);
      if (done || Date.now() > escalationsUntil) break;
      await sleep(1000);
    }
    // what was not answered (or started) by now counts with the time it waited so far: a lower bound
    const observedPerf = performance.now();
    const observedWall = Date.now();
    const handoffs = turns.filter((r) => r.handoff !== undefined);
    const byConversation = new Map(handoffs.map((r) => [r.conversationId, r]));
    // the handoff_requested events' JetStream timestamps (when the bot's handoff was durable)
    const handoffOnStream = new Map<string, number>();
    const consumer = await nc
      .jetstream()
      .consumers.get(n.eventsStream, { filterSubjects: [`${prefix}.events.*.handoff_requested`] });
    for (let empty = 0; empty < 2;) {
      let got = 0;
      let pending = 0;
      for await (const m of await consumer.fetch({ max_messages: 500, expires: 1000 })) {
        got++;
        pending = m.info.pending;
        const d = decodeEnvelope(m.data);
        const id = d.ok ? d.envelope.handoffRequested?.conversationId : undefined;
        if (id && byConversation.has(id)) handoffOnStream.set(id, Math.floor(m.info.timestampNanos / 1e6));
      }
      if (got === 0) empty++;
      else if (pending === 0) break;
    }

    // a sample of marketing flows: their workflow tasks' schedule-to-start on the flows' queue
    const marketingSample: string[] = [];
    let sampleError: string | undefined;
    try {
      // flows started in the window (the newest ones, started while the triggers drain, may not have run yet)
      const query = `${FLOWS} AND StartTime < "${new Date(windowEndWall).toISOString()}"`;
      for await (const w of client.workflow.list({ query, pageSize: 100 })) {
        marketingSample.push(w.workflowId);
        if (marketingSample.length >= 60) break;
      }
    } catch (err) {
      sampleError = (err as Error).message;
    }
    let sampleHistories = 0;
    const marketingWft: number[] = [];
    await Promise.all(
      marketingSample.map(async (id) => {
        const h = await client.workflow
          .getHandle(id)
          .fetchHistory()
          .catch((err: Error) => void (sampleError ??= err.message));
        if (h) sampleHistories++;
        const ev = h?.events ?? [];
        const scheduledAt = new Map<string, number>();
        for (const e of ev) {
          if (e.workflowTaskScheduledEventAttributes) scheduledAt.set(String(e.eventId), tsMs(e.eventTime));
          const st = e.workflowTaskStartedEventAttributes;
          if (st) {
            const s = scheduledAt.get(String(st.scheduledEventId));
            if (s !== undefined) marketingWft.push(tsMs(e.eventTime) - s);
          }
        }
      }),
    );

    const statsOf = (port: number): Promise<Record<string, unknown>> =>
      fetch(`http://127.0.0.1:${port}/v1/stats`, {
        headers: { authorization: `Bearer ${config.admin.token}` },
        signal: AbortSignal.timeout(5000),
      })
        .then((r) => r.json() as Promise<Record<string, unknown>>)
        .catch((): Record<string, unknown> => ({}));
    // the conversations' parts from the process that runs them
    const serviceStats = await statsOf(convService?.adminPort ?? inst.adminPort);
    // messages delivered again and not yet acked, at the end (JetStream's num_redelivered is a gauge:
    // a redelivered message leaves it when it is acked)
    const redeliveredAtEnd: Record<string, number> = {};
    for await (const c of jsm.consumers.list(n.eventsStream))
      if (c.config.durable_name) {
        const group = c.name.replace(/_p\d+$/, '');
        redeliveredAtEnd[group] = (redeliveredAtEnd[group] ?? 0) + c.num_redelivered;
      }
    const escalationsStarted = (await client.workflow.count('WorkflowType = "escalationWorkflow"')).count;
    const marketingAtEnd = (await client.workflow.count(FLOWS)).count;

    watching = false;
    if (exitedEarly) throw new Error(exitedEarly);
    sub.unsubscribe();
    assistSub.unsubscribe();
    await Promise.all(listening);

    // ---- figures
    const answered = turns.filter((r) => r.replyPerf !== undefined);
    const replyRows = answered.map((r) => ({
      total: r.replyPerf! - r.sentPerf,
      publish_ack: (r.ackedPerf ?? Number.NaN) - r.sentPerf,
      to_bot: r.botAt! - r.sentWall,
      bot_to_reply: r.replyWall! - r.botAt!,
    }));
    const handoffRows = handoffs.flatMap((r) => {
      const e = escalation.get(r.conversationId);
      if (!e) return [];
      const onStream = handoffOnStream.get(r.conversationId) ?? Number.NaN;
      return [
        {
          total: e.taskStarted - r.sentWall,
          bot: onStream - r.sentWall,
          trigger: e.started - onStream,
          scheduled: e.scheduled - e.started,
          schedule_to_start: e.taskStarted - e.scheduled,
        },
      ];
    });
    const col = <K extends string>(rows: Record<K, number>[], k: K): number[] => rows.map((r) => r[k]);
    // every turn: its reply time, in time or late, or (never answered) the time it waited: a lower bound
    const sent = turns.filter((r) => !r.failed);
    const replyMs = sent.map((r) =>
      r.replyPerf !== undefined ? r.replyPerf - r.sentPerf : (r.lateReplyMs ?? observedPerf - r.sentPerf),
    );
    const neverAnswered = sent.filter((r) => r.replyPerf === undefined && r.lateReplyMs === undefined);
    const reply = spread(replyMs);
    // every handoff: to its escalation's first workflow task, or (none) the time it waited: a lower bound
    const handoff = spread(
      handoffs.map((r) => (escalation.get(r.conversationId)?.taskStarted ?? observedWall) - r.sentWall),
    );
    const reasons: Record<string, number> = {};
    for (const r of handoffs) reasons[r.handoff!] = (reasons[r.handoff!] ?? 0) + 1;
    const meanMax = (xs: Record<string, number[]>) =>
      Object.fromEntries(
        Object.entries(xs)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, v]) => [k, { mean: mean(v), max: Math.max(0, ...v) }]),
      );
    const processes = Object.fromEntries(
      Object.keys(pids).map((k) => [
        k,
        {
          cpu_pct: Math.round((((cpuEnd[k] ?? 0) - (cpuStart[k] ?? 0)) / windowSeconds) * 100),
          rss_mb_peak: rssPeak[k] ?? 0,
          ...(scrapesFailed[k] ? { metrics_scrapes_unanswered: scrapesFailed[k] } : {}),
          ...(loopP99[k]
            ? {
                eventloop_p99_ms_max: round1(Math.max(...loopP99[k])),
                eventloop_p99_ms_mean: mean(loopP99[k]),
              }
            : {}),
          ...(k === 'bench'
            ? {
                eventloop_p99_ms_max: round1(benchLoop.percentile(99) / 1e6),
                eventloop_p99_ms_mean: round1(benchLoop.mean / 1e6),
              }
            : {}),
        },
      ]),
    );
    const pick = (o: Record<string, unknown>, k: string): unknown => o[k];
    return {
      chat_reply_ms: { p50: reply.p50, p95: reply.p95, p99: reply.p99 },
      handoff_to_escalation_ms: { p50: handoff.p50, p99: handoff.p99 },
      handoffs: handoffs.length,
      conversations,
      replies: sent.length - neverAnswered.length,
      marketing_flows: marketingFlows,
      marketing_flows_running_peak: runningPeak,
      rate,
      seconds,
      detail: {
        timing,
        layout,
        bulk_nice: layout === 'split' ? bulkNice : 0,
        think_ms: thinkMs,
        handoff_share: handoffShare,
        conversations_opened: opened,
        turns_sent: turns.length,
        turns_unanswered: turns.filter((r) => r.replyPerf === undefined && !r.failed).length,
        turns_late: sent.filter((r) => r.lateReplyMs !== undefined).length,
        turns_never_answered: neverAnswered.length,
        turns_failed_publish: turns.filter((r) => r.failed).length,
        unanswered: turns
          .filter((r) => r.replyPerf === undefined && !r.failed)
          .slice(0, 12)
          .map((r) => ({
            conversation: r.conversationId,
            text: r.text,
            partition: partitionOf(SHOP, r.userId, config.nats.partitions),
            sent_s: round1((r.sentPerf - windowStart) / 1000),
            assisted: assisted.has(r.conversationId),
            late_reply_ms: r.lateReplyMs === undefined ? null : Math.round(r.lateReplyMs),
          })),
        handoff_reasons: reasons,
        escalations_missing: handoffs.length - handoffRows.length,
        clickstream: {
          sent: click.sent,
          failed: click.failed,
          achieved_per_s: Math.round(click.sent / Math.max(click.seconds, 0.001)),
        },
        chat_reply: {
          total: reply,
          answered_in_time: spread(col(replyRows, 'total')),
          publish_ack: spread(col(replyRows, 'publish_ack')),
          to_bot: spread(col(replyRows, 'to_bot')),
          bot_to_reply: spread(col(replyRows, 'bot_to_reply')),
          slowest_1pct_mean: slowestMean(replyRows, 'total', [
            'total',
            'publish_ack',
            'to_bot',
            'bot_to_reply',
          ]),
        },
        handoff: {
          total: handoff,
          started: spread(col(handoffRows, 'total')),
          bot: spread(col(handoffRows, 'bot')),
          trigger: spread(col(handoffRows, 'trigger')),
          scheduled: spread(col(handoffRows, 'scheduled')),
          schedule_to_start: spread(col(handoffRows, 'schedule_to_start')),
          slowest_1pct_mean: slowestMean(handoffRows, 'total', [
            'total',
            'bot',
            'trigger',
            'scheduled',
            'schedule_to_start',
          ]),
        },
        slowest_turns: answered
          .sort((a, b) => b.replyPerf! - b.sentPerf - (a.replyPerf! - a.sentPerf))
          .slice(0, 8)
          .map((r) => ({
            conversation: r.conversationId,
            text: r.text,
            partition: partitionOf(SHOP, r.userId, config.nats.partitions),
            sent_s: round1((r.sentPerf - windowStart) / 1000),
            total_ms: Math.round(r.replyPerf! - r.sentPerf),
            to_bot_ms: r.botAt! - r.sentWall,
          })),
        ...(leaseGaps ? { lease_renewals: leaseGaps } : {}),
        consumer_redelivered: Object.fromEntries(
          Object.entries(meanMax(redelivered)).map(([k, v]) => [
            k,
            { max: v.max, end: redeliveredAtEnd[k] ?? 0 },
          ]),
        ),
        marketing_workflow_task_schedule_to_start_ms: spread(marketingWft),
        marketing_sample: {
          listed: marketingSample.length,
          histories: sampleHistories,
          ...(sampleError ? { error: sampleError } : {}),
        },
        consumer_backlog: Object.fromEntries(
          Object.entries(meanMax(backlog)).map(([k, v]) => [
            k,
            { pending: v, delivered_unacked: meanMax(ackPending)[k] ?? { mean: 0, max: 0 } },
          ]),
        ),
        task_queue_backlog: meanMax(queueBacklog),
        processes,
        machine_cpu: {
          busy_pct_of_all_cores: Math.round(
            ((machineEnd.busy - machineStart.busy) / (machineEnd.total - machineStart.total)) * 100,
          ),
          ours_pct_of_all_cores: Math.round(
            (Object.keys(pids).reduce((a, k) => a + ((cpuEnd[k] ?? 0) - (cpuStart[k] ?? 0)), 0) /
              (windowSeconds * os.cpus().length)) *
              100,
          ),
          pressure_some_pct: Math.round(
            ((machineEnd.pressure - machineStart.pressure) / windowSeconds) * 100,
          ),
        },
        service_stats: Object.fromEntries(
          ['bot', 'triggers', 'orders', 'leases'].flatMap((k) =>
            pick(serviceStats, k) === undefined ? [] : [[k, pick(serviceStats, k)]],
          ),
        ),
        escalations_started: escalationsStarted,
        marketing_flows_at_end: marketingAtEnd,
        setup_seconds: setupSeconds,
        total_seconds: Math.round((Date.now() - t0) / 1000),
        machine: `${os.cpus().length} cores, node ${process.version}, load average ${os
          .loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')}`,
      },
    };
  } finally {
    sampling = false;
    benchLoop.disable();
    await Promise.allSettled(samplers);
    for (const p of producers) await p.close().catch(() => undefined);
    await Promise.allSettled([
      ...workers.map((w) => stop(w.child)),
      stop(convService?.child),
      stop(clickstream?.child),
      ...(inst ? [dispose(inst)] : []),
    ]);
    await connection?.close().catch(() => undefined);
    await chatNc?.drain().catch(() => undefined);
    await nc?.drain().catch(() => undefined);
    await relay?.close().catch(() => undefined);
    await temporal?.stop().catch(() => undefined);
    await nats?.stop().catch(() => undefined);
    if (inst?.child && running(inst.child)) inst.child.kill('SIGKILL');
    if (convService?.child && running(convService.child)) convService.child.kill('SIGKILL');
  }
}
