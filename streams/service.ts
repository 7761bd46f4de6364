// The pipeline process: the components this process runs, chosen by its options, started in order
// and stopped in reverse (streams/pipeline/component.ts). Add a processor by adding its Component.
import type { Config } from '../infra/config';
import type { Logger } from '../infra/logger';
import { createMetrics, type Metrics } from '../infra/metrics';
import { connectNats } from '../infra/nats';
import { checkComponents, startComponents, type Component } from './pipeline/component';
import { bot } from './pipeline/bot';
import { admin, analystSql, collector } from './pipeline/http';
import { orders } from './pipeline/orders';
import { leases } from './pipeline/leases';
import { interest, profiles, recommend, rulesJob, snapshots } from './pipeline/profiles';
import { clickhouse, maxDeliveriesCatcher, sink } from './pipeline/storage';
import { triggers } from './pipeline/triggers';
import { applyTopology, checkTopology } from './topology-apply';

export interface ServiceOptions {
  config: Config;
  logger: Logger;
  /** The ClickHouse sink (and the database this process then owns). Default on. */
  sink?: boolean;
  collector?: boolean;
  /** The interest processor (with the sink: its snapshots and the rules job). Default on. */
  interest?: boolean;
  /** The recommendation service (a NATS queue group: every process running it answers). Default on. */
  recommend?: boolean;
  /** 'apply' creates or updates streams and consumers; 'check' only verifies they exist. */
  topology?: 'apply' | 'check';
  /** Cart, chat and coupon triggers (need COUPON_SECRET). Default on. */
  triggers?: boolean;
  /** The order view (each user's recent orders in KV, for the bot). Default on. */
  orders?: boolean;
  /** The customer-service bot. Default on. */
  bot?: boolean;
}

export interface Service {
  stop(): Promise<void>;
  /** Settles when a component fails on its own (not on stop). */
  readonly failed: Promise<Error>;
  readonly metrics: Metrics;
}

/**
 * The parts a pipeline process can run (`serve --only`): each one or more components. One process
 * runs them all by default; a deployment can split them into processes (docs/scaling.md), e.g. the
 * conversations (bot, recommend, triggers, orders) apart from the clickstream (sink, interest), so a
 * chat turn never waits for the event loop of a process busy with clicks.
 */
export const SERVICE_PARTS = [
  'sink',
  'interest',
  'recommend',
  'triggers',
  'orders',
  'bot',
  'collector',
] as const;
export type ServicePart = (typeof SERVICE_PARTS)[number];

/** The components of the pipeline process, in start order. */
export function components(opts: Omit<ServiceOptions, 'config' | 'logger'>): Component[] {
  const withSink = opts.sink !== false;
  const withInterest = opts.interest !== false;
  const withTriggers = opts.triggers !== false;
  const withBot = opts.bot !== false;
  const withRecommend = opts.recommend !== false;
  return [
    leases,
    maxDeliveriesCatcher,
    ...(withSink ? [clickhouse, sink] : []),
    ...(withInterest || withTriggers || withBot || withRecommend ? [profiles] : []),
    // the snapshots take the interest processor's changed users: only where both run
    ...(withInterest ? [interest, ...(withSink ? [snapshots, rulesJob] : [])] : []),
    ...(withTriggers ? [triggers] : []),
    ...(withRecommend ? [recommend] : []),
    ...(opts.orders !== false ? [orders] : []),
    ...(withBot ? [bot] : []),
    ...(opts.collector !== false ? [collector] : []),
    admin,
    ...(withSink ? [analystSql] : []),
  ];
}

export async function startService(opts: ServiceOptions): Promise<Service> {
  const { config, logger } = opts;
  const list = components(opts);
  checkComponents(list, config);
  const metrics = createMetrics();
  const nc = await connectNats(config.nats, 'shopstream-service');
  try {
    const jsm = await nc.jetstreamManager();
    if ((opts.topology ?? 'apply') === 'apply')
      logger.info(await applyTopology(jsm, config), 'topology applied');
    await checkTopology(jsm, config);
  } catch (err) {
    await nc.drain().catch(() => undefined);
    throw err;
  }
  const pipeline = await startComponents(list, { config, logger, metrics, nc });
  return { stop: () => pipeline.stop(), failed: pipeline.failed, metrics };
}
