// The cart triggers on a real NATS and a real Temporal dev server: cart events published through the
// producer SDK start (and signal) one recovery workflow per cart, an order ends it, a late order
// (event time before the last cart change) still ends it, and a cart event after the end does not
// restart it.
import type { Client } from '@temporalio/client';
import {
  createLogChannel,
  createMemoryCouponLedger,
  createMemoryMessageSlots,
  type LogChannel,
} from '../../activities';
import { createActivities } from '../../activities';
import { natsPublish } from '../../streams/producer/flow-events';
import { decodeEnvelope } from '../../schemas/codec';
import { couponIssued, reminderSent } from '../../workflows/flow-events';
import type { Producer } from '../../streams/producer/producer';
import { names } from '../../streams/topology';
import {
  createCartTriggerProcessor,
  triggerFor,
  type CartTriggerProcessor,
} from '../../streams/triggers/cart-triggers';
import {
  cartRecoveryWorkflowId,
  recoveryState,
  type CartRecoveryResult,
} from '../../workflows/cart-recovery';
import { defineFlow, onCartEmptied, onOptOut, onPurchase, send, wait } from '../../workflows/dsl';
import { buildEnvelope } from '../helpers/events';
import { eventually } from '../../infra/stack/test-clickhouse';
import { createLogger } from '../../infra/logger';
import { getFreePort } from '../../infra/stack/processes';
import { readDeadLetters } from '../../streams/dlq';
import { createProducer } from '../../streams/producer/producer';
import { startService } from '../../streams/service';
import { TRIGGER_MAX_DELIVER } from '../../streams/triggers/runner';
import { testConfig } from '../../infra/stack/test-config';
import { startFlowStack, type FlowStack } from './fixtures/flow-stack';
import { startTestTemporal } from '../../infra/stack/test-temporal';

// long windows: the flows stay in their abandonment wait while the test drives them
const flow = defineFlow({
  name: 'cart-recovery-trigger-test',
  version: 1,
  trigger: 'cart_abandoned',
  abandonAfter: '1h',
  steps: [wait('1h'), send('log', 'cart_reminder_1')],
  exit: [onPurchase(), onCartEmptied(), onOptOut()],
});

const SHOP = 'shop-t';
let stack: FlowStack;
let client: Client;
let triggers: CartTriggerProcessor;
let producer: Producer;
const channel: LogChannel = createLogChannel('log');

beforeAll(async () => {
  stack = await startFlowStack({
    name: 'triggers-test',
    shopId: SHOP,
    activitiesDeps: () => ({
      channels: { log: channel },
      ledger: createMemoryCouponLedger(),
      slots: createMemoryMessageSlots(),
      publish: () => Promise.resolve(),
    }),
  });
  ({ client, producer } = stack);
  triggers = await createCartTriggerProcessor({
    nc: stack.nc,
    client: client.workflow,
    config: stack.config,
    logger: stack.logger,
    flowFor: () => flow,
    tierOf: () => Promise.resolve('repeat'),
  });
  void triggers.run();
}, 120_000);

afterAll(async () => {
  await stack?.stop(() => triggers?.stop());
});

const product = { sku: 'PHO-1', priceMinor: 2500, quantity: 1 };

function cartEvent(
  type: 'cart_item_added' | 'cart_item_removed' | 'cart_item_quantity_changed',
  userId: string,
  cartId: string,
  totalMinor: number,
  at: number,
) {
  return producer.track(type, {
    userId,
    channel: 'web',
    occurredAt: at,
    properties: { cartId, product, cartTotalMinor: totalMinor, currency: 'USD' },
  });
}

function order(userId: string, cartId: string | undefined, orderId: string, at: number) {
  return producer.track('order_placed', {
    userId,
    channel: 'web',
    occurredAt: at,
    properties: { orderId, ...(cartId ? { cartId } : {}), products: [product], totalMinor: 2500 },
  });
}

const status = async (id: string): Promise<string> => {
  try {
    return (await client.workflow.getHandle(id).describe()).status.name;
  } catch {
    return 'NOT_FOUND';
  }
};

it('maps events to actions (pure)', () => {
  const added = buildEnvelope(
    'cart_item_added',
    { shopId: SHOP, userId: 'u', occurredAt: 1000 },
    {
      cartId: 'c',
      product,
      cartTotalMinor: 2500,
    },
  );
  expect(triggerFor(added as never, 'cart_item_added')).toMatchObject({
    kind: 'cart_changed',
    workflowId: cartRecoveryWorkflowId(SHOP, 'u', 'c'),
    cart: { totalMinor: 2500, itemCount: 1, eventTime: 1000 },
  });
  const emptied = buildEnvelope(
    'cart_item_removed',
    { shopId: SHOP, userId: 'u', occurredAt: 2000 },
    {
      cartId: 'c',
      product,
      cartTotalMinor: 0,
    },
  );
  expect(triggerFor(emptied as never, 'cart_item_removed')).toMatchObject({ cart: { itemCount: 0 } });
  const noCart = buildEnvelope(
    'order_placed',
    { shopId: SHOP, userId: 'u', occurredAt: 1 },
    {
      orderId: 'o',
      products: [product],
    },
  );
  expect(triggerFor(noCart as never, 'order_placed').kind).toBe('none');
  const viewed = buildEnvelope('product_viewed', { shopId: SHOP, userId: 'u', occurredAt: 1 });
  expect(triggerFor(viewed as never, 'product_viewed').kind).toBe('none');
});

it('a cart change starts the flow, more changes signal it, an order ends it, a late cart event does not restart it', async () => {
  const user = 'user-1';
  const id = cartRecoveryWorkflowId(SHOP, user, 'cart-1');
  const t0 = Date.now();
  await cartEvent('cart_item_added', user, 'cart-1', 2500, t0);
  await eventually(
    () => status(id),
    (s) => s === 'RUNNING',
    30_000,
  );
  const handle = client.workflow.getHandle(id);
  const { runId } = await handle.describe();
  await cartEvent('cart_item_quantity_changed', user, 'cart-1', 5000, t0 + 1000);
  const state = await eventually(
    () => handle.query(recoveryState),
    (s) => s.cartChanges >= 2,
    30_000,
  );
  expect(state.cart).toMatchObject({ totalMinor: 5000, eventTime: t0 + 1000 });
  expect(state.flow).toBe('cart-recovery-trigger-test@1');

  await order(user, 'cart-1', 'order-1', t0 + 2000);
  const result = (await handle.result()) as CartRecoveryResult;
  expect(result).toMatchObject({ exit: 'purchased', orderId: 'order-1' });

  // a cart event after the flow ended: REJECT_DUPLICATE keeps it ended
  const before = triggers.stats().endedSkipped;
  await cartEvent('cart_item_added', user, 'cart-1', 2500, t0 + 3000);
  await eventually(
    () => Promise.resolve(triggers.stats().endedSkipped),
    (n) => n > before,
    30_000,
  );
  const after = await handle.describe();
  expect(after.runId).toBe(runId);
  expect(after.status.name).toBe('COMPLETED');
  expect(channel.sent).toHaveLength(0);
});

it('a late order (event time before the last cart change) still ends the flow', async () => {
  const user = 'user-2';
  const id = cartRecoveryWorkflowId(SHOP, user, 'cart-2');
  const t0 = Date.now();
  await cartEvent('cart_item_added', user, 'cart-2', 2500, t0);
  await cartEvent('cart_item_quantity_changed', user, 'cart-2', 5000, t0 + 10_000);
  const handle = client.workflow.getHandle(id);
  await eventually(
    () =>
      status(id).then(async (s) => (s === 'RUNNING' ? (await handle.query(recoveryState)).cartChanges : 0)),
    (n) => n >= 2,
    30_000,
  );
  await order(user, 'cart-2', 'order-2', t0 + 5_000); // placed before the last change was recorded
  const result = (await handle.result()) as CartRecoveryResult;
  expect(result).toMatchObject({ exit: 'purchased', orderId: 'order-2' });
});

it('an order without a cart id or without a flow is skipped, and the processor keeps going', async () => {
  const before = triggers.stats();
  await order('user-3', undefined, 'order-3', Date.now());
  await order('user-3', 'cart-unknown', 'order-4', Date.now());
  await eventually(
    () => Promise.resolve(triggers.stats()),
    (s) => s.ignored > before.ignored && s.noFlow > before.noFlow,
    30_000,
  );
  // and an emptied cart ends its flow
  const id = cartRecoveryWorkflowId(SHOP, 'user-3', 'cart-3');
  await cartEvent('cart_item_added', 'user-3', 'cart-3', 2500, Date.now());
  await eventually(
    () => status(id),
    (s) => s === 'RUNNING',
    30_000,
  );
  await cartEvent('cart_item_removed', 'user-3', 'cart-3', 0, Date.now() + 1);
  const result = (await client.workflow.getHandle(id).result()) as CartRecoveryResult;
  expect(result.exit).toBe('cart_emptied');
  // nothing failed (a slow Temporal call is retried, and counted as a retry, legitimately), and
  // cart-3's flow was started by these events
  expect(triggers.stats()).toMatchObject({ failed: 0, retries: expect.any(Number) as number });
  expect(triggers.stats().started).toBeGreaterThan(before.started);
});

it('flow events publish through the producer SDK once, however often the activity runs', async () => {
  const ledger = createMemoryCouponLedger();
  const acts = createActivities({
    channels: {},
    ledger,
    slots: createMemoryMessageSlots(),
    publish: natsPublish(producer),
  });
  const at = Date.now();
  const coupon = {
    code: 'ABCD-EFGH-JKMN',
    campaign: 'camp',
    tier: 'repeat' as const,
    amountMinor: 1000,
    currency: 'USD',
    issuedAt: at,
    expiresAt: at + 86_400_000,
    newlyIssued: true,
  };
  const reminder = reminderSent({
    flow: 'cart-recovery',
    workflowId: 'wf-p',
    shopId: SHOP,
    userId: 'user-p',
    cartId: 'cart-p',
    step: 3,
    channel: 'email',
    template: 'cart_reminder_coupon',
    coupon,
    key: 'wf-p/run/3',
    at,
  });
  const before = producer.stats();
  await acts.publishEvent(reminder);
  await acts.publishEvent(reminder); // a retried activity
  await acts.publishEvent(couponIssued(SHOP, 'user-p', coupon));
  await acts.publishEvent(couponIssued(SHOP, 'user-p', { ...coupon, newlyIssued: false })); // a replay
  const after = producer.stats();
  expect(after.published - before.published).toBe(4);
  expect(after.duplicates - before.duplicates).toBe(2);

  const { nc, config } = stack;
  const jsm = await nc.jetstreamManager();
  const stream = names(config.nats.prefix).eventsStream;
  const last = async (type: string) => {
    const m = await jsm.streams.getMessage(stream, {
      last_by_subj: `${config.nats.prefix}.events.*.${type}`,
    });
    const d = decodeEnvelope(m.data);
    if (!d.ok) throw new Error(d.detail);
    return d.envelope;
  };
  const r = await last('reminder_sent');
  expect(r.userId).toBe('user-p');
  expect(r.occurredAt).toBe(at);
  // the code leaves only as its ref (the events table is read by analysts)
  expect(r.reminderSent).toMatchObject({ workflowId: 'wf-p', step: 3, couponCode: ledger.ref(coupon.code) });
  const c = await last('coupon_issued');
  expect(c.couponIssued).toMatchObject({
    campaignId: 'camp',
    tier: 'repeat',
    amountMinor: 1000,
    couponCode: ledger.ref(coupon.code),
  });
});

it('an event whose call keeps failing (not unavailability) is dead-lettered, not skipped', async () => {
  const { nc, config } = stack;
  const failing = await createCartTriggerProcessor({
    nc,
    client: client.workflow,
    config,
    logger: stack.logger,
    consumerName: 'triggers_cart_failing',
    flowFor: () => flow,
    tierOf: () => Promise.reject(new Error('profile unreadable')), // not transient
    maxAttempts: 2,
  });
  void failing.run();
  try {
    const jsm = await nc.jetstreamManager();
    const info = await jsm.consumers.info(names(config.nats.prefix).eventsStream, 'triggers_cart_failing');
    expect(info.config.max_deliver).toBe(TRIGGER_MAX_DELIVER); // bounded redelivery, with backoff
    expect(info.config.backoff?.length).toBeGreaterThan(0);
    const receipt = await producer.track('cart_item_added', {
      userId: 'user-dl',
      channel: 'web',
      properties: {
        cartId: 'cart-dl',
        product: { sku: 'S-1', priceMinor: 100, quantity: 1 },
        cartTotalMinor: 100,
      },
    });
    const dead = await eventually(
      async () => {
        const out = [];
        for await (const dl of readDeadLetters(nc.jetstream(), jsm, config.nats.prefix, {
          reason: 'processing_failed',
        }))
          out.push(dl);
        return out.filter((d) => d.detail.includes('profile unreadable'));
      },
      (d) => d.length > 0,
      30_000,
    );
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ sourceSubject: expect.stringContaining('cart_item_added') as string });
    expect(decodeEnvelope(dead[0]!.data)).toMatchObject({ ok: true, envelope: { eventId: receipt.eventId } });
    expect(failing.stats()).toMatchObject({ failed: 1 });
    // acked: nothing of it is pending or redelivered
    const after = await eventually(
      () => jsm.consumers.info(names(config.nats.prefix).eventsStream, 'triggers_cart_failing'),
      (i) => i.num_ack_pending === 0 && i.num_pending === 0,
      10_000,
    );
    expect(after.num_redelivered).toBe(0);
  } finally {
    await failing.stop();
  }
});

it('the service starts its triggers while Temporal is down; they hold events and go on once it is up', async () => {
  const temporalPort = await getFreePort();
  const adminPort = await getFreePort();
  const cfg = testConfig(stack.config.nats.url, {
    TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
    ADMIN_PORT: String(adminPort),
  });
  const service = await startService({
    config: cfg,
    logger: createLogger('silent', 'test'),
    sink: false,
    collector: false,
  });
  let temporal: Awaited<ReturnType<typeof startTestTemporal>> | undefined;
  try {
    type Health = {
      ok: boolean;
      checks: Record<string, boolean>;
      triggers: Record<string, { state: string; lastProgressAt?: string }>;
    };
    const health = async (): Promise<Health> =>
      (await (await fetch(`http://127.0.0.1:${adminPort}/healthz`)).json()) as Health;
    const waiting = await health();
    expect(waiting.ok).toBe(true);
    // the triggers component is healthy while it waits: its events are held, not lost
    expect(waiting.checks['triggers']).toBe(true);
    expect(Object.keys(waiting.triggers).sort()).toEqual(['cart', 'chat', 'coupon', 'ok']);
    expect(waiting.triggers['cart']!.state).toBe('waiting_for_temporal');

    const events = await createProducer({ nats: cfg.nats, shopId: SHOP, producerId: 'late-temporal' });
    await events.track('cart_item_added', {
      userId: 'user-late',
      channel: 'web',
      properties: {
        cartId: 'cart-late',
        product: { sku: 'S-1', priceMinor: 100, quantity: 1 },
        cartTotalMinor: 100,
      },
    });
    await events.close();

    temporal = await startTestTemporal({ port: temporalPort });
    const { Client: TemporalClient, Connection } = await import('@temporalio/client');
    const late = new TemporalClient({ connection: await Connection.connect({ address: temporal.address }) });
    try {
      const description = await eventually(
        () =>
          late.workflow
            .getHandle(cartRecoveryWorkflowId(SHOP, 'user-late', 'cart-late'))
            .describe()
            .catch(() => undefined),
        (d) => d !== undefined,
        60_000,
      );
      expect(description!.status.name).toBe('RUNNING');
      const up = await eventually(health, (h) => h.triggers['cart']!.state === 'running', 30_000);
      expect(up.triggers['cart']!.lastProgressAt).toEqual(expect.any(String));
    } finally {
      await late.connection.close();
    }
  } finally {
    await service.stop();
    await temporal?.stop();
  }
}, 120_000);
