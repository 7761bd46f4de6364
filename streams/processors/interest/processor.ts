// The interest processor: one durable consumer per partition, each partition's messages handled one
// batch at a time and one user's events in stream order. A batch is applied to the users' states in
// memory (coalesced: a busy user costs one KV write per batch, not one per event), written with
// compare-and-set, and acked only after every write of the batch succeeded.
//
// Scale out by giving instances different partitions (INTEREST_PARTITIONS). Instances that share a
// partition (a hand-over, or on purpose) are safe too: JetStream splits its messages between them, a
// write that loses the compare-and-set reloads the user's state and re-applies the batch's events for
// that user, and the per-user watermark (model.ts) skips what the other instance already applied.
//
// Tier changes (tier-changes.ts): an event that moves its user to another value tier is recorded in
// the state with the write, then published as a tier_changed event (awaiting JetStream's ack) before
// the batch is acked. A message redelivered after the write is skipped by the watermark, but the tier
// change it caused is published again with the same event id (dropped as a duplicate). Only the
// instance handling the causing message publishes it, so a lost compare-and-set that re-applies the
// events of another instance publishes nothing twice. tier_changed events come back on this
// processor's own consumers: they are acked and ignored (model.ts IGNORED_EVENT_TYPES).
//
// Poison isolation: an event that fails validation (the ClickHouse sink dead-letters it) or is dated
// more than FUTURE_TOLERANCE_MS after it reached JetStream (model.ts) is acked and not applied. When
// one user's events cannot be stored for a reason that retrying will not fix (the state too large
// even trimmed, a state that does not decode, a KV error other than "unavailable"), that user's
// events of the batch are dead-lettered (reason processing_failed, one dead letter per stream
// sequence) and acked, and the rest of the batch goes on. A transient error (NATS unavailable or
// slow, compare-and-set lost too often) fails the batch as before: nak'd, redelivered, and the
// per-user watermark skips what was applied.
//
// Here: the batch step, run by the shared batch runner (streams/consumer/batch-runner.ts: fetch per
// partition, ack or dead-letter by the step's results); failures.ts says which errors are retried.
import type { Consumer, JsMsg, NatsConnection } from 'nats';
import type { Catalog } from '../../../catalog/types';
import type { Config } from '../../../infra/config';
import type { Logger } from '../../../infra/logger';
import type { Metrics } from '../../../infra/metrics';
import { sleep } from '../../../infra/sleep';
import { decodeEnvelope } from '../../../schemas/codec';
import { validateEnvelope } from '../../../schemas/validate';
import { createBatchRunner, type BatchResult } from '../../consumer/batch-runner';
import type { LeaseGate } from '../../consumer/leases';
import { dlq, drop, ok } from '../../results';
import type { EnvelopeInit } from '../../../schemas/events';
import { createProducer } from '../../producer/producer';
import { interestConsumer, names, parsePartitions, userKey } from '../../topology';
import { checkTopology } from '../../topology-apply';
import { advanceFloor, halfLivesOf, IGNORED_EVENT_TYPES, isTooFarAhead, type TierChange } from './model';
import { openProfileStore, type Changed, type Loaded, type ProfileStore } from './store';
import { applyAndTrackTier, INTEREST_PRODUCER_ID, tierChangedEnvelope, tierChangesFor } from './tier-changes';
import {
  interestDeadLetterId,
  isTransientError,
  ProcessorError,
  UnstorableProfileError,
  type Item,
} from './failures';

export { interestDeadLetterId, isTransientError, ProcessorError, UnstorableProfileError } from './failures';

export interface InterestStats {
  batches: number;
  applied: number;
  skippedDuplicates: number;
  undecodable: number;
  /** Events the model does not apply (tier_changed, our own output), acked and skipped. */
  ignored: number;
  /** Events that fail validation (dead-lettered by the ClickHouse sink), acked and skipped. */
  invalid: number;
  /** Events dated too far after they reached JetStream (model.ts FUTURE_TOLERANCE_MS), acked and skipped. */
  future: number;
  /** Events dead-lettered because their user's profile could not be stored (non-transient error). */
  deadLettered: number;
  writes: number;
  conflicts: number;
  /** tier_changed publishes, including again for a redelivered causing message. */
  tierChangesPublished: number;
}

export interface InterestProcessor {
  run(): Promise<void>;
  stop(): Promise<void>;
  stats(): InterestStats;
  /** Users changed since the last call (for snapshots). */
  takeChanged(): Map<string, Changed>;
  /** How many users takeChanged would return now. */
  changedCount(): number;
  /** Puts back what takeChanged returned when its snapshot failed; a newer change of a user wins. */
  restoreChanged(m: Map<string, Changed>): void;
  readonly store: ProfileStore;
}

const MAX_CAS_RETRIES = 20;
/** How old a partition's ack floor may be when a batch uses it (advanceFloor). */
const ACK_FLOOR_MAX_AGE_MS = 1000;
/**
 * Changed users kept for the next snapshot at most (each as the bytes written, store.ts Changed): the snapshots
 * component takes them early when they pass SNAPSHOT_EARLY_AT; a process without snapshots (no sink)
 * stops tracking beyond this, so its memory stays bounded (profiles are in KV all the same).
 */
export const MAX_CHANGED = 20_000;
/** Users written at once: compare-and-set writes in flight (each a JetStream publish awaiting its ack). */
const WRITE_CONCURRENCY = 128;

/**
 * Runs task(0..n-1) with at most `limit` at once, each started as soon as one ends (not in waves that
 * wait for their slowest); rejects with the first failure after the running ones settled.
 */
async function eachLimited(n: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | undefined;
  const lane = async (): Promise<void> => {
    while (next < n && !failure) {
      const i = next++;
      try {
        await task(i);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, lane));
  if (failure) throw failure.err;
}

export async function createInterestProcessor(deps: {
  nc: NatsConnection;
  config: Config;
  catalog: Catalog;
  logger: Logger;
  /** Defaults to config.interest.partitions. */
  partitions?: number[];
  metrics?: Metrics;
  /**
   * Publishes a tier_changed event and resolves once JetStream acked it (Nats-Msg-Id = event_id).
   * Default: a producer on `nc`. Tests wrap it to fail around the publish.
   */
  publish?: (envelope: EnvelopeInit) => Promise<unknown>;
  /** With several instances: consume only the consumers this one holds (streams/consumer/leases.ts). */
  leases?: LeaseGate;
  /** Default: openProfileStore on the profiles bucket. */
  store?: ProfileStore;
}): Promise<InterestProcessor> {
  const metrics = deps.metrics;
  const { nc, config, catalog, logger } = deps;
  const n = names(config.nats.prefix);
  const partitions = deps.partitions ?? parsePartitions(config.interest.partitions, config.nats.partitions);
  await checkTopology(await nc.jetstreamManager(), config, {
    consumers: partitions.map((p) => ({ stream: n.eventsStream, name: interestConsumer(p) })),
    buckets: [n.profilesBucket],
  });
  const store = deps.store ?? (await openProfileStore(nc, n.profilesBucket, catalog.features));
  const producer = deps.publish
    ? undefined
    : await createProducer({
        nats: config.nats,
        shopId: '',
        producerId: INTEREST_PRODUCER_ID,
        connection: nc,
      });
  const publish = deps.publish ?? ((envelope: EnvelopeInit) => producer!.publish(envelope));
  const halfLives = halfLivesOf(config.interest);
  const stats: InterestStats = {
    batches: 0,
    applied: 0,
    skippedDuplicates: 0,
    undecodable: 0,
    ignored: 0,
    invalid: 0,
    future: 0,
    deadLettered: 0,
    writes: 0,
    conflicts: 0,
    tierChangesPublished: 0,
  };
  let changed = new Map<string, Changed>();
  let stopping = false;

  /** The items that changed the state (the others were applied before). */
  function applyAll(loaded: Loaded, items: Item[]): Item[] {
    return items.filter(
      (it) =>
        applyAndTrackTier(
          loaded.state,
          it.e,
          it.type,
          it.m.seq,
          catalog,
          halfLives,
          config.tiers,
          it.arrivedAt,
        ).applied,
    );
  }

  /**
   * Applies one user's events of a batch and writes the state, retrying on a lost compare-and-set.
   * Returns the tier changes these messages caused (now, or when they were applied before a crash).
   * A write that fails for good throws UnstorableProfileError naming the events it would have applied
   * (those already stored, by us before a crash or by another instance, are not among them).
   */
  async function applyUser(
    shopId: string,
    key: string,
    items: Item[],
    ackFloor: number,
    /** The state read with the batch's others (store.loadMany), for the first attempt. */
    preloaded?: Loaded | Error,
  ): Promise<TierChange[]> {
    const seqs = new Set(items.map((it) => it.m.seq));
    for (let attempt = 0; attempt < MAX_CAS_RETRIES; attempt++) {
      if (preloaded instanceof Error) throw preloaded; // does not decode: as load() would throw
      const loaded = preloaded ?? (await store.load(shopId, key));
      preloaded = undefined; // a lost compare-and-set reads it again
      advanceFloor(loaded.state, ackFloor);
      const fresh = applyAll(loaded, items);
      const applied = fresh.length;
      if (applied === 0) {
        stats.skippedDuplicates += items.length; // applied before: by us before a crash, or another instance
        metrics?.interestEvents.inc({ result: 'duplicate' }, items.length);
        return tierChangesFor(loaded.state, seqs);
      }
      let written: Changed | undefined;
      try {
        written = await store.saveEncoded(loaded);
      } catch (err) {
        if (isTransientError(err)) throw err;
        throw new UnstorableProfileError(fresh, items.length - applied, err);
      }
      if (written !== undefined) {
        stats.writes++;
        stats.applied += applied;
        stats.skippedDuplicates += items.length - applied;
        metrics?.interestEvents.inc({ result: 'applied' }, applied);
        if (items.length > applied)
          metrics?.interestEvents.inc({ result: 'duplicate' }, items.length - applied);
        metrics?.interestWrites.inc({ result: 'ok' });
        const k = `${shopId}\u0000${key}`;
        if (changed.size < MAX_CHANGED || changed.has(k)) changed.set(k, written);
        return tierChangesFor(loaded.state, seqs);
      }
      stats.conflicts++;
      metrics?.interestWrites.inc({ result: 'conflict' });
      await sleep(Math.random() * 5 * (attempt + 1));
    }
    throw new ProcessorError(
      `a profile kept changing under us (${MAX_CAS_RETRIES} compare-and-set conflicts)`,
    );
  }

  /** Why one user's events cannot be applied (not transient): their dead letters' detail. */
  function unstorableDetail(shopId: string, events: number, err: unknown): string {
    const e = err as { name?: string; code?: string | number; message?: string };
    const code = typeof e?.code === 'string' || typeof e?.code === 'number' ? ` ${e.code}` : '';
    logger.error(
      { err: e?.message, code: e?.code, name: e?.name, shopId, events },
      "interest: a user's profile could not be stored; their events of the batch are dead-lettered",
    );
    return `interest profile could not be stored: ${e?.name ?? 'Error'}${code}: ${e?.message ?? String(err)}`;
  }

  /** One result per message: applied or skipped (ok), not for this model (drop), or dead-lettered. */
  async function handleBatch(msgs: readonly JsMsg[], ackFloor: number): Promise<BatchResult<'applied'>[]> {
    const started = performance.now();
    const results = new Map<JsMsg, BatchResult<'applied'>>();
    const skip = (m: JsMsg, why: string): void => void results.set(m, drop(why));
    const byUser = new Map<string, { shopId: string; key: string; items: Item[] }>();
    for (const m of msgs) {
      const d = decodeEnvelope(m.data);
      if (!d.ok) {
        stats.undecodable++; // the ClickHouse sink dead-letters it; nothing to learn from it here
        metrics?.interestEvents.inc({ result: 'undecodable' });
        skip(m, 'undecodable');
        continue;
      }
      if (IGNORED_EVENT_TYPES.has(d.type)) {
        stats.ignored++; // our own tier_changed coming back: acked with the batch, never applied
        metrics?.interestEvents.inc({ result: 'ignored' });
        skip(m, 'our own output');
        continue;
      }
      if (validateEnvelope(d.envelope).length > 0) {
        stats.invalid++; // the ClickHouse sink dead-letters it with its issues; nothing to apply
        metrics?.interestEvents.inc({ result: 'invalid' });
        skip(m, 'invalid');
        continue;
      }
      const arrivedAt = m.info.timestampNanos / 1e6;
      if (isTooFarAhead(d.envelope.occurredAt, arrivedAt)) {
        stats.future++; // would freeze the profile (model.ts); the sink dead-letters it
        metrics?.interestEvents.inc({ result: 'future' });
        logger.warn(
          { seq: m.seq, occurredAt: d.envelope.occurredAt, arrivedAt },
          'interest: event dated too far after it reached JetStream; not applied',
        );
        skip(m, 'dated in the future');
        continue;
      }
      const key = userKey(d.envelope);
      const id = `${d.envelope.shopId}\u0000${key}`;
      let u = byUser.get(id);
      if (!u) byUser.set(id, (u = { shopId: d.envelope.shopId, key, items: [] }));
      u.items.push({ m, e: d.envelope, type: d.type, arrivedAt });
    }
    const users = [...byUser.values()];
    // every user's state with one request per 1,000 (a lost compare-and-set reads its user again)
    const preloaded = await store.loadMany(users.map((u) => ({ shopId: u.shopId, userKey: u.key })));
    await eachLimited(users.length, WRITE_CONCURRENCY, async (i) => {
      const u = users[i]!;
      let changes: TierChange[];
      try {
        changes = await applyUser(u.shopId, u.key, u.items, ackFloor, preloaded[i]);
      } catch (err) {
        if (stopping || isTransientError(err)) throw err; // the whole batch is retried
        // a state that cannot be written: the events it would have applied; one that cannot be
        // read (does not decode): all of them, nothing is known to be applied
        const unstorable = err instanceof UnstorableProfileError;
        if (unstorable) stats.skippedDuplicates += err.alreadyApplied;
        const pending = unstorable ? err.pending : u.items;
        const detail = unstorableDetail(u.shopId, pending.length, unstorable ? err.cause : err);
        for (const it of u.items) results.set(it.m, ok('applied')); // applied before
        for (const it of pending) results.set(it.m, dlq('processing_failed', detail));
        return;
      }
      for (const it of u.items) results.set(it.m, ok('applied'));
      // one user's changes in order; each acked by JetStream before the next, and before our ack
      for (const c of changes) {
        await publish(tierChangedEnvelope(u.shopId, c));
        stats.tierChangesPublished++;
      }
    });
    // acked by the runner after every state of the batch is durable and its tier changes published
    stats.batches++;
    metrics?.interestBatchSeconds.observe((performance.now() - started) / 1000);
    return msgs.map((m) => results.get(m)!);
  }

  const ackFloors = new Map<Consumer, { floor: number; at: number }>();
  const runner = createBatchRunner<'applied'>({
    nc,
    prefix: config.nats.prefix,
    stream: n.eventsStream,
    consumers: partitions.map((p) => interestConsumer(p)),
    label: 'interest',
    logger,
    ...(deps.leases ? { leases: deps.leases } : {}),
    batchSize: config.interest.batchSize,
    expiresMs: 1000,
    // a batch is what is pending: at a moderate rate an event waits for no batch to fill
    fetchPending: true,
    async step(msgs, { consumer }) {
      // read before applying: everything at or below it is acked, hence stored (see advanceFloor).
      // One read a second per partition: an older floor is lower, so still true (a request per batch
      // was a third of the round trips at a moderate rate, when batches are small)
      const known = ackFloors.get(consumer);
      let ackFloor = known?.floor ?? 0;
      if (!known || performance.now() - known.at > ACK_FLOOR_MAX_AGE_MS) {
        ackFloor = (await consumer.info(false)).ack_floor.stream_seq;
        ackFloors.set(consumer, { floor: ackFloor, at: performance.now() });
      }
      return handleBatch(msgs, ackFloor);
    },
    deadLetterId: (m) => interestDeadLetterId(m.seq),
    settled(r) {
      if (r.kind !== 'dlq') return;
      stats.deadLettered++;
      metrics?.interestEvents.inc({ result: 'dead_lettered' });
    },
    // not acked: JetStream redelivers them, and the watermark skips what was applied
    nakDelayMs: 2000,
  });

  return {
    store,
    run: () => runner.run(),
    async stop(): Promise<void> {
      stopping = true;
      await runner.stop();
      await producer?.close(); // flushes; the connection is the caller's
    },
    stats: () => ({ ...stats }),
    takeChanged(): Map<string, Changed> {
      const out = changed;
      changed = new Map();
      return out;
    },
    changedCount: () => changed.size,
    restoreChanged(m: Map<string, Changed>): void {
      for (const [k, l] of m) if (!changed.has(k)) changed.set(k, l);
    },
  };
}
