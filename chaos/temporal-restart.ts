// Chaos scenario "Temporal restarted": a throwaway Temporal dev server (its own SQLite file) is
// killed while cart-recovery flows wait on their timers (the demo's short timing, demo/timing.ts) and,
// after an outage during which simulated shop traffic keeps coming, started again on the same port
// with the same SQLite file. The pipeline service (sink, interest, triggers) and the flow and chat
// workers run as child processes (chaos/service.ts) and are never restarted unless a worker fails to
// come back by itself (counted: a finding). Messages go to the relay (chaos/relay.ts).
//
// What must hold: while Temporal is down the triggers hold their events (unacked, the service stays
// up, /healthz says waiting_for_temporal) and the sink keeps storing; once it is back, the timers of
// the waiting flows fire and every flow completes, the held events start their flows, every cart the
// triggers saw has its flow (none lost with the outage), and nothing is doubled: no event stored
// twice, no flow run twice, no message sent twice, one reminder_sent per message. The figures say how
// long the held events took to start their flows once Temporal was back.
//
// Negative controls (`restart`): 'none' leaves Temporal down, 'new-db' restarts it on a fresh SQLite
// file (what a restart that lost its state looks like); both must report problems.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Client, Connection, type WorkflowExecutionInfo } from '@temporalio/client';
import type { JetStreamManager, NatsConnection } from 'nats';
import { simulatedEvents } from '../bench/common';
import { loadConfig } from '../infra/config';
import { connectNats } from '../infra/nats';
import { sleep } from '../infra/sleep';
import { getFreePort, isAlive, stopPid } from '../infra/stack/processes';
import { startTemporalDevServer } from '../infra/stack/stack';
import { startTestNats } from '../infra/stack/test-nats';
import { findTools } from '../infra/stack/tools';
import { decodeEnvelope } from '../schemas/codec';
import { cartTriggerSubjects, triggerFor } from '../streams/triggers/cart-triggers';
import { createProducer } from '../streams/producer/producer';
import { names } from '../streams/topology';
import { applyTopology } from '../streams/topology-apply';
import { flowEnv, FLOWS, FLOWS_RUNNING, pollsWithin } from './flows';
import { startRelay, type RelayFigures } from './relay';
import {
  allDrained,
  dispose,
  healthy,
  instance,
  running,
  spawnCli,
  start,
  stop,
  storedEvents,
} from './service';

export interface TemporalRestartOptions {
  events: number;
  seed?: number;
  /** How long Temporal stays down (at least; the second half of the events is sent meanwhile). Default 20 s. */
  downMs?: number;
  /** How Temporal is stopped. Default SIGKILL (a crash; SQLite's WAL keeps what was committed). */
  signal?: 'SIGKILL' | 'SIGTERM';
  /**
   * 'same-db' (the scenario): started again with the same SQLite file and port. Negative controls:
   * 'new-db' (a fresh SQLite file: the waiting flows are lost) and 'none' (Temporal stays down).
   */
  restart?: 'same-db' | 'new-db' | 'none';
  log?: (line: string) => void;
}

export interface TemporalRestartFigures {
  scenario: 'temporal restart';
  restart: 'same-db' | 'new-db' | 'none';
  sent: number;
  stored: number;
  /** Rows stored beyond one per event (before any merge). */
  duplicated: number;
  deadLettered: number;
  /** Marketing flows (not escalations) waiting when Temporal was killed, and started before that. */
  flowsRunningAtKill: number;
  flowsStartedBeforeOutage: number;
  /** Flows Temporal lists as started while it was down (none: it was down). */
  flowsStartedDuringOutage: number;
  /** Flows started after Temporal was back: all from held trigger events (the sending had ended). */
  flowsStartedFromHeld: number;
  /** Marketing flows Temporal lists (runs), by end state. */
  flows: {
    started: number;
    completed: number;
    stillRunning: number;
    /** Failed, terminated, timed out or cancelled. */
    failed: number;
    /** Workflow ids with more than one run (a flow run twice). */
    runsTwice: number;
  };
  /** Flows that began (flow_entered in ClickHouse, per workflow id) and those entered twice. */
  entered: number;
  enteredTwice: number;
  /** Workflow ids with flow_entered that Temporal does not list as completed (lost or unfinished). */
  enteredNotCompleted: number;
  /** Carts whose events the cart triggers turn into a signal-with-start, and those without a flow. */
  carts: number;
  cartsWithoutFlow: number;
  relay: RelayFigures;
  remindersRecorded: number;
  /**
   * The triggers' consumers while Temporal was down: events pending and delivered-unacked (at most),
   * both just before the restart, and when /healthz first said waiting_for_temporal after the kill
   * (ms; -1: never). Not a check: a call in flight sits in the Temporal client's own gRPC retries
   * for a while first, and the trigger says running meanwhile.
   */
  held: { pending: number; ackPending: number; atRestart: number; healthWaitingAfterMs: number };
  /** Trigger events still unprocessed at the end (pending + unacked). */
  heldAtEnd: number;
  /** The service exited at some point (it must ride the outage out). */
  serviceExited: boolean;
  /** Workers that did not poll again by themselves within 60 s (restarted by the scenario). */
  workersRestarted: number;
  /** Timings, ms: Temporal down (kill -> ready again), its start, and from Temporal back to... */
  temporalDownMs: number;
  temporalStartMs: number;
  recoveryMs: {
    /** ...both workers polling again. */
    workersPolling: number;
    /** ...the first flow started from a held event. */
    firstHeldFlowStarted: number;
    /** ...the last flow started from a held event. */
    lastHeldFlowStarted: number;
    /** ...the triggers' consumers drained (every held event processed). */
    heldProcessed: number;
    /** ...every flow completed. */
    flowsCompleted: number;
  };
  seconds: number;
}

/** The marketing flows (an escalation waits for its conversation to close). */
/** A Temporal dev server that can be killed and started again on its port and SQLite file. */
interface RestartableTemporal {
  address: string;
  dbFile: string;
  pid?: number;
  /** Starts it (again) with the namespace; `dbFile`: another SQLite file from now on. */
  start(namespace: string, dbFile?: string): Promise<void>;
  kill(signal: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  dispose(): Promise<void>;
}

async function restartableTemporal(): Promise<RestartableTemporal> {
  const { temporal: binary } = await findTools(loadConfig().stack);
  if (!binary)
    throw new Error('temporal CLI not found in .tools/venv/bin or on PATH: run `make install` first');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'shopstream-temporal-restart-'));
  const [port, uiPort] = [await getFreePort(), await getFreePort()];
  const t: RestartableTemporal = {
    address: `127.0.0.1:${port}`,
    dbFile: path.join(dir, 'temporal.db'),
    async start(namespace, dbFile = t.dbFile) {
      t.dbFile = dbFile;
      const server = await startTemporalDevServer({
        binary,
        port,
        uiPort,
        dbFile,
        logFile: path.join(dir, 'temporal.log'),
        namespaces: [namespace],
      });
      t.pid = server.pid;
    },
    async kill(signal) {
      const pid = t.pid;
      t.pid = undefined;
      if (pid === undefined) return;
      if (signal === 'SIGTERM') {
        await stopPid(pid, { timeoutMs: 15_000 });
        return;
      }
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
      while (isAlive(pid)) await sleep(50);
    },
    async dispose() {
      if (t.pid !== undefined) await stopPid(t.pid, { timeoutMs: 10_000 }).catch(() => undefined);
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
  return t;
}

/** A worker child (`shopstream worker --queues <queues>`) polling `queue`. */
interface Worker {
  name: string;
  queues: 'flows' | 'chat';
  queue: string;
  child?: ChildProcess;
}

/** The triggers' consumers on the events stream: pending and delivered-unacked events, summed. */
async function triggersBacklog(
  jsm: JetStreamManager,
  prefix: string,
): Promise<{ pending: number; ackPending: number }> {
  const out = { pending: 0, ackPending: 0 };
  for await (const c of jsm.consumers.list(names(prefix).eventsStream))
    if (c.name.startsWith('triggers')) {
      out.pending += c.num_pending;
      out.ackPending += c.num_ack_pending;
    }
  return out;
}

/** Every marketing flow run Temporal lists. */
async function listFlows(client: Client): Promise<WorkflowExecutionInfo[]> {
  const out: WorkflowExecutionInfo[] = [];
  for await (const w of client.workflow.list({ query: FLOWS })) out.push(w);
  return out;
}

/**
 * The workflow ids the cart triggers must have started or signalled with start: every cart event on
 * the stream run through the triggers' own decision (triggerFor).
 */
async function expectedCartFlows(nc: NatsConnection, prefix: string): Promise<Set<string>> {
  const c = await nc
    .jetstream()
    .consumers.get(names(prefix).eventsStream, { filterSubjects: cartTriggerSubjects(prefix) });
  const ids = new Set<string>();
  for (;;) {
    let n = 0;
    let pending = 0;
    for await (const m of await c.fetch({ max_messages: 1000, expires: 2000 })) {
      n++;
      pending = m.info.pending;
      const d = decodeEnvelope(m.data);
      if (!d.ok) continue;
      const a = triggerFor(d.envelope, d.type);
      if (a.kind === 'cart_changed') ids.add(a.workflowId);
    }
    if (n === 0 || pending === 0) break;
  }
  return ids;
}

/** Waits up to `ms` for `ok()`; whether it came true. */
async function within(ms: number, ok: () => Promise<boolean>, everyMs = 500): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (await ok().catch(() => false)) return true;
    if (Date.now() > until) return false;
    await sleep(everyMs);
  }
}

/** Runs the scenario; see the file's header. */
export async function temporalRestart(opts: TemporalRestartOptions): Promise<TemporalRestartFigures> {
  const log = opts.log ?? (() => undefined);
  const mode = opts.restart ?? 'same-db';
  const downMs = opts.downMs ?? 20_000;
  const t0 = Date.now();
  const nats = await startTestNats();
  const relay = await startRelay(randomBytes(32).toString('hex'));
  const temporal = await restartableTemporal();
  const chaos = await instance(nats.url, 'trestart', flowEnv(temporal.address, relay));
  const workers: Worker[] = [
    { name: 'worker', queues: 'flows', queue: chaos.config.temporal.taskQueue },
    { name: 'chat-worker', queues: 'chat', queue: chaos.config.temporal.chatTaskQueue },
  ];
  let nc: NatsConnection | undefined;
  let connection: Connection | undefined;
  try {
    const namespace = chaos.config.temporal.namespace;
    await temporal.start(namespace);
    connection = await Connection.connect({ address: temporal.address });
    const client = new Client({ connection, namespace });
    nc = await connectNats(chaos.config.nats, 'temporal-restart', { noAsyncTraces: true });
    const jsm = await nc.jetstreamManager();
    await applyTopology(jsm, chaos.config);
    start(chaos);
    for (const w of workers) w.child = spawnCli(chaos, ['worker', '--queues', w.queues]);
    await healthy(chaos);
    for (const w of workers)
      if (!(await pollsWithin(connection, chaos, w.child, w.queue, 120_000)))
        throw new Error(`the ${w.name} did not poll ${w.queue} within 120 s`);
    let serviceExited = false;
    chaos.child?.once('exit', () => (serviceExited = true));

    const events = simulatedEvents(opts.events, opts.seed ?? 11);
    const producer = await createProducer({
      nats: chaos.config.nats,
      shopId: 'chaos-shop',
      producerId: 'chaos-producer',
      connection: nc,
      maxInFlight: 500,
    });
    const send = async (from: number, to: number): Promise<void> => {
      for (let k = from; k < to; k += 250) {
        await Promise.all(
          events.slice(k, Math.min(k + 250, to)).map((e) => producer.track(e.type, e.input as never)),
        );
        await sleep(50);
      }
    };
    const half = Math.floor(events.length / 2);
    log(`${events.length} events; the first ${half} with Temporal up`);
    await send(0, half);
    // some flows waiting on their timers (a cart counts as abandoned after ~5 s)
    const want = Math.max(1, Math.min(20, Math.floor(half / 100)));
    await within(60_000, async () => (await client.workflow.count(FLOWS_RUNNING)).count >= want);
    const flowsRunningAtKill = (await client.workflow.count(FLOWS_RUNNING)).count;
    const signal = opts.signal ?? 'SIGKILL';
    const killedAt = Date.now();
    await temporal.kill(signal);
    log(
      `Temporal ${signal}ed with ${flowsRunningAtKill} flows running; the other ${events.length - half} events`,
    );

    // the outage: the rest of the events, the triggers holding theirs
    const held = { pending: 0, ackPending: 0, atRestart: 0, healthWaitingAfterMs: -1 };
    let outageOver = false;
    const watching = (async () => {
      while (!outageOver) {
        const b = await triggersBacklog(jsm, chaos.config.nats.prefix).catch(() => undefined);
        if (b) {
          held.pending = Math.max(held.pending, b.pending);
          held.ackPending = Math.max(held.ackPending, b.ackPending);
        }
        const h = await fetch(`http://127.0.0.1:${chaos.adminPort}/healthz`, {
          signal: AbortSignal.timeout(1000),
        }).then(
          (r) => r.text(),
          () => '',
        );
        if (h.includes('waiting_for_temporal') && held.healthWaitingAfterMs < 0)
          held.healthWaitingAfterMs = Date.now() - killedAt;
        await sleep(500);
      }
    })();
    await Promise.all([send(half, events.length), sleep(downMs)]);
    await producer.close();
    log(`sent; ${Date.now() - killedAt} ms into the outage`);
    const sent = events.length;
    // the sink keeps storing while Temporal is down; the triggers hold theirs
    await allDrained(jsm, [chaos], 120_000);
    const b = await triggersBacklog(jsm, chaos.config.nats.prefix);
    held.atRestart = b.pending + b.ackPending;
    const up = mode !== 'none';
    // the outage ends here, unless Temporal stays down (then it is watched to the end)
    if (up) {
      outageOver = true;
      await watching;
    }

    let temporalDownMs = 0;
    let temporalStartMs = 0;
    let backAt = Date.now();
    let workersRestarted = 0;
    let workersPolling = -1;
    if (up) {
      const restartAt = Date.now();
      await temporal.start(namespace, mode === 'new-db' ? `${temporal.dbFile}.new` : temporal.dbFile);
      backAt = Date.now();
      temporalStartMs = backAt - restartAt;
      temporalDownMs = backAt - killedAt;
      log(
        `Temporal back after ${temporalDownMs} ms (${temporalStartMs} ms to start); ${held.atRestart} trigger events held`,
      );
      for (const w of workers)
        if (!(await pollsWithin(connection, chaos, w.child, w.queue, 60_000))) {
          // a finding: the worker did not come back by itself
          workersRestarted++;
          log(`the ${w.name} did not poll again within 60 s: restarted`);
          await stop(w.child);
          w.child = spawnCli(chaos, ['worker', '--queues', w.queues]);
          if (!(await pollsWithin(connection, chaos, w.child, w.queue, 120_000)))
            throw new Error(`the restarted ${w.name} did not poll ${w.queue}`);
        }
      workersPolling = Date.now() - backAt;
    } else {
      log(`Temporal left down (negative control); ${held.atRestart} trigger events held`);
    }
    // the held events processed, then every flow completed
    const heldDone = await within(up ? 180_000 : 15_000, async () => {
      const x = await triggersBacklog(jsm, chaos.config.nats.prefix);
      return x.pending + x.ackPending === 0;
    });
    const heldProcessed = heldDone ? Date.now() - backAt : -1;
    outageOver = true;
    await watching;
    const allCompleted =
      up &&
      (await within(180_000, async () => (await client.workflow.count(FLOWS_RUNNING)).count === 0, 1000));
    const flowsCompletedMs = allCompleted ? Date.now() - backAt : -1;
    log(`held events processed in ${heldProcessed} ms, flows completed in ${flowsCompletedMs} ms`);
    // the flows' last events reach ClickHouse
    await sleep(3000);
    await allDrained(jsm, [chaos], 60_000).catch(() => undefined);

    const runs = up ? await listFlows(client) : [];
    const closedBy = (s: string) => runs.filter((r) => r.status.name === s).length;
    const startedAt = (r: WorkflowExecutionInfo) => r.startTime.getTime();
    const fromHeld = runs.filter((r) => startedAt(r) >= backAt).map(startedAt);
    const perId = new Map<string, number>();
    for (const r of runs) perId.set(r.workflowId, (perId.get(r.workflowId) ?? 0) + 1);
    const completedIds = new Set(runs.filter((r) => r.status.name === 'COMPLETED').map((r) => r.workflowId));
    const listed = new Set(runs.map((r) => r.workflowId));
    const expected = await expectedCartFlows(nc, chaos.config.nats.prefix);
    const db = chaos.config.clickhouse.database;
    const enteredRows = await chaos.sql.query<{ workflow_id: string; n: string | number }>(
      `SELECT workflow_id, uniqExact(event_id) AS n FROM ${db}.events
       WHERE event_type = 'flow_entered' GROUP BY workflow_id`,
    );
    const [reminders] = await chaos.sql.query<{ n: string | number }>(
      `SELECT uniqExact(event_id) AS n FROM ${db}.events WHERE event_type = 'reminder_sent'`,
    );
    const stored = await storedEvents(chaos, 'chaos-producer');
    const dlq = await jsm.streams.info(names(chaos.config.nats.prefix).dlqStream);
    const end = await triggersBacklog(jsm, chaos.config.nats.prefix);
    const fromHeldSorted = [...fromHeld].sort((x, y) => x - y);
    return {
      scenario: 'temporal restart',
      restart: mode,
      sent,
      stored: stored.events,
      duplicated: stored.rows - stored.events,
      deadLettered: dlq.state.messages,
      flowsRunningAtKill,
      flowsStartedBeforeOutage: runs.filter((r) => startedAt(r) < killedAt).length,
      flowsStartedDuringOutage: runs.filter((r) => startedAt(r) >= killedAt && startedAt(r) < backAt).length,
      flowsStartedFromHeld: fromHeld.length,
      flows: {
        started: runs.length,
        completed: closedBy('COMPLETED'),
        stillRunning: closedBy('RUNNING'),
        failed: runs.length - closedBy('COMPLETED') - closedBy('RUNNING'),
        runsTwice: [...perId.values()].filter((n) => n > 1).length,
      },
      entered: enteredRows.length,
      enteredTwice: enteredRows.filter((r) => Number(r.n) > 1).length,
      enteredNotCompleted: enteredRows.filter((r) => !completedIds.has(r.workflow_id)).length,
      carts: expected.size,
      cartsWithoutFlow: [...expected].filter((id) => !listed.has(id)).length,
      relay: relay.figures(),
      remindersRecorded: Number(reminders?.n ?? 0),
      held,
      heldAtEnd: end.pending + end.ackPending,
      serviceExited: serviceExited || !running(chaos.child),
      workersRestarted,
      temporalDownMs,
      temporalStartMs,
      recoveryMs: {
        workersPolling,
        firstHeldFlowStarted: fromHeldSorted.length ? fromHeldSorted[0]! - backAt : -1,
        lastHeldFlowStarted: fromHeldSorted.length ? fromHeldSorted.at(-1)! - backAt : -1,
        heldProcessed,
        flowsCompleted: flowsCompletedMs,
      },
      seconds: Math.round((Date.now() - t0) / 1000),
    };
  } finally {
    await Promise.all([...workers.map((w) => stop(w.child)), dispose(chaos)]);
    await connection?.close().catch(() => undefined);
    await relay.close();
    await temporal.dispose();
    await nc?.drain().catch(() => undefined);
    await nats.stop();
  }
}

/**
 * What went wrong in a Temporal-restart run (empty: nothing): an event lost or doubled, a flow run
 * twice, lost or unfinished, a message doubled or unrecorded, held events that started no flow.
 */
export function temporalRestartProblems(f: TemporalRestartFigures): string[] {
  const p: string[] = [];
  const want = (ok: boolean, what: string): void => {
    if (!ok) p.push(what);
  };
  want(f.stored === f.sent, `stored ${f.stored} of ${f.sent} events`);
  want(f.duplicated === 0, `${f.duplicated} rows doubled`);
  want(f.deadLettered === 0, `${f.deadLettered} events dead-lettered`);
  want(!f.serviceExited, 'the service exited during the outage');
  want(f.held.atRestart > 0, 'the triggers held no events while Temporal was down');
  want(f.heldAtEnd === 0, `${f.heldAtEnd} trigger events still held at the end`);
  want(f.flowsStartedFromHeld > 0, 'no flow started from the held events');
  want(
    f.flowsStartedDuringOutage === 0,
    `${f.flowsStartedDuringOutage} flows started while Temporal was down`,
  );
  want(f.flows.started > 0, 'Temporal lists no flow');
  want(f.flows.stillRunning === 0, `${f.flows.stillRunning} flows never completed`);
  want(f.flows.failed === 0, `${f.flows.failed} flows failed, timed out or were terminated`);
  want(f.flows.runsTwice === 0, `${f.flows.runsTwice} flows ran twice (two runs of one workflow id)`);
  want(f.enteredTwice === 0, `${f.enteredTwice} flows entered twice`);
  want(f.enteredNotCompleted === 0, `${f.enteredNotCompleted} flows entered but not completed`);
  want(f.carts > 0 && f.cartsWithoutFlow === 0, `${f.cartsWithoutFlow} of ${f.carts} carts without a flow`);
  want(f.relay.doubled === 0, `${f.relay.doubled} messages sent twice`);
  want(f.relay.badSignatures === 0, `${f.relay.badSignatures} messages badly signed`);
  want(f.relay.messages > 0, 'no message reached the relay');
  want(
    f.remindersRecorded === f.relay.messages,
    `${f.relay.messages} messages at the relay but ${f.remindersRecorded} reminder_sent events`,
  );
  return p;
}
