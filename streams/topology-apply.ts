// Applying the topology (streams/topology.ts names everything): create or update every stream,
// consumer and bucket, and check at a process's start that what it needs exists, failing fast and
// naming what is missing.
import type { JetStreamManager, StreamConfig } from 'nats';
import type { Config } from '../infra/config';
import { isNotFound } from '../infra/nats';
import { consumerConfigs, KV_BUCKETS, names, streamConfigs, TopologyError } from './topology';

export { TopologyError };

/** Creates or updates every stream and consumer. Safe to run any number of times. */
export async function applyTopology(
  jsm: JetStreamManager,
  cfg: Config,
): Promise<{ created: string[]; updated: string[] }> {
  const created: string[] = [];
  const updated: string[] = [];
  for (const sc of streamConfigs(cfg.nats)) {
    try {
      const info = await jsm.streams.info(sc.name!);
      const current = info.config;
      const differs = (Object.keys(sc) as (keyof StreamConfig)[]).some(
        (k) => JSON.stringify(current[k]) !== JSON.stringify(sc[k]),
      );
      if (differs) {
        await jsm.streams.update(sc.name!, { ...current, ...sc });
        updated.push(sc.name!);
      }
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await jsm.streams.add(sc);
      created.push(sc.name!);
    }
  }
  for (const { stream, config } of consumerConfigs(cfg)) {
    try {
      await jsm.consumers.info(stream, config.durable_name!);
      await jsm.consumers.update(stream, config.durable_name!, {
        description: config.description,
        ack_wait: config.ack_wait,
        max_ack_pending: config.max_ack_pending,
        max_deliver: config.max_deliver,
        backoff: config.backoff ?? [],
        max_waiting: config.max_waiting,
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await jsm.consumers.add(stream, config);
      created.push(`${stream}/${config.durable_name!}`);
    }
  }
  created.push(...(await ensureBuckets(jsm, cfg)));
  return { created, updated };
}

/**
 * Creates the KV buckets that do not exist yet (all, or only those named: a worker's role may touch
 * only its own); returns what it created.
 */
export async function ensureBuckets(jsm: JetStreamManager, cfg: Config, only?: string[]): Promise<string[]> {
  const created: string[] = [];
  const js = jsm.jetstream();
  for (const { bucket, description, ttl } of KV_BUCKETS(cfg.nats)) {
    if (only && !only.includes(bucket)) continue;
    try {
      await jsm.streams.info(`KV_${bucket}`);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await js.views.kv(bucket, {
        history: 1,
        replicas: cfg.nats.replicas,
        description,
        ...(ttl ? { ttl } : {}),
      });
      created.push(`kv ${bucket}`);
    }
  }
  return created;
}

/** Fails fast, naming what is missing, when the topology a process needs is not there. */
export async function checkTopology(
  jsm: JetStreamManager,
  cfg: Config,
  need: { streams?: string[]; consumers?: { stream: string; name: string }[]; buckets?: string[] } = {},
): Promise<void> {
  const n = names(cfg.nats.prefix);
  const streams = need.streams ?? [n.eventsStream, n.dlqStream];
  const missing: string[] = [];
  for (const s of streams) {
    try {
      await jsm.streams.info(s);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      missing.push(`stream ${s}`);
    }
  }
  for (const b of need.buckets ?? []) {
    try {
      await jsm.streams.info(`KV_${b}`);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      missing.push(`kv bucket ${b}`);
    }
  }
  for (const c of need.consumers ?? []) {
    try {
      await jsm.consumers.info(c.stream, c.name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      missing.push(`consumer ${c.stream}/${c.name}`);
    }
  }
  if (missing.length > 0) {
    throw new TopologyError(
      `NATS topology missing at ${cfg.nats.url}: ${missing.join(', ')}. Apply it with \`npx shopstream topology apply\` (make up does this).`,
    );
  }
}
