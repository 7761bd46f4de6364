// Chaos scenario "a NATS node lost": a 3-node NATS cluster (infra/stack/test-nats-cluster.ts) with the
// pipeline's streams, consumers and buckets at 3 replicas (NATS_REPLICAS=3). While simulated events
// flow through the producer SDK, the events stream's leader is SIGKILLed (optionally with its store
// wiped: a lost disk) and started again; later the whole cluster is stopped and started. Afterwards:
// every event whose publish was acked is stored in ClickHouse exactly once, the pipeline service never
// exited (it reconnected), and the figures say how long publishing and the pipeline took to recover.
//
// The producer SDK retries a timed-out publish a few times (streams/producer/producer.ts); a publish
// that still fails (PublishError) is retried here with the same event id (Nats-Msg-Id, so JetStream
// drops a copy it already has) and counted: what an application must do on top of the SDK.
import type { JetStreamManager } from 'nats';
import { simulatedEvents } from '../bench/common';
import { connectNats } from '../infra/nats';
import { sleep } from '../infra/sleep';
import { startTestNatsCluster } from '../infra/stack/test-nats-cluster';
import { newEventId } from '../schemas/ulid';
import type { EventType } from '../schemas/events';
import { createProducer, PublishError, type Producer, type TrackInput } from '../streams/producer/producer';
import { names } from '../streams/topology';
import { applyTopology } from '../streams/topology-apply';
import { allDrained, dispose, healthy, instance, running, start, type Instance } from './service';

/** One event as sent: its id is fixed before the first attempt, so every retry is the same event. */
export interface Ack {
  eventId: string;
  /** Which producer (site) acked it. */
  site: string;
  /** When the first attempt started and when the ack came, epoch ms. */
  startedAt: number;
  at: number;
  /** The server already had it (a retry of a publish whose ack was lost). */
  duplicate: boolean;
}

export interface SendLedger {
  sent: number;
  acks: Ack[];
  /** Publishes that failed (PublishError after the SDK's own retries) and were sent again. */
  retried: number;
  /** Failures by PublishError code. */
  errors: Record<string, number>;
  /** Events given up on (not acked before the deadline). */
  abandoned: string[];
}

/**
 * Sends `events` with `concurrency` publishes at once, paced at `ratePerSecond`, each retried until
 * acked or `deadlineMs` passed. `producer()` is asked before every attempt, so a caller can switch
 * sites mid-run. `progress` counts acks as they come (the fault driver waits on it).
 */
export async function sendAcked(
  events: { type: string; input: unknown }[],
  o: {
    producer: () => { site: string; producer: Producer };
    concurrency: number;
    ratePerSecond: number;
    deadlineMs: number;
    progress?: { acked: number };
  },
): Promise<SendLedger> {
  const ledger: SendLedger = { sent: events.length, acks: [], retried: 0, errors: {}, abandoned: [] };
  const t0 = Date.now();
  const deadline = t0 + o.deadlineMs;
  const interval = 1000 / o.ratePerSecond;
  // paced without catching up: after a stall the events keep coming at the rate, not in a burst, so
  // a later fault still lands while events flow
  let due = t0;
  let next = 0;
  const one = async (k: number): Promise<void> => {
    const e = events[k]!;
    const eventId = newEventId();
    const input = { ...(e.input as TrackInput<EventType>), eventId };
    const startedAt = Date.now();
    for (;;) {
      const { site, producer } = o.producer();
      try {
        const r = await producer.track(e.type as EventType, input);
        ledger.acks.push({ eventId, site, startedAt, at: Date.now(), duplicate: r.duplicate });
        if (o.progress) o.progress.acked++;
        return;
      } catch (err) {
        if (!(err instanceof PublishError)) throw err;
        ledger.errors[err.code] = (ledger.errors[err.code] ?? 0) + 1;
        if (Date.now() > deadline) {
          ledger.abandoned.push(eventId);
          return;
        }
        ledger.retried++;
        await sleep(200);
      }
    }
  };
  const worker = async (): Promise<void> => {
    for (let k = next++; k < events.length; k = next++) {
      due = Math.max(due + interval, Date.now());
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      await one(k);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  return ledger;
}

/** Ms from `from` to the first ack of an event first sent at or after `from` (-1: none). */
export function firstAckAfter(acks: Ack[], from: number, site?: string): number {
  let first = Number.POSITIVE_INFINITY;
  for (const a of acks)
    if (a.startedAt >= from && a.at < first && (site === undefined || a.site === site)) first = a.at;
  return Number.isFinite(first) ? first - from : -1;
}

/** Rows per event id stored in ClickHouse for a producer. */
export async function storedIds(i: Instance, producerId: string): Promise<Map<string, number>> {
  const db = i.config.clickhouse.database;
  const rows = await i.sql.query<{ event_id: string; n: string | number }>(
    `SELECT event_id, count() AS n FROM ${db}.events WHERE producer_id = '${producerId}' GROUP BY event_id`,
  );
  return new Map(rows.map((r) => [r.event_id, Number(r.n)]));
}

/** Waits for `p`, but no longer than `ms` (its timer cleared, so nothing is left to keep the process up). */
export async function within(p: Promise<unknown> | undefined, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    p?.catch(() => undefined),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
  ]);
  clearTimeout(timer);
}

/** Polls `fn` until it resolves; its last error after `timeoutMs`. */
export async function retrying<T>(fn: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > until) throw err;
      await sleep(250);
    }
  }
}

/** allDrained's `except` that leaves only the ClickHouse sink's consumer to wait for. */
export const SINK_ONLY = ['triggers', 'interest_', 'chat_', 'orders_'];

/** Consumers of a stream with messages pending or unacked, for the log. */
export async function pending(jsm: JetStreamManager, stream: string): Promise<string> {
  const out: string[] = [];
  for await (const c of jsm.consumers.list(stream))
    if (c.num_pending + c.num_ack_pending > 0) out.push(`${c.name} ${c.num_pending}+${c.num_ack_pending}`);
  return out.join(', ') || 'none';
}

/** The events stream's leader (a server name), once it has one. */
async function streamLeader(jsm: JetStreamManager, stream: string): Promise<string> {
  return retrying(async () => {
    const leader = (await jsm.streams.info(stream)).cluster?.leader;
    if (!leader) throw new Error(`${stream} has no leader`);
    return leader;
  });
}

export interface NatsNodeLostOptions {
  events: number;
  seed?: number;
  /** Publishes per second the producer is paced at. Default 1000. */
  ratePerSecond?: number;
  /** How long the lost node stays down before it is started again. Default 3000 ms. */
  downMs?: number;
  /** Start the lost node with an empty store (a lost disk): it must catch up from its peers. */
  wipe?: boolean;
  /** NATS_REPLICAS for the pipeline (3; 1 shows what the replicas are for). */
  replicas?: 1 | 3;
  /**
   * What to wait for at the end: 'all' consumers (default) or the ClickHouse 'sink' only (what the
   * checks need; the processors' unacked deliveries wait out a 30 s ack_wait after the restart).
   */
  drain?: 'all' | 'sink';
  /** Skip the whole-cluster restart (the node loss only). */
  skipClusterRestart?: boolean;
  log?: (line: string) => void;
}

export interface NatsNodeLostFigures {
  scenario: 'nats node lost';
  sent: number;
  acked: number;
  stored: number;
  /** Acked events not in ClickHouse. */
  lost: number;
  /** Rows stored beyond one per event. */
  duplicated: number;
  /** Events never acked (given up after the deadline). */
  abandoned: number;
  /** Acks that said duplicate: a retried publish the stream already had (dropped by Nats-Msg-Id). */
  duplicateAcks: number;
  /** Publish retries: inside the SDK (timeouts, no responders) and here after a PublishError. */
  publishRetries: { sdk: number; scenario: number };
  publishErrors: Record<string, number>;
  nodeLost: {
    node: string;
    newLeader: string;
    wiped: boolean;
    /** The node gone (SIGKILL) -> the first publish sent after that acked. */
    publishRecoveryMs: number;
    /** Restart of the node -> every replica on it current again (/healthz). */
    caughtUpMs: number;
  };
  clusterRestart?: {
    /** Stop of all three (SIGTERM) -> every node healthy again. */
    natsBackMs: number;
    /** All three gone -> the first publish sent after that acked. */
    publishRecoveryMs: number;
    /** Stop of all three -> the pipeline service healthy again. */
    serviceHealthyMs: number;
  };
  /** Last ack -> the ClickHouse sink's consumer drained (every acked event stored). */
  sinkDrainMs: number;
  /**
   * Last ack -> every consumer drained (processors too). Deliveries whose acks were lost in the
   * restart wait for their ack_wait (30 s for the interest processor) before they are redelivered.
   * -1 with `drain: 'sink'`.
   */
  drainMs: number;
  /** Times the pipeline service process exited (and was restarted) during the run. */
  serviceExits: number;
  seconds: number;
}

/** Scenario A: see the header. */
export async function natsNodeLost(opts: NatsNodeLostOptions): Promise<NatsNodeLostFigures> {
  const log = opts.log ?? (() => undefined);
  const t0 = Date.now();
  const replicas = opts.replicas ?? 3;
  const producerId = 'node-lost-producer';
  const cluster = await startTestNatsCluster({ clusters: [{ name: 'c1', size: 3 }] });
  const svc = await instance(cluster.url(), 'nodelost', { NATS_REPLICAS: String(replicas) });
  let producer: Producer | undefined;
  let serviceExits = 0;
  let finished = false;
  const nc = await connectNats(svc.config.nats, 'chaos-node-lost', { noAsyncTraces: true });
  // the producer's own connection (to all three nodes), owned here so that it is closed whatever happens
  const pc = await connectNats(svc.config.nats, 'chaos-producer', { noAsyncTraces: true });
  try {
    const jsm = await nc.jetstreamManager();
    await retrying(() => applyTopology(jsm, svc.config));
    const stream = names(svc.config.nats.prefix).eventsStream;
    const watch = (): void => {
      svc.child?.once('exit', () => {
        if (finished) return;
        serviceExits++;
        log(`the pipeline service exited (${serviceExits}); starting it again`);
        start(svc);
        watch();
      });
    };
    start(svc);
    watch();
    await healthy(svc);
    producer = await createProducer({
      nats: svc.config.nats,
      shopId: 'chaos-shop',
      producerId,
      connection: pc,
      maxInFlight: 500,
      publishTimeoutMs: 2000,
    });
    const p = producer;
    const events = simulatedEvents(opts.events, opts.seed ?? 12);
    const progress = { acked: 0 };
    log(`${events.length} events to a 3-node cluster, streams at R${replicas}`);
    const sending = sendAcked(events, {
      producer: () => ({ site: 'c1', producer: p }),
      concurrency: 200,
      ratePerSecond: opts.ratePerSecond ?? 1000,
      deadlineMs: 600_000,
      progress,
    });
    let sendFailed: Error | undefined;
    let sendDone = false;
    sending.then(
      () => (sendDone = true),
      (err: unknown) => (sendFailed = err instanceof Error ? err : new Error(String(err))),
    );
    const reached = async (share: number): Promise<void> => {
      while (progress.acked < events.length * share && !sendDone) {
        if (sendFailed !== undefined) throw sendFailed;
        await sleep(50);
      }
    };

    // a node lost: the events stream's leader, SIGKILLed mid-run
    await reached(0.25);
    const node = await streamLeader(jsm, stream);
    await cluster.stop(node, 'SIGKILL');
    const stopAt = Date.now(); // the process is gone: no ack can come from it after this
    log(`killed ${node} (the leader of ${stream}) at ${progress.acked} acks`);
    await sleep(opts.downMs ?? 3000);
    const restartAt = Date.now();
    await cluster.start(node, { wipe: opts.wipe ?? false });
    await cluster.ready(undefined, 120_000);
    const caughtUpMs = Date.now() - restartAt;
    const newLeader = await streamLeader(jsm, stream);
    log(
      `${node} back${opts.wipe ? ' (store wiped)' : ''}, current in ${caughtUpMs} ms; leader now ${newLeader}`,
    );

    // the whole cluster restarted
    let clusterRestart: NatsNodeLostFigures['clusterRestart'];
    let restartStopAt = 0;
    if (!opts.skipClusterRestart) {
      await reached(0.6);
      if (sendDone)
        throw new Error(
          'every event was acked before the cluster restart: send more events or lower ratePerSecond',
        );
      const stoppingAt = Date.now();
      await cluster.stopAll('SIGTERM');
      restartStopAt = Date.now();
      log(`stopped all three nodes at ${progress.acked} acks`);
      await cluster.startAll();
      await cluster.ready(undefined, 120_000);
      const natsBackMs = Date.now() - stoppingAt;
      await healthy(svc, 120_000);
      const serviceHealthyMs = Date.now() - stoppingAt;
      clusterRestart = { natsBackMs, publishRecoveryMs: -1, serviceHealthyMs };
      log(`cluster back in ${natsBackMs} ms, service healthy in ${serviceHealthyMs} ms`);
    }

    const ledger = await sending;
    const lastAck = Math.max(...ledger.acks.map((a) => a.at));
    await p.close();
    await allDrained(jsm, [svc], 300_000, SINK_ONLY);
    const sinkDrainMs = Date.now() - lastAck;
    log(`sink drained ${sinkDrainMs} ms after the last ack; pending: ${await pending(jsm, stream)}`);
    if (opts.drain !== 'sink') await allDrained(jsm, [svc]);
    const drainMs = opts.drain === 'sink' ? -1 : Date.now() - lastAck;
    if (clusterRestart) clusterRestart.publishRecoveryMs = firstAckAfter(ledger.acks, restartStopAt);
    const stored = await storedIds(svc, producerId);
    const rows = [...stored.values()].reduce((a, b) => a + b, 0);
    const lost = ledger.acks.filter((a) => !stored.has(a.eventId)).length;
    finished = true;
    if (!running(svc.child)) throw new Error('the pipeline service is not running at the end');
    return {
      scenario: 'nats node lost',
      sent: ledger.sent,
      acked: ledger.acks.length,
      stored: stored.size,
      lost,
      duplicated: rows - stored.size,
      abandoned: ledger.abandoned.length,
      duplicateAcks: ledger.acks.filter((a) => a.duplicate).length,
      publishRetries: { sdk: p.stats().retries, scenario: ledger.retried },
      publishErrors: ledger.errors,
      nodeLost: {
        node,
        newLeader,
        wiped: opts.wipe ?? false,
        publishRecoveryMs: firstAckAfter(ledger.acks, stopAt),
        caughtUpMs,
      },
      ...(clusterRestart ? { clusterRestart } : {}),
      sinkDrainMs,
      drainMs,
      serviceExits,
      seconds: Math.round((Date.now() - t0) / 1000),
    };
  } finally {
    finished = true;
    await within(producer?.close(), 15_000);
    await dispose(svc);
    await Promise.all([nc, pc].map((c) => c.close().catch(() => undefined)));
    await cluster.dispose();
  }
}

/** What went wrong (empty: nothing acked lost or doubled, the pipeline carried on). */
export function natsNodeLostProblems(f: NatsNodeLostFigures): string[] {
  const p: string[] = [];
  if (f.lost > 0) p.push(`${f.lost} acked events not stored`);
  if (f.duplicated > 0) p.push(`${f.duplicated} rows doubled`);
  if (f.abandoned > 0) p.push(`${f.abandoned} events never acked`);
  if (f.serviceExits > 0) p.push(`the service exited ${f.serviceExits} times`);
  return p;
}
