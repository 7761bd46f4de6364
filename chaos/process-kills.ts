// Chaos scenario: the pipeline's processes SIGKILLed again and again while simulated shop traffic
// flows, and restarted each time: the service (sink, interest, triggers and the bot, which runs in it)
// and, with `flows`, the flow worker and the chat (escalation) worker on a throwaway Temporal, their
// messages going to a relay (chaos/relay.ts) that counts what shoppers would receive. A second service
// on its own prefix and data directory takes the same events without kills and without flows: the
// reference. Afterwards: ClickHouse holds exactly the events sent (no row doubled), no bot reply, flow,
// reminder, coupon or escalation was produced twice, and every user's interest profile equals the
// reference's (counters exactly, interest vectors to 1e-9).
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { Client, Connection } from '@temporalio/client';
import type { NatsConnection } from 'nats';
import { loadCatalog } from '../catalog';
import { simulatedEvents } from '../bench/common';
import { connectNats } from '../infra/nats';
import { sleep } from '../infra/sleep';
import { startTestNats } from '../infra/stack/test-nats';
import { startTestTemporal, type TestTemporal } from '../infra/stack/test-temporal';
import { decodeState } from '../streams/processors/interest/state-codec';
import type { ProfileState } from '../streams/processors/interest/state';
import { createProducer } from '../streams/producer/producer';
import { summarizeDeadLetters } from '../streams/dlq';
import { names } from '../streams/topology';
import { applyTopology } from '../streams/topology-apply';
import { mulberry32 } from '../demo/random';
import { getFreePort } from '../infra/stack/processes';
import { fuzzCollector } from './collector-fuzz';
import { HOSTILE_PRODUCER, hostileMessages } from './hostile';
import { flowEnv, FLOWS_RUNNING, pollsWithin } from './flows';
import { startRelay, type Relay, type RelayFigures } from './relay';
import {
  backlog,
  dispose,
  exited,
  healthy,
  instance,
  spawnCli,
  start,
  stop,
  storedEvents,
  whileProgressing,
  type Instance,
} from './service';

export interface ProcessKillsOptions {
  events: number;
  kills: number;
  /** Hostile messages (chaos/hostile.ts) sent to both services while the kills happen. */
  hostile?: number;
  /** Run the flows (Temporal, flow worker, chat worker) on the chaos side and kill the workers too. */
  flows?: boolean;
  /**
   * Events of `make fuzz` (chaos/collector-fuzz.ts) posted to the chaos side's collector while the
   * kills happen, each batch retried until the service answers.
   */
  collectorFuzz?: number;
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
  /** Dead letters by source and reason. */
  deadLetterReasons: Record<string, number>;
  /** Hostile messages sent, of which good (to be stored) and bad (to be dead-lettered). */
  hostile: { sent: number; good: number; stored: number; bad: number; deadLettered: number };
  kills: number;
  /** Kills per process (service, worker, chat-worker). */
  killed: Record<string, number>;
  /** Kill -> the restarted process healthy (service) or polling its task queue (workers) again, ms. */
  recoveryMs: { p50: number; max: number };
  /** With `collectorFuzz`: what the collector accepted (all stored) and rejected (all dead-lettered). */
  collectorFuzz?: {
    sent: number;
    accepted: number;
    acceptedStored: number;
    /** Event ids given to two events (none expected). */
    idsTwice: number;
    goodRefused: number;
    rejected: number;
    retries: number;
  };
  /** With `flows`: what the flows did, and what was doubled (all zero when nothing was). */
  flows?: FlowFigures;
  botReplies: number;
  botRepliesDoubled: number;
  profiles: number;
  profilesDiffering: number;
  seconds: number;
}

export interface FlowFigures {
  /** Flows (workflow runs) that began, by flow_entered, and those entered twice (a second run). */
  entered: number;
  enteredTwice: number;
  /** Still running once the run ended (0: every flow completed). */
  stillRunning: number;
  /** From the triggers drained to the last flow completed (or the wait given up), s. */
  flowsSettledSeconds: number;
  /** Events the triggers still held at the end (0), and how long they took after the rest drained, s. */
  triggersBacklog?: number;
  triggersDrainedSeconds?: number;
  /** Messages at the relay, and the reminder_sent events recorded for them (must be equal). */
  relay: RelayFigures;
  remindersRecorded: number;
  /** Coupons issued, and users given more than one code in one campaign. */
  couponsIssued: number;
  couponsDoubled: number;
  /** Conversations escalated, and those escalated by two workflows. */
  escalations: number;
  escalationsDoubled: number;
}

/** One of the chaos side's processes: started, killed and started again. */
interface Proc {
  name: string;
  child?: ChildProcess;
  start(): void;
  ready(): Promise<void>;
}

/** Until the worker process polls its task queue. */
async function polled(connection: Connection, i: Instance, queue: string, w: Proc): Promise<void> {
  if (!(await pollsWithin(connection, i, w.child, queue, 120_000)))
    throw new Error(`the ${w.name} did not poll task queue ${queue} within 120 s (or exited)`);
}

/** The shop and write key of the collector fuzzing. */
const FUZZ_SHOP = 'chaos-fuzz-web';
const FUZZ_KEY = 'chaos-fuzz-key';

/** How many of these event ids ClickHouse holds. */
async function countStored(i: Instance, ids: string[]): Promise<number> {
  let n = 0;
  for (let k = 0; k < ids.length; k += 5000) {
    const [row] = await i.sql.query<{ n: string | number }>(
      `SELECT uniqExact(event_id) AS n FROM ${i.config.clickhouse.database}.events WHERE event_id IN {ids:Array(String)}`,
      { ids: ids.slice(k, k + 5000) },
    );
    n += Number(row?.n ?? 0);
  }
  return n;
}

/** Waits for every flow to complete, then counts what the flows did and what was doubled. */
async function flowFigures(i: Instance, connection: Connection, relay: Relay): Promise<FlowFigures> {
  const client = new Client({ connection, namespace: i.config.temporal.namespace });
  // as long as they keep completing (thousands of flows take the local Temporal minutes: issue 13)
  const settled = await whileProgressing(async () => (await client.workflow.count(FLOWS_RUNNING)).count);
  const stillRunning = settled.left;
  if (process.env['CHAOS_DEBUG'])
    for await (const w of client.workflow.list({ query: FLOWS_RUNNING }))
      console.log('still running:', w.type, w.workflowId, w.startTime.toISOString());
  // the flows' last events reach ClickHouse
  await sleep(3000);
  const db = i.config.clickhouse.database;
  const one = async (sql: string): Promise<Record<string, string | number>> =>
    (await i.sql.query<Record<string, string | number>>(sql))[0] ?? {};
  const entered = await one(
    `SELECT count() AS runs, countIf(n > 1) AS twice FROM (SELECT workflow_id, uniqExact(event_id) AS n
     FROM ${db}.events WHERE event_type = 'flow_entered' GROUP BY workflow_id)`,
  );
  if (process.env['CHAOS_DEBUG'])
    console.log(
      JSON.stringify(
        await i.sql.query(
          `SELECT workflow_id, groupArray(event_id) AS ids, groupArray(occurred_at) AS at, groupArray(properties) AS p, groupArray(producer_id) AS pr
           FROM ${db}.events WHERE event_type = 'flow_entered' GROUP BY workflow_id HAVING uniqExact(event_id) > 1 LIMIT 5`,
        ),
        null,
        1,
      ),
    );
  const reminders = await one(
    `SELECT uniqExact(event_id) AS n FROM ${db}.events WHERE event_type = 'reminder_sent'`,
  );
  const coupons = await one(
    `SELECT sum(n) AS issued, countIf(n > 1) AS doubled FROM (SELECT uniqExact(coupon_code) AS n
     FROM ${db}.events WHERE event_type = 'coupon_issued'
     GROUP BY shop_id, user_key, JSONExtractString(properties, 'campaign_id'))`,
  );
  const escalations = await one(
    `SELECT count() AS n, countIf(w > 1) AS doubled FROM (SELECT uniqExact(workflow_id) AS w
     FROM ${db}.events WHERE event_type = 'conversation_escalated' GROUP BY shop_id, conversation_id)`,
  );
  return {
    entered: Number(entered['runs'] ?? 0),
    enteredTwice: Number(entered['twice'] ?? 0),
    stillRunning,
    flowsSettledSeconds: Math.round(settled.ms / 1000),
    relay: relay.figures(),
    remindersRecorded: Number(reminders['n'] ?? 0),
    couponsIssued: Number(coupons['issued'] ?? 0),
    couponsDoubled: Number(coupons['doubled'] ?? 0),
    escalations: Number(escalations['n'] ?? 0),
    escalationsDoubled: Number(escalations['doubled'] ?? 0),
  };
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
 * events of the user stamped with the wall clock, which differs between the two runs. With flows on
 * one side only, not the count of all events either: the flows' own events (flow_entered,
 * reminder_sent, coupon_issued) are the user's events too.
 */
function sameProfile(a: ProfileState, b: ProfileState, flowsOnOneSide: boolean): boolean {
  const close = (x: number[][], y: number[][]): boolean =>
    x.length === y.length && x.every((r, i) => r.every((v, j) => Math.abs(v - y[i]![j]!) < 1e-9));
  const counters = (p: ProfileState) =>
    JSON.stringify(flowsOnOneSide ? { ...p.counters, events: 0 } : p.counters);
  return (
    counters(a) === counters(b) &&
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
  let temporal: TestTemporal | undefined;
  let relay: Relay | undefined;
  let connection: Connection | undefined;
  const workers: Proc[] = [];
  if (opts.flows) {
    const secret = randomBytes(32).toString('hex');
    [temporal, relay] = await Promise.all([startTestTemporal(), startRelay(secret)]);
    connection = await Connection.connect({ address: temporal.address });
  }
  const collectorPort = await getFreePort();
  const chaos = await instance(nats.url, 'chaos', {
    ...(temporal && relay ? flowEnv(temporal.address, relay) : {}),
    ...(opts.collectorFuzz
      ? {
          COLLECTOR_PORT: String(collectorPort),
          COLLECTOR_WRITE_KEYS: `${FUZZ_SHOP}:${FUZZ_KEY}`,
          COLLECTOR_RATE_LIMIT: '0',
        }
      : {}),
  });
  const reference = await instance(nats.url, 'reference');
  const nc = await connectNats(chaos.config.nats, 'chaos', { noAsyncTraces: true });
  try {
    const jsm = await nc.jetstreamManager();
    for (const i of [chaos, reference]) await applyTopology(jsm, i.config);
    const service: Proc = {
      name: 'service',
      start: () => start(chaos),
      // healthy: consumers bound and keeping up (a restart under a backlog of 100,000 takes a while)
      ready: () => healthy(chaos, 180_000),
    };
    if (connection) {
      const { taskQueue, chatTaskQueue } = chaos.config.temporal;
      for (const [name, queues, queue] of [
        ['worker', 'flows', taskQueue],
        ['chat-worker', 'chat', chatTaskQueue],
      ] as const) {
        const w: Proc = {
          name,
          start: () => (w.child = spawnCli(chaos, ['worker', '--queues', queues])),
          ready: () => polled(connection, chaos, queue, w),
        };
        workers.push(w);
      }
    }
    const procs = [service, ...workers];
    for (const p of procs) p.start();
    start(reference);
    await Promise.all([...procs.map((p) => p.ready()), healthy(reference)]);
    const events = simulatedEvents(opts.events, opts.seed ?? 11);
    log(
      `${events.length} events to both services; ${opts.kills} kills of the chaos one's ${procs.map((p) => p.name).join(', ')}`,
    );
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
    const fuzzing = opts.collectorFuzz
      ? fuzzCollector({
          url: `http://127.0.0.1:${collectorPort}/v1/batch`,
          writeKey: FUZZ_KEY,
          events: opts.collectorFuzz,
          seed: (opts.seed ?? 11) + 2,
          retryForMs: 120_000,
        })
      : undefined;
    const sending = Promise.all([
      send(chaos),
      send(reference),
      sendHostile(chaos),
      sendHostile(reference),
      fuzzing,
    ]);
    const recoveries: number[] = [];
    const killed: Record<string, number> = {};
    for (let k = 0; k < opts.kills; k++) {
      await sleep(500 + Math.floor(rnd() * 2500));
      // each process in turn (the bot runs in the service), at random moments
      const victim = procs[k % procs.length]!;
      const child = victim.name === 'service' ? chaos.child : victim.child;
      const killedAt = Date.now();
      child?.kill('SIGKILL');
      if (child) await exited(child);
      victim.start();
      await victim.ready();
      recoveries.push(Date.now() - killedAt);
      killed[victim.name] = (killed[victim.name] ?? 0) + 1;
      log(`kill ${k + 1}/${opts.kills} (${victim.name}): back in ${recoveries.at(-1)} ms`);
    }
    const [sent] = await sending;
    // every consumer but the triggers (the reference's hold their events: no Temporal), as long as
    // they keep draining (both services share two cores with Temporal and the workers)
    const rest = async () =>
      (await backlog(jsm, chaos.config.nats.prefix, 'triggers', true)).total +
      (await backlog(jsm, reference.config.nats.prefix, 'triggers', true)).total;
    if ((await whileProgressing(rest)).left > 0)
      throw new Error(
        `the services stopped draining: ${JSON.stringify({
          chaos: (await backlog(jsm, chaos.config.nats.prefix, 'triggers', true)).byConsumer,
          reference: (await backlog(jsm, reference.config.nats.prefix, 'triggers', true)).byConsumer,
        })}`,
      );
    // the triggers start thousands of flows through one local Temporal: as long as they keep going
    const triggers = connection
      ? await whileProgressing(async () => (await backlog(jsm, chaos.config.nats.prefix, 'triggers')).total)
      : undefined;
    const flows =
      connection && relay && triggers
        ? {
            ...(await flowFigures(chaos, connection, relay)),
            triggersBacklog: triggers.left,
            triggersDrainedSeconds: Math.round(triggers.ms / 1000),
          }
        : undefined;
    const fuzzed = await fuzzing;
    const collectorFuzz = fuzzed && {
      sent: fuzzed.sent,
      accepted: fuzzed.accepted.length,
      acceptedStored: await countStored(chaos, fuzzed.accepted),
      idsTwice: fuzzed.accepted.length - new Set(fuzzed.accepted).size,
      goodRefused: fuzzed.goodRefused,
      rejected: fuzzed.rejectedDigests.size,
      retries: fuzzed.retries,
    };
    const db = chaos.config.clickhouse.database;
    const c = await storedEvents(chaos, 'chaos-producer');
    const [bot] = await chaos.sql.query<Record<string, string | number>>(
      `SELECT count() AS replies, countIf(n > 1) AS doubled
       FROM (SELECT reply_to, count() AS n FROM ${db}.events
             WHERE event_type = 'chat_turn' AND chat_role = 'bot'
             GROUP BY JSONExtractString(properties, 'reply_to') AS reply_to)`,
    );
    const dlq = await jsm.streams.info(names(chaos.config.nats.prefix).dlqStream);
    const deadLetterReasons = (await summarizeDeadLetters(jsm, chaos.config.nats.prefix)).byReason;
    const [h] = await chaos.sql.query<Record<string, string | number>>(
      `SELECT uniqExact(event_id) AS stored FROM ${db}.events WHERE producer_id = '${HOSTILE_PRODUCER}'`,
    );
    const [a, b] = await Promise.all([
      profiles(nc, chaos.config.nats.prefix),
      profiles(nc, reference.config.nats.prefix),
    ]);
    let differing = 0;
    for (const [key, ref] of b)
      if (!a.has(key) || !sameProfile(a.get(key)!, ref, !!opts.flows)) {
        differing++;
      }
    // the shop's users only: the service's own alert_changed events (shop `ops`) are operators' events,
    // and a run with kills may well fire an alert the reference does not (replies wait for a restart)
    const extra = [...a.keys()].filter(
      (k) => !b.has(k) && !k.startsWith('ops.') && !k.startsWith(`${FUZZ_SHOP}.`),
    );
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
      stored: c.events,
      duplicated: c.rows - c.events,
      deadLettered: dlq.state.messages,
      deadLetterReasons,
      hostile: {
        sent: hostile.length,
        good: hostile.filter((m) => m.good).length,
        stored: Number(h?.['stored'] ?? 0),
        bad: hostile.filter((m) => !m.good).length,
        // the dead letters beyond those of the collector's rejections
        deadLettered: dlq.state.messages - (collectorFuzz?.rejected ?? 0),
      },
      kills: recoveries.length,
      killed,
      recoveryMs: { p50: sorted[Math.floor(sorted.length / 2)] ?? 0, max: sorted.at(-1) ?? 0 },
      botReplies: Number(bot?.['replies'] ?? 0),
      botRepliesDoubled: Number(bot?.['doubled'] ?? 0),
      profiles: b.size,
      profilesDiffering: differing,
      ...(collectorFuzz ? { collectorFuzz } : {}),
      ...(flows ? { flows } : {}),
      seconds: Math.round((Date.now() - t0) / 1000),
    };
  } finally {
    await Promise.all([...workers.map((w) => stop(w.child)), dispose(chaos), dispose(reference)]);
    await connection?.close();
    await relay?.close();
    await temporal?.stop();
    await nc.drain();
    await nats.stop();
  }
}

/** What went wrong in a process-kills run: lost or doubled anything (empty: nothing). */
export function processKillsProblems(f: ProcessKillsFigures): string[] {
  const p: string[] = [];
  const want = (ok: boolean, what: string): void => {
    if (!ok) p.push(what);
  };
  want(f.stored === f.sent, `stored ${f.stored} of ${f.sent} events`);
  want(f.duplicated === 0, `${f.duplicated} rows doubled`);
  want(f.botRepliesDoubled === 0, `${f.botRepliesDoubled} bot replies doubled`);
  want(f.profilesDiffering === 0, `${f.profilesDiffering} profiles differ from the reference`);
  want(f.hostile.stored === f.hostile.good, `hostile: ${f.hostile.stored} of ${f.hostile.good} good stored`);
  const rejected = f.collectorFuzz?.rejected ?? 0;
  want(
    f.deadLettered === f.hostile.bad + rejected,
    `${f.deadLettered} dead letters for ${f.hostile.bad} bad hostile messages and ${rejected} rejected by the collector`,
  );
  const c = f.collectorFuzz;
  if (c) {
    want(
      c.acceptedStored === c.accepted,
      `collector fuzz: ${c.acceptedStored} of ${c.accepted} accepted stored`,
    );
    want(c.idsTwice === 0, `collector fuzz: ${c.idsTwice} event ids given twice`);
    want(c.goodRefused === 0, `collector fuzz: ${c.goodRefused} good events refused`);
  }
  const w = f.flows;
  if (w) {
    want(w.stillRunning === 0, `${w.stillRunning} flows never completed`);
    want(!w.triggersBacklog, `${w.triggersBacklog} events never taken by the triggers`);
    want(w.enteredTwice === 0, `${w.enteredTwice} flows ran twice`);
    want(w.relay.doubled === 0, `${w.relay.doubled} messages sent twice`);
    want(w.relay.badSignatures === 0, `${w.relay.badSignatures} messages badly signed`);
    want(
      w.remindersRecorded === w.relay.messages,
      `${w.relay.messages} messages at the relay but ${w.remindersRecorded} reminder_sent events`,
    );
    want(w.couponsDoubled === 0, `${w.couponsDoubled} users given two codes in one campaign`);
    want(w.escalationsDoubled === 0, `${w.escalationsDoubled} conversations escalated twice`);
  }
  return p;
}
