// The machine's raw limits, measured with the pipeline's own pieces (client library, stream, subjects,
// message sizes, buckets, table, batch size) but none of its logic, so `make bench` can set the
// pipeline's figures next to what the machine could do at best:
//  - raw_publish_per_s: the simulated shop's events (bench/common.ts simulatedEvents), each encoded as
//    the producer SDK encodes it (trackEnvelope + encodeEnvelope, its Content-Type header, subject
//    <prefix>.events.<partition>.<type>, Nats-Msg-Id = event id, expect the events stream), published
//    with nc.jetstream().publish and 1,000 acks in flight: no SDK (its own rate is bench/ingest.ts).
//  - raw_consume_per_s: a durable pull consumer configured as the ClickHouse sink's (explicit ack,
//    its max_ack_pending and redelivery), fetched in the sink's batch size, every message acked, the
//    acks flushed per batch as the sink does; timed until the consumer's ack floor covers them all.
//  - kv_cas_updates_per_s: get + update(key, value, revision) on the profiles bucket the topology
//    creates, 64 in flight, one update per event over the simulated users' keys; the values are real
//    interest profile states (each user's events applied as the interest processor applies them,
//    encoded with state-codec.ts encodeState).
//  - clickhouse_insert_rows_per_s: the events table's rows as the sink builds them (steps.ts
//    messageToRow on the published bytes), inserted into embedded ClickHouse in the sink's batch size
//    (SINK_BATCH_SIZE default), cut by partition group, each insert with the sink's dedup token.
// Phases run one after another (NATS on a throwaway nats-server, then a throwaway embedded ClickHouse),
// each timed alone. The driver is bench/limits-run.ts.
import { headers, type JetStreamClient, type NatsConnection } from 'nats';
import { loadCatalog } from '../catalog';
import type { Config } from '../infra/config';
import { loadConfig } from '../infra/config';
import { isKvConflict } from '../infra/nats';
import { startTestClickHouse } from '../infra/stack/test-clickhouse';
import { testConfig } from '../infra/stack/test-config';
import { decodeEnvelope, encodeEnvelope } from '../schemas/codec';
import { payloadTypeOf, type Envelope, type EventType } from '../schemas/events';
import {
  advanceFloor,
  emptyState,
  halfLivesOf,
  type ProfileState,
} from '../streams/processors/interest/model';
import { encodeState } from '../streams/processors/interest/state-codec';
import { profileKey } from '../streams/processors/interest/store';
import { applyAndTrackTier } from '../streams/processors/interest/tier-changes';
import { trackEnvelope } from '../streams/producer/producer';
import type { EventRow } from '../streams/sinks/clickhouse/rows';
import { insertDedupToken } from '../streams/sinks/clickhouse/batch';
import { messageToRow } from '../streams/sinks/clickhouse/steps';
import { byPartitionGroups } from '../streams/sinks/clickhouse/store';
import { consumerConfigs, eventSubject, names, partitionOf, userKey } from '../streams/topology';
import { onThrowawayNats, simulatedEvents } from './common';

export interface LimitsFigures {
  raw_publish_per_s: number; // JetStream async publish, acks in flight, with message ids (Nats-Msg-Id), the pipeline's own stream, subjects and message sizes
  raw_consume_per_s: number; // raw pull consume + ack of those messages (a durable pull consumer like the sink's: explicit ack, batches)
  kv_cas_updates_per_s: number; // JetStream KV compare-and-set updates (get + update(key, value, revision)) on a bucket configured like the profiles bucket, values the size of real profile states
  clickhouse_insert_rows_per_s: number; // embedded ClickHouse insert of the pipeline's rows (the events table's rows as the sink builds them), in the sink's batch size
  message_bytes: { p50: number; max: number }; // of the encoded envelopes used
}

/** Publishes awaiting their JetStream ack at once (the producer SDK's default window). */
const PUBLISH_IN_FLIGHT = 1000;
/** KV get + update pairs in flight at once. */
const KV_IN_FLIGHT = 64;
const SHOP_ID = 'bench';
const PRODUCER_ID = 'bench-limits';
const RAW_CONSUMER = 'bench_limits_raw';

/** One event as the producer would send it, and what the stream answered. */
interface Message {
  subject: string;
  data: Uint8Array;
  msgId: string;
  /** Stream sequence, from the publish ack. */
  seq: number;
  /** When the ack came (epoch ms): stands for the message's JetStream time. */
  arrivedAt: number;
}

/** Runs `task(0..count-1)` with at most `concurrency` of them in flight. */
async function inFlight(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, () => worker()));
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const perSecond = (count: number, ms: number): number => Math.round(count / (ms / 1000));

/** The simulated shop's events, encoded and routed exactly as the producer SDK's track() does. */
function encodeEvents(count: number, partitions: number, prefix: string): Message[] {
  return simulatedEvents(count, 11).map((e, i) => {
    const envelope = trackEnvelope(e.type, e.input, {
      shopId: SHOP_ID,
      producerId: PRODUCER_ID,
      sequence: i + 1,
    });
    const type = payloadTypeOf(envelope)!;
    return {
      subject: eventSubject(prefix, partitionOf(envelope.shopId!, userKey(envelope), partitions), type),
      data: encodeEnvelope(envelope),
      msgId: envelope.eventId!,
      seq: 0,
      arrivedAt: 0,
    };
  });
}

async function rawPublish(js: JetStreamClient, stream: string, msgs: Message[]): Promise<number> {
  let duplicates = 0;
  const t0 = performance.now();
  await inFlight(msgs.length, PUBLISH_IN_FLIGHT, async (i) => {
    const m = msgs[i]!;
    const h = headers();
    h.set('Content-Type', 'application/x-protobuf; proto=shopstream.events.v1.Envelope');
    const ack = await js.publish(m.subject, m.data, {
      msgID: m.msgId,
      expect: { streamName: stream },
      headers: h,
      timeout: 30_000, // a busy machine: a slow ack is measured, not failed
    });
    if (ack.duplicate) duplicates++;
    m.seq = ack.seq;
    m.arrivedAt = Date.now();
  });
  const ms = performance.now() - t0;
  if (duplicates > 0) throw new Error(`${duplicates} publishes were duplicates: event ids are not unique`);
  return ms;
}

async function rawConsume(nc: NatsConnection, config: Config, expected: number): Promise<number> {
  const n = names(config.nats.prefix);
  const sink = consumerConfigs(config).find((c) => c.config.durable_name === n.sinkConsumer);
  if (!sink) throw new Error(`no ${n.sinkConsumer} consumer in the topology`);
  const jsm = await nc.jetstreamManager();
  await jsm.consumers.add(n.eventsStream, {
    ...sink.config,
    durable_name: RAW_CONSUMER,
    description: 'bench/limits.ts: raw consume + ack, configured as the ClickHouse sink',
  });
  const consumer = await nc.jetstream().consumers.get(n.eventsStream, RAW_CONSUMER);
  const lastSeq = (await jsm.streams.info(n.eventsStream)).state.last_seq;
  let received = 0;
  const t0 = performance.now();
  while (received < expected) {
    const batch = await consumer.fetch({
      // the last fetch asks for what is left: waiting out `expires` for more would be idle time
      max_messages: Math.min(config.sink.batchSize, expected - received),
      expires: Math.max(1000, config.sink.flushMs),
    });
    for await (const m of batch) {
      m.ack();
      received++;
    }
    await nc.flush(); // as the sink: the batch's acks are on the wire before the next fetch
  }
  // done when the server has every ack: the ack floor at the stream's last message
  for (;;) {
    const info = await consumer.info();
    if (info.ack_floor.stream_seq >= lastSeq && info.num_ack_pending === 0) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const ms = performance.now() - t0;
  await jsm.consumers.delete(n.eventsStream, RAW_CONSUMER);
  return ms;
}

/** Each simulated user's profile state after all their events, as the interest processor builds it. */
function profileStates(msgs: readonly Message[], config: Config): ProfileState[] {
  const catalog = loadCatalog();
  const halfLives = halfLivesOf(config.interest);
  const byUser = new Map<string, { state: ProfileState; lastSeq: number }>();
  for (const m of [...msgs].sort((a, b) => a.seq - b.seq)) {
    const d = decodeEnvelope(m.data);
    if (!d.ok) throw new Error(`message ${m.seq} does not decode: ${d.detail}`);
    const e: Envelope = d.envelope;
    const key = userKey(e);
    const id = `${e.shopId}\u0000${key}`;
    let u = byUser.get(id);
    if (!u) byUser.set(id, (u = { state: emptyState(e.shopId, key, catalog.features.size), lastSeq: 0 }));
    // batch after batch, the user's earlier messages are acked by the time the next one is applied
    advanceFloor(u.state, u.lastSeq);
    const type: EventType = d.type;
    applyAndTrackTier(u.state, e, type, m.seq, catalog, halfLives, config.tiers, m.arrivedAt);
    u.lastSeq = m.seq;
  }
  return [...byUser.values()].map((u) => u.state);
}

async function kvCas(
  nc: NatsConnection,
  config: Config,
  msgs: readonly Message[],
  log: (l: string) => void,
): Promise<number> {
  const n = names(config.nats.prefix);
  const catalog = loadCatalog();
  const states = profileStates(msgs, config);
  const keys = states.map((s) => profileKey(s.shopId, s.userKey));
  const values = states.map((s) => encodeState(s, catalog.features));
  const sizes = values.map((v) => v.length).sort((a, b) => a - b);
  log(
    `  profile states: ${states.length} users, ${percentile(sizes, 50)} B p50, ${sizes[sizes.length - 1] ?? 0} B max`,
  );
  const kv = await nc.jetstream().views.kv(n.profilesBucket, { bindOnly: true });
  // every user has a profile before the timing: updates only, as for a returning user
  await inFlight(keys.length, KV_IN_FLIGHT, async (i) => {
    await kv.create(keys[i]!, values[i]!);
  });
  const updates = msgs.length; // one compare-and-set per event: the processor's worst case (no coalescing)
  let conflicts = 0;
  const t0 = performance.now();
  await inFlight(updates, KV_IN_FLIGHT, async (j) => {
    const i = j % keys.length;
    for (;;) {
      const entry = await kv.get(keys[i]!);
      if (!entry) throw new Error(`profile ${keys[i]} is missing`);
      try {
        await kv.update(keys[i]!, values[i]!, entry.revision);
        return;
      } catch (err) {
        if (!isKvConflict(err)) throw err;
        conflicts++; // another worker updated the same key in between: read again, as the processor does
      }
    }
  });
  const ms = performance.now() - t0;
  log(`  ${updates} compare-and-set updates over ${keys.length} keys, ${conflicts} conflicts retried`);
  return perSecond(updates, ms);
}

async function clickHouseInsert(
  rows: EventRow[],
  batchSize: number,
  log: (l: string) => void,
): Promise<number> {
  const chs = await startTestClickHouse();
  try {
    const table = `${chs.config.database}.events`;
    let inserts = 0;
    const t0 = performance.now();
    for (let i = 0; i < rows.length; i += batchSize) {
      const batch = rows.slice(i, i + batchSize).map((row) => ({ row }));
      for (const group of byPartitionGroups(batch)) {
        const values = group.map((g) => g.row);
        await chs.ch.insert({
          table,
          values,
          format: 'JSONEachRow',
          clickhouse_settings: { insert_deduplication_token: insertDedupToken(values) },
        });
        inserts++;
      }
    }
    const ms = performance.now() - t0;
    const rs = await chs.ch.query({ query: `SELECT count() AS n FROM ${table}`, format: 'JSONEachRow' });
    const [stored] = await rs.json<{ n: number | string }>();
    if (Number(stored?.n) !== rows.length)
      throw new Error(`ClickHouse holds ${String(stored?.n)} rows, ${rows.length} were inserted`);
    log(`  ${rows.length} rows in ${inserts} inserts of up to ${batchSize}`);
    return perSecond(rows.length, ms);
  } finally {
    await chs.stop();
  }
}

export async function measureLimits(opts: {
  events: number;
  log?: (l: string) => void;
}): Promise<LimitsFigures> {
  const log = opts.log ?? ((): void => undefined);
  // the tests' configuration (a random prefix), with 16 partitions and the service's own sink settings
  // (SINK_BATCH_SIZE 5000, its ack wait), not the tests' small ones
  const configOf = (url: string): Config => ({
    ...testConfig(url, { NATS_PARTITIONS: '16' }),
    sink: loadConfig({ LOG_LEVEL: 'silent' }).sink,
  });
  const nats = await onThrowawayNats({ name: 'bench-limits', config: configOf }, async ({ config, nc }) => {
    const n = names(config.nats.prefix);
    const msgs = encodeEvents(opts.events, config.nats.partitions, config.nats.prefix);
    const sizes = msgs.map((m) => m.data.length).sort((a, b) => a - b);
    log(`${msgs.length} events, ${percentile(sizes, 50)} B p50, ${sizes[sizes.length - 1] ?? 0} B max`);

    log(`raw publish (${PUBLISH_IN_FLIGHT} in flight) to ${n.eventsStream}`);
    const publishMs = await rawPublish(nc.jetstream(), n.eventsStream, msgs);
    log(`raw consume + ack (fetch ${config.sink.batchSize})`);
    const consumeMs = await rawConsume(nc, config, msgs.length);
    log(`KV compare-and-set on ${n.profilesBucket} (${KV_IN_FLIGHT} in flight)`);
    const kvRate = await kvCas(nc, config, msgs, log);

    // the rows the sink would make of these very messages (outside any timing)
    const rows: EventRow[] = [];
    for (const m of msgs) {
      const r = messageToRow(m.data, m.seq, m.arrivedAt);
      if (r.kind !== 'ok') throw new Error(`message ${m.seq} makes no row: ${JSON.stringify(r)}`);
      rows.push(r.value);
    }
    return {
      count: msgs.length,
      publishMs,
      consumeMs,
      kvRate,
      rows,
      batchSize: config.sink.batchSize,
      sizes,
    };
  });
  log(`ClickHouse insert (batches of ${nats.batchSize})`);
  const chRate = await clickHouseInsert(nats.rows, nats.batchSize, log);
  return {
    raw_publish_per_s: perSecond(nats.count, nats.publishMs),
    raw_consume_per_s: perSecond(nats.count, nats.consumeMs),
    kv_cas_updates_per_s: nats.kvRate,
    clickhouse_insert_rows_per_s: chRate,
    message_bytes: { p50: percentile(nats.sizes, 50), max: nats.sizes[nats.sizes.length - 1] ?? 0 },
  };
}
