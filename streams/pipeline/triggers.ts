// The triggers: cart and order events to cart-recovery flows, chat desk events to escalations, tier
// changes and coupon orders to the tier coupon flows and the ledger. They start even while Temporal
// is down (a lazy connection; each trigger holds its events until it answers) and report their state
// in /healthz without failing it: held events are safe. Which flows run is the flow registry's
// choice (workflows/flows/index.ts shippedFlows), not this file's.
import { createKvCouponLedger } from '../../coupons/kv-coupon-ledger';
import { flowEventPublisher } from '../producer/flow-events';
import { requireSecret } from '../../infra/config';
import { canConnect } from '../../infra/net';
import { temporalTls } from '../../infra/temporal-tls';
import { shippedFlows, timingFrom } from '../../workflows/flows';
import { createProducer } from '../producer/producer';
import { names } from '../topology';
import {
  createCartTriggerProcessor,
  tierFromProfiles,
  timeZoneFromProfiles,
} from '../triggers/cart-triggers';
import { createCouponTriggerProcessor } from '../triggers/coupon-triggers';
import {
  createEscalationTriggerProcessor,
  escalationDeadlines,
  profileSummaryFromProfiles,
} from '../triggers/escalation-triggers';
import type { TriggerCounters, TriggerProcessor } from '../triggers/runner';
import type { Component, Running } from './component';
import { needed } from './profiles';

/** Whether host:port (config.temporal.address) accepts a connection. */
export function temporalAnswers(address: string): Promise<boolean> {
  const i = address.lastIndexOf(':');
  return i <= 0 ? Promise.resolve(false) : canConnect(address.slice(0, i), Number(address.slice(i + 1)));
}

// the coupon triggers redeem codes and publish their refs: without the secret, nothing starts
const couponSecret = (config: { coupons: { secret: string } }): string =>
  requireSecret(config.coupons.secret, 'COUPON_SECRET', 32, "the coupon triggers' ledger");

export const triggers: Component = {
  name: 'triggers',
  check: (config) => void couponSecret(config),
  async start(ctx) {
    const { nc, config, logger, metrics } = ctx;
    const secret = couponSecret(config);
    const profiles = needed(ctx, 'profiles', 'the triggers');
    const catalog = needed(ctx, 'catalog', 'the triggers');
    const halfLives = needed(ctx, 'halfLives', 'the triggers');
    const flows = shippedFlows(timingFrom(config.flows));
    const { Connection, WorkflowClient, defaultGrpcRetryOptions, makeGrpcRetryInterceptor } =
      await import('@temporalio/client');
    // lazy: connects on the first call, so the triggers start (and wait) while Temporal is down; a call
    // retried 4 times (under a second), not the default 10 (about 20 s), so an outage is seen and the
    // events held at the gate at once (health says waiting_for_temporal), and resumed soon after
    const connection = Connection.lazy({
      address: config.temporal.address,
      ...temporalTls(config.temporal),
      interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: 4 }))],
    });
    const client = new WorkflowClient({ connection, namespace: config.temporal.namespace });
    const ready = (): Promise<boolean> => temporalAnswers(config.temporal.address);
    if (!(await ready()))
      logger.warn(
        { address: config.temporal.address },
        'Temporal does not answer yet: the triggers hold their events until it does',
      );
    const flowEvents = await createProducer({
      nats: config.nats,
      shopId: 'shopstream',
      producerId: 'coupon-triggers',
      connection: nc,
    });
    const common = {
      ready,
      nc,
      client,
      config,
      ...(ctx.get('leases') ? { leases: ctx.get('leases')! } : {}),
    };
    const deadlines = escalationDeadlines(config.flows);
    const kv = await nc.jetstream().views.kv(names(config.nats.prefix).couponsBucket, { bindOnly: true });
    const all: Record<'cart' | 'chat' | 'coupon', TriggerProcessor<TriggerCounters>> = {
      cart: await createCartTriggerProcessor({
        ...common,
        logger: logger.child({ component: 'triggers' }),
        tierOf: tierFromProfiles(profiles, config.tiers),
        timeZoneOf: timeZoneFromProfiles(profiles),
        flowFor: () => flows.cartRecovery,
      }),
      chat: await createEscalationTriggerProcessor({
        ...common,
        logger: logger.child({ component: 'chat-triggers' }),
        profileOf: profileSummaryFromProfiles(profiles, catalog, halfLives, config.tiers),
        deadlines,
      }),
      coupon: await createCouponTriggerProcessor({
        ...common,
        logger: logger.child({ component: 'coupon-triggers' }),
        ledger: createKvCouponLedger(kv, { secret }),
        publish: flowEventPublisher(flowEvents),
        flows: flows.tierCoupons,
        timeZoneOf: timeZoneFromProfiles(profiles),
      }),
    };
    let stopping = false;
    const failed = Promise.race(
      Object.entries(all).map(([name, t]) => {
        metrics.addTrigger(name, () => t.stats());
        return t.run().then(
          () => new Promise<Error>(() => undefined),
          (err: Error) => (stopping ? new Promise<Error>(() => undefined) : err),
        );
      }),
    );
    logger.info(
      { cart: flows.cartRecovery.name, tier: flows.tierCoupons.map((f) => f.name), deadlines },
      'triggers running',
    );
    const running: Running = {
      failed,
      stop: async () => {
        stopping = true;
        for (const t of Object.values(all).reverse()) await t.stop();
        await flowEvents.close();
        await connection.close();
      },
      stats: () => Object.fromEntries(Object.entries(all).map(([k, t]) => [k, t.stats()])),
      // each trigger's state (running, waiting_for_temporal, retrying) and last progress; a trigger
      // waiting for Temporal holds its events safely: reported, and the service stays ok
      health: () => ({
        ok: true,
        ...Object.fromEntries(Object.entries(all).map(([k, t]) => [k, t.health()])),
      }),
    };
    return running;
  },
};
