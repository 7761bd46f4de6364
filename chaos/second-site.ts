// Chaos scenario "a second site": two 3-node NATS clusters, site1 and site2, joined by gateways into a
// super-cluster with a one-node `witness` cluster, so that the JetStream meta group (which spans every
// server of a super-cluster: 3 + 3 + 1 = 7 votes, quorum 4) survives the loss of either site. The
// pipeline runs at site1 on prefix p1 (its streams placed there); site2 holds a mirror of p1's events
// stream, named and subject-mapped for site2's own prefix p2 (a mirror keeps the Nats-Msg-Ids, so the
// promoted stream still drops a retried event it already has). Mid-run site1 is lost (its servers and
// its pipeline service SIGKILLed); a watcher at site2 sees p1's stream stop answering, promotes the
// mirror (removes its mirror configuration, nats-server 2.12+, and gives it p2's subjects), applies
// p2's topology at site2, starts the pipeline there and switches the producer to it.
//
// Figures: what was lost in flight (the recovery point: events acked by site1 that never reached
// site2, and how long before the loss they were acked), how long the switch took (the recovery time:
// loss -> first event acked at site2, and -> the site2 pipeline healthy), and that nothing acked at
// site2 was lost and nothing was stored twice. docs/multi-site.md explains the design.
import type { JetStreamManager, StreamUpdateConfig } from 'nats';
import { simulatedEvents } from '../bench/common';
import { connectNats } from '../infra/nats';
import { sleep } from '../infra/sleep';
import { startTestNatsCluster } from '../infra/stack/test-nats-cluster';
import { createProducer, type Producer } from '../streams/producer/producer';
import { names, streamConfigs } from '../streams/topology';
import { applyTopology } from '../streams/topology-apply';
import { retrying, sendAcked, SINK_ONLY, storedIds, within } from './nats-node-lost';
import { allDrained, dispose, healthy, instance, start, stop } from './service';

export interface SecondSiteOptions {
  events: number;
  seed?: number;
  /** Publishes per second. Default 1000. */
  ratePerSecond?: number;
  /**
   * The one-node witness cluster (default true). Without it the meta group is 3 + 3 and losing site1
   * leaves site2 without a JetStream quorum: the promotion cannot happen (the scenario fails).
   */
  witness?: boolean;
  /** Consecutive failed looks at site1's stream (every 250 ms) before failing over. Default 3. */
  failAfter?: number;
  /** What to wait for at the end: every consumer at site2 (default) or the ClickHouse sink only. */
  drain?: 'all' | 'sink';
  log?: (line: string) => void;
}

export interface SecondSiteFigures {
  scenario: 'second site';
  sent: number;
  acked: { site1: number; site2: number };
  /** Distinct events of the producer stored by the site2 pipeline. */
  storedSite2: number;
  /** Events acked by site1 that never reached site2: the recovery point, in events. */
  lostInFlight: number;
  /** Acked at site2 but not stored there (must be 0). */
  lostAfterFailover: number;
  /**
   * Rows stored at site2 beyond one per event, before any merge. A publish retried across the switch
   * can be stored twice in the promoted stream (seen once in about ten runs: the promoted mirror did
   * not drop a retried id it had received by mirroring); ClickHouse's ReplacingMergeTree keeps one.
   */
  duplicated: number;
  /** The same after the merge (`FINAL`, what every query and view reads): must be 0. */
  duplicatedFinal: number;
  /** Acks at site2 that said duplicate: a retried event the promoted mirror already had. */
  duplicateAcks: number;
  abandoned: number;
  /** Events the mirror was behind at the last look before the loss. */
  mirrorLagBeforeLoss: number;
  /** Oldest lost event's ack -> the loss: how far back the recovery point reaches, ms (0: none lost). */
  rpoMs: number;
  /** Loss -> ... (ms): seen by the watcher, mirror promoted, first event acked at site2 (the RTO), site2 pipeline healthy, drained. */
  rto: {
    detectedMs: number;
    promotedMs: number;
    publishMs: number;
    serviceHealthyMs: number;
    drainedMs: number;
  };
  publishRetries: { sdk: number; scenario: number };
  publishErrors: Record<string, number>;
  /** Meta group: its size and the leader before and after the loss. */
  meta: { size: number; leaderBefore: string; leaderAfter: string };
  seconds: number;
}

interface MetaInfo {
  leader?: string;
  cluster_size?: number;
}

async function metaInfo(monitorUrl: string): Promise<MetaInfo> {
  const res = await fetch(`${monitorUrl}/jsz`, { signal: AbortSignal.timeout(2000) });
  const body = (await res.json()) as { meta_cluster?: MetaInfo };
  return body.meta_cluster ?? {};
}

/** Whether a stream answers its info request within 1 s (a fast manager: `timeout` 1000). */
async function answers(jsm: JetStreamManager, stream: string): Promise<boolean> {
  try {
    const si = await jsm.streams.info(stream);
    return si.cluster?.leader !== undefined;
  } catch {
    return false;
  }
}

/** Scenario B: see the header. */
export async function secondSite(opts: SecondSiteOptions): Promise<SecondSiteFigures> {
  const log = opts.log ?? (() => undefined);
  const t0 = Date.now();
  const producerId = 'second-site-producer';
  const witness = opts.witness ?? true;
  const cluster = await startTestNatsCluster({
    clusters: [
      { name: 'site1', size: 3 },
      { name: 'site2', size: 3 },
      // a vote in the meta group, no streams (none is placed there): a small store is enough
      ...(witness ? [{ name: 'witness', size: 1, config: 'jetstream { max_file_store: 64MB }' }] : []),
    ],
  });
  const site1 = await instance(cluster.url('site1'), 'site1', { NATS_REPLICAS: '3' });
  const site2 = await instance(cluster.url('site2'), 'site2', { NATS_REPLICAS: '3' });
  const n1 = names(site1.config.nats.prefix);
  const n2 = names(site2.config.nats.prefix);
  const producers: Producer[] = [];
  let watching = true;
  // each connection only to its own site, as an application in that data centre would have
  const nc1 = await connectNats(site1.config.nats, 'chaos-site1', { noAsyncTraces: true });
  const nc2 = await connectNats(site2.config.nats, 'chaos-site2', { noAsyncTraces: true });
  // the producers' connections, owned here so that they are closed even while their site is down
  const pc1 = await connectNats(site1.config.nats, 'chaos-producer-site1', { noAsyncTraces: true });
  const pc2 = await connectNats(site2.config.nats, 'chaos-producer-site2', { noAsyncTraces: true });
  try {
    const jsm1 = await nc1.jetstreamManager();
    const jsm2 = await nc2.jetstreamManager();
    const watcher = await nc2.jetstreamManager({ timeout: 1000 });
    // with no placement a stream goes to the cluster of the server the request came through: site1
    await retrying(() => applyTopology(jsm1, site1.config));
    const placed = (await jsm1.streams.info(n1.eventsStream)).cluster?.name;
    if (placed !== 'site1') throw new Error(`${n1.eventsStream} was placed in ${placed}, not site1`);
    // site2: a mirror of site1's events stream, with p2's name and p2's subjects (a stream's name and
    // subjects are unique in the whole super-cluster, so the standby cannot have p1's)
    const { subjects: _subjects, ...events2 } = streamConfigs(site2.config.nats)[0]!;
    await jsm2.streams.add({
      ...events2,
      description: `standby of ${n1.eventsStream} (site1); promoted on failover`,
      placement: { cluster: 'site2', tags: [] },
      mirror: {
        name: n1.eventsStream,
        subject_transforms: [{ src: n1.eventsSubjectAll, dest: n2.eventsSubjectAll }],
      },
    });
    start(site1);
    await healthy(site1);
    const p1 = await createProducer({
      nats: site1.config.nats,
      shopId: 'chaos-shop',
      producerId,
      connection: pc1,
      maxInFlight: 500,
      publishTimeoutMs: 2000,
      // as the HTTP collector does: a publish is answered within a few seconds, acked or failed
      maxPublishMs: 3000,
    });
    producers.push(p1);
    let active = { site: 'site1', producer: p1 };
    const events = simulatedEvents(opts.events, opts.seed ?? 13);
    const progress = { acked: 0 };
    log(`${events.length} events to site1 (${n1.eventsStream}), mirrored to site2 (${n2.eventsStream})`);
    const sending = sendAcked(events, {
      producer: () => active,
      concurrency: 200,
      ratePerSecond: opts.ratePerSecond ?? 1000,
      deadlineMs: 600_000,
      progress,
    });
    let sendFailed: Error | undefined;
    sending.catch((err: unknown) => (sendFailed = err instanceof Error ? err : new Error(String(err))));

    // the watcher: looks at site1's stream from site2 every 250 ms, fails over after `failAfter` misses
    let mirrorLag = 0;
    let detectedAt = 0;
    const failAfter = opts.failAfter ?? 3;
    const watch = (async () => {
      let misses = 0;
      while (watching && detectedAt === 0) {
        const ok = await answers(watcher, n1.eventsStream);
        misses = ok ? 0 : misses + 1;
        if (misses >= failAfter) detectedAt = Date.now();
        else if (ok)
          mirrorLag = await watcher.streams.info(n2.eventsStream).then(
            (si) => si.mirror?.lag ?? 0,
            () => mirrorLag,
          );
        await sleep(250);
      }
    })();

    while (progress.acked < events.length * 0.4) {
      if (sendFailed !== undefined) throw sendFailed;
      await sleep(50);
    }
    const leaderBefore = (await metaInfo(cluster.nodes[0]!.monitorUrl)).leader ?? '';
    // site1 lost: its three servers and its pipeline service, at once
    site1.child?.kill('SIGKILL');
    await cluster.stopAll('SIGKILL', 'site1');
    const lostAt = Date.now();
    log(`site1 lost at ${progress.acked} acks (meta leader was ${leaderBefore}, mirror lag ${mirrorLag})`);

    while (detectedAt === 0) await sleep(20);
    await watch;
    log(`site1's stream unanswered for ${failAfter} looks: failing over after ${detectedAt - lostAt} ms`);
    // promotion: the mirror configuration removed (nats-server 2.12+), p2's subjects given; the meta
    // group must have a leader for this, which it has only with a quorum outside site1
    try {
      await retrying(
        () =>
          jsm2.streams.update(n2.eventsStream, {
            mirror: undefined,
            subjects: [n2.eventsSubjectAll],
          } as Partial<StreamUpdateConfig>),
        60_000,
      );
    } catch (err) {
      throw new Error(
        `could not promote ${n2.eventsStream} at site2 within 60 s (${(err as Error).message}): ${
          witness ? '' : 'without the witness, the JetStream meta group has no quorum once site1 is gone'
        }`,
        { cause: err },
      );
    }
    const promotedAt = Date.now();
    const p2 = await createProducer({
      nats: site2.config.nats,
      shopId: 'chaos-shop',
      producerId,
      connection: pc2,
      maxInFlight: 500,
      publishTimeoutMs: 2000,
      maxPublishMs: 3000,
    });
    producers.push(p2);
    active = { site: 'site2', producer: p2 };
    log(`promoted in ${promotedAt - detectedAt} ms; the producer publishes to site2`);
    await retrying(() => applyTopology(jsm2, site2.config));
    start(site2);
    await healthy(site2, 120_000);
    const serviceHealthyAt = Date.now();
    const leaderAfter = (await metaInfo(cluster.node('site2-n1').monitorUrl)).leader ?? '';
    const meta = (await metaInfo(cluster.node('site2-n1').monitorUrl)).cluster_size ?? 0;

    const ledger = await sending;
    await allDrained(jsm2, [site2], 300_000, opts.drain === 'sink' ? SINK_ONLY : undefined);
    const drainedAt = Date.now();
    const stored = await storedIds(site2, producerId);
    const rows = [...stored.values()].reduce((a, b) => a + b, 0);
    const [final] = await site2.sql.query<{ n: string | number }>(
      `SELECT count() AS n FROM ${site2.config.clickhouse.database}.events FINAL WHERE producer_id = '${producerId}'`,
    );
    const finalRows = Number(final?.n ?? 0);
    const bySite = (s: string) => ledger.acks.filter((a) => a.site === s);
    const lost1 = bySite('site1').filter((a) => !stored.has(a.eventId));
    const firstAck2 = Math.min(...bySite('site2').map((a) => a.at));
    return {
      scenario: 'second site',
      sent: ledger.sent,
      acked: { site1: bySite('site1').length, site2: bySite('site2').length },
      storedSite2: stored.size,
      lostInFlight: lost1.length,
      lostAfterFailover: bySite('site2').filter((a) => !stored.has(a.eventId)).length,
      duplicated: rows - stored.size,
      duplicatedFinal: finalRows - stored.size,
      duplicateAcks: bySite('site2').filter((a) => a.duplicate).length,
      abandoned: ledger.abandoned.length,
      mirrorLagBeforeLoss: mirrorLag,
      rpoMs: lost1.length === 0 ? 0 : lostAt - Math.min(...lost1.map((a) => a.at)),
      rto: {
        detectedMs: detectedAt - lostAt,
        promotedMs: promotedAt - lostAt,
        publishMs: firstAck2 - lostAt,
        serviceHealthyMs: serviceHealthyAt - lostAt,
        drainedMs: drainedAt - lostAt,
      },
      publishRetries: {
        sdk: producers.reduce((a, p) => a + p.stats().retries, 0),
        scenario: ledger.retried,
      },
      publishErrors: ledger.errors,
      meta: { size: meta, leaderBefore, leaderAfter },
      seconds: Math.round((Date.now() - t0) / 1000),
    };
  } finally {
    watching = false;
    await Promise.all(producers.map((p) => within(p.close(), 10_000)));
    await stop(site1.child);
    await Promise.all([dispose(site1), dispose(site2)]);
    await Promise.all([nc1, nc2, pc1, pc2].map((nc) => nc.close().catch(() => undefined)));
    await cluster.dispose();
  }
}

/** What went wrong (empty: nothing lost after the switch nor doubled; the recovery point is a figure). */
export function secondSiteProblems(f: SecondSiteFigures): string[] {
  const p: string[] = [];
  if (f.lostAfterFailover > 0) p.push(`${f.lostAfterFailover} events acked at site2 not stored`);
  if (f.duplicatedFinal > 0) p.push(`${f.duplicatedFinal} events stored twice`);
  if (f.abandoned > 0) p.push(`${f.abandoned} events never acked`);
  return p;
}
