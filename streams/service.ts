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
import { interest, recommend, rulesJob, snapshots } from './pipeline/profiles';
import { clickhouse, maxDeliveriesCatcher, sink } from './pipeline/storage';
import { triggers } from './pipeline/triggers';
import { applyTopology, checkTopology } from './topology-apply';

export interface ServiceOptions {
  config: Config;
  logger: Logger;
  /** The ClickHouse sink (and the database this process then owns). Default on. */
  sink?: boolean;
  collector?: boolean;
  /** The interest processor, its snapshots, the rules job and the recommendation service. */
  interest?: boolean;
  /** 'apply' creates or updates streams and consumers; 'check' only verifies they exist. */
  topology?: 'apply' | 'check';
  /** Cart, chat and coupon triggers (need the interest processor and COUPON_SECRET). Default on. */
  triggers?: boolean;
  /** The order view (each user's recent orders in KV, for the bot). Default on. */
  orders?: boolean;
  /** The customer-service bot (needs the interest processor's catalog). Default on. */
  bot?: boolean;
}

export interface Service {
  stop(): Promise<void>;
  /** Settles when a component fails on its own (not on stop). */
  readonly failed: Promise<Error>;
  readonly metrics: Metrics;
}

/** The components of the pipeline process, in start order. */
export function components(opts: Omit<ServiceOptions, 'config' | 'logger'>): Component[] {
  const withSink = opts.sink !== false;
  const withInterest = opts.interest !== false;
  return [
    leases,
    maxDeliveriesCatcher,
    ...(withSink ? [clickhouse, sink] : []),
    ...(withInterest ? [interest, ...(withSink ? [snapshots, rulesJob] : [])] : []),
    ...(withInterest && opts.triggers !== false ? [triggers] : []),
    ...(withInterest ? [recommend] : []),
    ...(opts.orders !== false ? [orders] : []),
    ...(withInterest && opts.bot !== false ? [bot] : []),
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
