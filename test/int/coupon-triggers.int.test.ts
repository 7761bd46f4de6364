// The coupon triggers on a real NATS (events stream, coupons KV) and a real Temporal dev server: a
// tier_changed event starts the tier flow, which issues the coupon in the KV ledger; an order carrying
// the code redeems it once (one coupon_redeemed event, the flow ends), a redelivered order changes
// nothing, and codes that are another user's, unknown or expired are not redeemed.
import type { Client } from '@temporalio/client';
import type { NatsConnection } from 'nats';
import { createLogChannel, createMemoryMessageSlots } from '../../activities';
import { createKvCouponLedger, type KvCouponLedger } from '../../coupons/kv-coupon-ledger';
import { flowEventPublisher, natsPublish } from '../../streams/producer/flow-events';
import type { Config } from '../../infra/config';
import type { Producer } from '../../streams/producer/producer';
import { names } from '../../streams/topology';
import {
  couponTriggerFor,
  createCouponTriggerProcessor,
  type CouponTriggerProcessor,
} from '../../streams/triggers/coupon-triggers';
import {
  couponReleaseState,
  couponReleaseWorkflowId,
  type CouponReleaseResult,
} from '../../workflows/coupon-release';
import { defineFlow, onCouponRedeemed, onOptOut, send, sendWithCoupon, wait } from '../../workflows/dsl';
import { eventually } from '../../infra/stack/test-clickhouse';
import { buildEnvelope } from '../helpers/events';
import { eventsOnStream } from '../../infra/stack/test-nats';
import { startFlowStack, type FlowStack } from './fixtures/flow-stack';

// the coupon at once, then a long wait: the flow is mid-wait while the test redeems
const flow = defineFlow({
  name: 'tier-coupons-trigger-test',
  version: 1,
  trigger: 'tier_reached',
  audience: { tiers: ['repeat', 'high_value'] },
  steps: [
    sendWithCoupon('app_push', 'tier_coupon_welcome', {
      campaign: 'tier-test',
      budget: { maxCoupons: 100 },
      byTier: { repeat: { amountMinor: 1_000 }, high_value: { amountMinor: 3_000 } },
      expiresAfter: '14d',
    }),
    wait('1h'),
    send('email', 'tier_coupon_expiring'),
  ],
  exit: [onCouponRedeemed(), onOptOut()],
});

const SHOP = 'shop-c';
/** This test's own coupon secret (COUPON_SECRET is never defaulted). */
const SECRET = 'coupon-triggers-test-secret-0123456789';
let stack: FlowStack;
let nc: NatsConnection;
let config: Config;
let client: Client;
let triggers: CouponTriggerProcessor;
let producer: Producer;
let ledger: KvCouponLedger;
const push = createLogChannel('app_push');

beforeAll(async () => {
  stack = await startFlowStack({
    name: 'coupons-test',
    shopId: SHOP,
    activitiesDeps: async (conn, cfg, events) => {
      ledger = createKvCouponLedger(await conn.jetstream().views.kv(names(cfg.nats.prefix).couponsBucket), {
        secret: SECRET,
      });
      return {
        channels: { app_push: push, email: createLogChannel('email') },
        ledger,
        slots: createMemoryMessageSlots(),
        publish: natsPublish(events),
      };
    },
  });
  ({ nc, config, client, producer } = stack);
  triggers = await createCouponTriggerProcessor({
    nc,
    client: client.workflow,
    config,
    logger: stack.logger,
    ledger,
    publish: flowEventPublisher(producer),
    flows: [flow],
  });
  void triggers.run();
}, 120_000);

afterAll(async () => {
  await stack?.stop(() => triggers?.stop());
});

const product = { sku: 'PHO-1', priceMinor: 5_000, quantity: 1 };

const tierChanged = (userId: string, tier: string, previousTier = 'new') =>
  producer.track('tier_changed', {
    userId,
    channel: 'server',
    properties: { tier, previousTier, reason: '2 orders' },
  });

/** An order with a code; it claims a discount far above any coupon's (client data counts for nothing). */
const order = (userId: string, orderId: string, couponCode: string, occurredAt?: number) =>
  producer.track('order_placed', {
    userId,
    channel: 'web',
    ...(occurredAt !== undefined ? { occurredAt } : {}),
    properties: { orderId, products: [product], totalMinor: 4_000, discountMinor: 3_999, couponCode },
  });

it('maps events to actions (pure)', () => {
  const meta = { streamTime: 77 };
  const tier = buildEnvelope('tier_changed', { shopId: SHOP, userId: 'u' }, { tier: 'high_value' });
  expect(couponTriggerFor(tier as never, 'tier_changed', meta)).toEqual({
    kind: 'tier_reached',
    shopId: SHOP,
    userId: 'u',
    tier: 'high_value',
  });
  const odd = buildEnvelope('tier_changed', { shopId: SHOP, userId: 'u' }, { tier: 'vip' });
  expect(couponTriggerFor(odd as never, 'tier_changed', meta)).toMatchObject({ kind: 'none' });
  const withCode = buildEnvelope(
    'order_placed',
    { shopId: SHOP, userId: 'u', occurredAt: 5 },
    { orderId: 'o', products: [product], couponCode: ' k7qf-3m9t-xw2p ', discountMinor: 500 },
  );
  expect(couponTriggerFor(withCode as never, 'order_placed', meta)).toMatchObject({
    kind: 'order_placed',
    couponCode: 'K7QF-3M9T-XW2P',
    discountMinor: 500,
    eventTime: 5,
    receivedAt: 77,
  });
});

it('a tier change starts the flow once; an order with its code redeems it once and ends the flow', async () => {
  const user = 'user-1';
  const id = couponReleaseWorkflowId(SHOP, user, flow.name, 'repeat');
  await tierChanged(user, 'repeat');
  const handle = client.workflow.getHandle(id);
  // the coupon is in the flow's state once issued; the push that carries it is the next activity
  const { state, pushed } = await eventually(
    async () => ({
      state: await handle.query(couponReleaseState).catch(() => undefined),
      pushed: push.sent.map((m) => m.vars['couponCode']),
    }),
    (x) => x.state?.coupon !== undefined && x.pushed.length > 0,
    30_000,
  );
  const code = state!.coupon!.code;
  expect(state!.coupon).toMatchObject({ amountMinor: 1_000, tier: 'repeat', campaign: 'tier-test' });
  expect(pushed).toEqual([code]);
  expect(await ledger.get(code)).toMatchObject({ userId: user, shopId: SHOP });

  // the same tier again (a redelivery, or the user dropped and came back): no second flow
  await tierChanged(user, 'repeat');
  await eventually(
    () => Promise.resolve(triggers.stats().alreadyRan),
    (n) => n >= 1,
    30_000,
  );

  await order(user, 'order-1', code.toLowerCase());
  const result = (await handle.result()) as CouponReleaseResult;
  expect(result).toMatchObject({ exit: 'redeemed', orderId: 'order-1' });
  expect((await ledger.get(code))?.redeemed?.orderId).toBe('order-1');

  // the same order again (a producer retry with a new event id): nothing new
  await order(user, 'order-1', code);
  await eventually(
    () => Promise.resolve(triggers.stats().redeemedAgain),
    (n) => n >= 1,
    30_000,
  );
  const redeemed = (await eventsOnStream(nc, config, 'coupon_redeemed')).filter((e) => e.userId === user);
  expect(redeemed).toHaveLength(1);
  // the code leaves only as its ref; the coupon_issued event has the same one (analysts join on it)
  expect(redeemed[0]!.couponRedeemed).toMatchObject({
    couponCode: ledger.ref(code),
    orderId: 'order-1',
    campaignId: 'tier-test',
    discountMinor: 1_000,
  });
  const issued = (await eventsOnStream(nc, config, 'coupon_issued')).filter((e) => e.userId === user);
  expect(issued.map((e) => e.couponIssued?.couponCode)).toEqual([ledger.ref(code)]);
  expect(ledger.ref(code)).not.toContain(code);
  const entered = (await eventsOnStream(nc, config, 'flow_entered')).filter((e) => e.userId === user);
  expect(entered.map((e) => e.flowEntered?.holdout)).toEqual([false]);
  expect(triggers.stats()).toMatchObject({ flowsStarted: 1, redeemed: 1 });
});

it('does not redeem another user’s code, an unknown code, an expired code, or a used one again', async () => {
  await tierChanged('user-2', 'high_value');
  const handle = client.workflow.getHandle(couponReleaseWorkflowId(SHOP, 'user-2', flow.name, 'high_value'));
  const state = await eventually(
    async () => handle.query(couponReleaseState).catch(() => undefined),
    (s) => s?.coupon !== undefined,
    30_000,
  );
  const code = state!.coupon!.code;

  // an expired coupon, straight into the ledger
  const now = Date.now();
  const old = await ledger.issue({
    shopId: SHOP,
    userId: 'user-3',
    campaign: 'old-campaign',
    budget: { maxCoupons: 10 },
    tier: 'repeat',
    amountMinor: 500,
    issuedAt: now - 10 * 86_400_000,
    expiresAt: now - 86_400_000,
  });
  if (!old.ok) throw new Error(old.detail);

  await order('user-3', 'order-x', code); // user-2's code
  await order('user-3', 'order-y', 'ZZZZ-ZZZZ-ZZZZ');
  await order('user-3', 'order-z', old.coupon.code);
  // backdated to before the coupon's expiry: judged by when it reached the stream, still expired
  await order('user-3', 'order-backdated', old.coupon.code, now - 2 * 86_400_000);
  await eventually(
    () => Promise.resolve(triggers.stats().rejected),
    (r) => r.NotTheOwner === 1 && r.CouponUnknown === 1 && r.CouponExpired === 2,
    30_000,
  );
  expect((await ledger.get(old.coupon.code))?.redeemed).toBeUndefined();
  expect((await ledger.get(code))?.redeemed).toBeUndefined();
  expect((await handle.describe()).status.name).toBe('RUNNING');

  await order('user-2', 'order-2', code);
  await expect(handle.result()).resolves.toMatchObject({ exit: 'redeemed', orderId: 'order-2' });
  await order('user-2', 'order-3', code); // a second order with the used code
  await eventually(
    () => Promise.resolve(triggers.stats().rejected.CouponAlreadyRedeemed ?? 0),
    (n) => n === 1,
    30_000,
  );
  const redeemed = (await eventsOnStream(nc, config, 'coupon_redeemed')).filter((e) => e.userId !== 'user-1');
  expect(redeemed.map((e) => e.couponRedeemed?.orderId)).toEqual(['order-2']);
});

it('a move down a tier (after a refund) releases no coupon', async () => {
  await tierChanged('user-4', 'repeat', 'high_value');
  await eventually(
    () => Promise.resolve(triggers.stats().downgrades),
    (n) => n === 1,
    30_000,
  );
  const id = couponReleaseWorkflowId(SHOP, 'user-4', flow.name, 'repeat');
  await expect(client.workflow.getHandle(id).describe()).rejects.toThrow(/not found/i);
});
