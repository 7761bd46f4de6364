// The pipeline service: one process that owns the ClickHouse connection and runs the ClickHouse
// sink, the HTTP collector and the admin endpoint. Starts in order, fails fast, drains in reverse.
import type { FastifyInstance } from 'fastify';
import type { NatsConnection } from 'nats';
import { createClickHouse, type ClickHouseClient } from '../infra/clickhouse/client';
import { openReadOnlyClickHouse } from '../infra/clickhouse/readonly';
import { migrate } from '../analytics/migrate';
import { requireSecret, type Config } from '../infra/config';
import type { Logger } from '../infra/logger';
import { createMetrics, type Metrics } from '../infra/metrics';
import { buildAdmin } from './admin';
import { buildCollector } from './collector/server';
import { startMaxDeliveriesCatcher } from './advisories';
import { publishDeadLetter } from './dlq';
import { connectNats } from './nats';
import { createProducer, type Producer } from './producer/producer';
import { createClickHouseSink, type ClickHouseSink } from './sinks/clickhouse/sink';
import { applyTopology, checkTopology, names } from './topology';
import { loadCatalog } from '../catalog';
import { sqlFromClient } from '../infra/clickhouse/sql';
import { createInterestProcessor, type InterestProcessor } from './processors/interest/processor';
import { snapshotChanged } from './processors/interest/snapshots';
import { scheduleRulesJob } from './processors/recommend/rules-job';
import { startRecommendService } from './processors/recommend/service';
import {
  createCartTriggerProcessor,
  tierFromProfiles,
  timeZoneFromProfiles,
  type CartTriggerProcessor,
} from './triggers/cart-triggers';
import {
  createEscalationTriggerProcessor,
  ESCALATION_DEADLINES,
  ESCALATION_DEMO_DEADLINES,
  profileSummaryFromProfiles,
  type ChatTriggerProcessor,
} from './triggers/escalation-triggers';
import { canConnect } from '../infra/stack/processes';
import { cartRecoveryDemo } from '../workflows/flows/cart-recovery-demo';
import { tierCoupons } from '../workflows/flows/tier-coupons';
import { tierCouponsDemo } from '../workflows/flows/tier-coupons-demo';
import { createKvCouponLedger } from '../activities/kv-coupon-ledger';
import { couponRef } from '../activities/coupon-ledger';
import { flowEventPublisher } from '../activities/nats-publish';
import { createCouponTriggerProcessor, type CouponTriggerProcessor } from './triggers/coupon-triggers';

export interface ServiceOptions {
  config: Config;
  logger: Logger;
  sink?: boolean;
  collector?: boolean;
  /** The interest processor (and, with a ClickHouse client, snapshots and the rules job). */
  interest?: boolean;
  /** 'apply' creates or updates streams and consumers; 'check' only verifies they exist. */
  topology?: 'apply' | 'check';
  /**
   * The cart triggers (cart and order events to cart-recovery workflows), the chat triggers (chat
   * desk events to escalation workflows) and the coupon triggers. Default on. They start even when
   * Temporal (config.temporal.address) does not answer yet: they hold their events until it does
   * (/healthz shows each one's state). Need the interest processor for the users' tiers and
   * profiles, and COUPON_SECRET.
   */
  triggers?: boolean;
}

/** Whether host:port (config.temporal.address) accepts a connection. */
async function temporalAnswers(address: string): Promise<boolean> {
  const i = address.lastIndexOf(':');
  if (i <= 0) return false;
  return canConnect(address.slice(0, i), Number(address.slice(i + 1)));
}

export interface Service {
  stop(): Promise<void>;
  /** Settles when a component fails on its own (not on stop). */
  readonly failed: Promise<Error>;
  readonly metrics: Metrics;
}

export async function startService(opts: ServiceOptions): Promise<Service> {
  const { config, logger } = opts;
  // the coupon triggers redeem codes and publish their refs: without the secret, fail before starting
  const couponSecret =
    opts.interest !== false && opts.triggers !== false
      ? requireSecret(config.coupons.secret, 'COUPON_SECRET', 32, "the coupon triggers' ledger")
      : '';
  const metrics = createMetrics();
  const closers: { name: string; close: () => Promise<unknown> }[] = [];
  let failWith: (err: Error) => void = () => undefined;
  const failed = new Promise<Error>((resolve) => (failWith = resolve));
  let stopped = false;

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const c of closers.reverse()) {
      try {
        await c.close();
        logger.info({ component: c.name }, 'stopped');
      } catch (err) {
        logger.error({ component: c.name, err: (err as Error).message }, 'stop failed');
      }
    }
  };

  try {
    const nc: NatsConnection = await connectNats(config.nats, 'shopstream-service');
    closers.push({ name: 'nats', close: () => nc.drain() });
    const jsm = await nc.jetstreamManager();
    if ((opts.topology ?? 'apply') === 'apply') {
      const r = await applyTopology(jsm, config);
      logger.info(r, 'topology applied');
    }
    await checkTopology(jsm, config);

    // whatever a consumer of the events stream gives up on goes to the dead-letter stream
    const catcher = await startMaxDeliveriesCatcher({
      nc,
      config,
      logger: logger.child({ component: 'max-deliveries' }),
      metrics,
    });
    closers.push({ name: 'max-deliveries', close: () => catcher.stop() });

    let ch: ClickHouseClient | undefined;
    let sink: ClickHouseSink | undefined;
    if (opts.sink !== false) {
      ch = createClickHouse(config.clickhouse);
      const client = ch;
      closers.push({ name: 'clickhouse', close: () => client.close() });
      const applied = await migrate(ch, config.clickhouse.database);
      logger.info(
        { applied, database: config.clickhouse.database, embedded: config.clickhouse.url === '' },
        'clickhouse ready',
      );
      const afterInsertMs = Number(process.env['SHOPSTREAM_FAILPOINT_SINK_AFTER_INSERT_MS'] ?? 0);
      if (afterInsertMs > 0)
        logger.warn({ afterInsertMs }, 'failpoint set: the sink pauses between insert and ack (tests only)');
      // coupon codes reach the events table as their keyed ref when the secret is here, else masked
      const secret = config.coupons.secret;
      sink = await createClickHouseSink({
        nc,
        ch,
        config,
        ...(Buffer.byteLength(secret) >= 32 ? { couponView: (code: string) => couponRef(secret, code) } : {}),
        logger: logger.child({ component: 'sink' }),
        metrics,
        failpoints: {
          afterInsertMs,
          fromBatch: Number(process.env['SHOPSTREAM_FAILPOINT_SINK_FROM_BATCH'] ?? 1),
        },
      });
      const s = sink;
      closers.push({ name: 'sink', close: () => s.stop() });
      s.run().catch((err: Error) => {
        logger.error({ err: err.message }, 'sink stopped on an error');
        failWith(err);
      });
    }

    let interest: InterestProcessor | undefined;
    let cartTriggers: CartTriggerProcessor | undefined;
    let chatTriggers: ChatTriggerProcessor | undefined;
    let couponTriggers: CouponTriggerProcessor | undefined;
    if (opts.interest !== false) {
      const catalog = loadCatalog(config.interest.catalogFile || undefined);
      const halfLives = { shortMs: config.interest.shortHalfLifeMs, longMs: config.interest.longHalfLifeMs };
      interest = await createInterestProcessor({
        nc,
        config,
        catalog,
        logger: logger.child({ component: 'interest' }),
      });
      const proc = interest;
      proc.run().catch((err: Error) => {
        logger.error({ err: err.message }, 'interest processor stopped on an error');
        failWith(err);
      });
      logger.info(
        { products: catalog.products.length, features: catalog.features.size },
        'interest processor running',
      );
      if (ch) {
        const client = ch;
        // a failed snapshot keeps its profiles for the next one (snapshots.ts snapshotChanged)
        const snapshot = async (): Promise<void> => {
          await snapshotChanged(
            proc,
            client,
            config.clickhouse.database,
            Date.now(),
            catalog,
            halfLives,
            config.tiers,
          );
        };
        const timer = setInterval(() => {
          snapshot().catch((err: Error) => logger.error({ err: err.message }, 'interest snapshot failed'));
        }, config.interest.snapshotIntervalMs);
        timer.unref();
        closers.push({
          name: 'snapshots',
          close: async () => {
            clearInterval(timer);
            await snapshot();
          },
        });
        const kv = await nc.jetstream().views.kv(names(config.nats.prefix).rulesBucket, { bindOnly: true });
        const rulesJob = scheduleRulesJob(
          sqlFromClient(client),
          kv,
          config,
          logger.child({ component: 'rules' }),
        );
        void rulesJob.runNow();
        closers.push({ name: 'rules', close: () => rulesJob.stop() });
      }
      // stops before the final snapshot above is taken (closers run in reverse)
      closers.push({ name: 'interest', close: () => proc.stop() });
      if (opts.triggers !== false) {
        const { Connection, WorkflowClient } = await import('@temporalio/client');
        // lazy: connects on the first call, so the triggers start (and wait) while Temporal is down
        const connection = Connection.lazy({ address: config.temporal.address });
        closers.push({ name: 'temporal', close: () => connection.close() });
        const client = new WorkflowClient({ connection, namespace: config.temporal.namespace });
        const ready = (): Promise<boolean> => temporalAnswers(config.temporal.address);
        /** Runs a trigger: a failure stops the service; stopped in turn; its stats in the metrics. */
        const runTrigger = <P extends CartTriggerProcessor | ChatTriggerProcessor | CouponTriggerProcessor>(
          metric: string,
          name: string,
          trigger: P,
        ): P => {
          trigger.run().catch((err: Error) => {
            logger.error({ err: err.message, trigger: metric }, 'trigger stopped on an error');
            failWith(err);
          });
          closers.push({ name, close: () => trigger.stop() });
          metrics.addTrigger(metric, () => trigger.stats());
          return trigger;
        };
        if (!(await ready()))
          logger.warn(
            { address: config.temporal.address },
            'Temporal does not answer yet: the triggers hold their events until it does',
          );
        const triggers = await createCartTriggerProcessor({
          ready,
          nc,
          client,
          config,
          logger: logger.child({ component: 'triggers' }),
          tierOf: tierFromProfiles(proc.store, config.tiers),
          timeZoneOf: timeZoneFromProfiles(proc.store),
          ...(config.temporal.demoFlowWindows ? { flowFor: () => cartRecoveryDemo } : {}),
        });
        cartTriggers = runTrigger('cart', 'triggers', triggers);
        logger.info(
          {
            address: config.temporal.address,
            flow: config.temporal.demoFlowWindows ? cartRecoveryDemo.name : 'cart-recovery',
          },
          'cart triggers running',
        );
        // the demo's SLA windows are seconds (DEMO_FLOW_WINDOWS=1), like its cart flow
        const deadlines = config.temporal.demoFlowWindows ? ESCALATION_DEMO_DEADLINES : ESCALATION_DEADLINES;
        const chat = await createEscalationTriggerProcessor({
          ready,
          nc,
          client,
          config,
          logger: logger.child({ component: 'chat-triggers' }),
          profileOf: profileSummaryFromProfiles(proc.store, catalog, halfLives, config.tiers),
          deadlines,
        });
        chatTriggers = runTrigger('chat', 'chat-triggers', chat);
        logger.info(deadlines, 'chat triggers running');
        // tier changes to the tier coupon flows; orders with a code to redemptions in the ledger
        const js = nc.jetstream();
        const flowEvents = await createProducer({
          nats: config.nats,
          shopId: 'shopstream',
          producerId: 'coupon-triggers',
          connection: nc,
        });
        closers.push({ name: 'coupon-events', close: () => flowEvents.close() });
        const tierFlows = config.temporal.demoFlowWindows ? [tierCouponsDemo] : [tierCoupons];
        const coupons = await createCouponTriggerProcessor({
          ready,
          nc,
          client,
          config,
          logger: logger.child({ component: 'coupon-triggers' }),
          ledger: createKvCouponLedger(
            await js.views.kv(names(config.nats.prefix).couponsBucket, { bindOnly: true }),
            { secret: couponSecret },
          ),
          publish: flowEventPublisher(flowEvents),
          flows: tierFlows,
          timeZoneOf: timeZoneFromProfiles(proc.store),
        });
        couponTriggers = runTrigger('coupon', 'coupon-triggers', coupons);
        logger.info({ flows: tierFlows.map((f) => f.name) }, 'coupon triggers running');
      }
      const recommender = await startRecommendService({
        nc,
        config,
        catalog,
        logger: logger.child({ component: 'recommend' }),
      });
      closers.push({ name: 'recommend', close: () => recommender.stop() });
      logger.info(
        { subject: names(config.nats.prefix).recommendSubject },
        'recommendation service listening',
      );
    }

    let producer: Producer | undefined;
    if (opts.collector !== false) {
      producer = await createProducer({
        nats: config.nats,
        shopId: 'collector',
        producerId: 'collector',
        connection: nc,
        // answer 503 within COLLECTOR_PUBLISH_TIMEOUT while NATS is down, not hold requests for 30 s
        publishTimeoutMs: Math.min(5000, config.collector.publishTimeoutMs),
        maxPublishMs: config.collector.publishTimeoutMs,
      });
      const p = producer;
      closers.push({ name: 'producer', close: () => p.close() });
      const js = nc.jetstream();
      const collector: FastifyInstance = buildCollector({
        config: config.collector,
        publish: (e) => p.publish(e),
        deadLetter: (dl) => publishDeadLetter(js, config.nats.prefix, dl),
        logger: logger.child({ component: 'collector' }),
        metrics,
      });
      await collector.listen({ host: config.collector.host, port: config.collector.port });
      closers.push({ name: 'collector', close: () => collector.close() });
      logger.info(
        { url: `http://${config.collector.host}:${config.collector.port}/v1/events` },
        'collector listening',
      );
    }

    // Analysts' SQL runs on a read-only session of the same database (infra/clickhouse/readonly.ts).
    let readOnlyCh: ClickHouseClient | undefined;
    if (ch) {
      const ro = await openReadOnlyClickHouse(config.clickhouse);
      readOnlyCh = ro;
      closers.push({ name: 'clickhouse-readonly', close: () => ro.close() });
    }
    const triggerHealth = () => ({
      ...(cartTriggers ? { cart: cartTriggers.health() } : {}),
      ...(chatTriggers ? { chat: chatTriggers.health() } : {}),
      ...(couponTriggers ? { coupon: couponTriggers.health() } : {}),
    });
    const admin = buildAdmin({
      metrics,
      ...(readOnlyCh ? { readOnlyCh } : {}),
      token: config.admin.token,
      hosts: [config.admin.host],
      health: async () => {
        const natsOk = !nc.isClosed();
        // the sink is healthy when it keeps up: not stalled with events waiting, not lagging too far
        let sinkOk = true;
        if (sink && natsOk) {
          const h = await sink.health().catch((err: Error) => {
            logger.warn({ err: err.message }, 'sink health unknown');
            return undefined;
          });
          sinkOk = h?.ok ?? false;
          if (h && !h.ok) logger.warn({ ...h }, `sink ${h.problem}`);
        }
        // each trigger's state (running, waiting_for_temporal, retrying) and last progress; a trigger
        // waiting for Temporal holds its events safely: reported, and the service stays ok
        const triggers = triggerHealth();
        return {
          ok: natsOk && !stopped && sinkOk,
          checks: {
            nats: natsOk,
            sink: sinkOk,
            ...Object.fromEntries(
              Object.entries(triggers).map(([k, t]) => [`triggers_${k}`, t.state === 'running']),
            ),
          },
          triggers,
        };
      },
      stats: () => ({
        sink: sink?.stats(),
        producer: producer?.stats(),
        interest: interest?.stats(),
        triggers: cartTriggers?.stats(),
        chatTriggers: chatTriggers?.stats(),
        couponTriggers: couponTriggers?.stats(),
      }),
    });
    await admin.listen({ host: config.admin.host, port: config.admin.port });
    closers.push({ name: 'admin', close: () => admin.close() });
    logger.info(
      { url: `http://${config.admin.host}:${config.admin.port}` },
      'admin listening (metrics, health, sql)',
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { stop, failed, metrics };
}
