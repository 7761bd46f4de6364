// The reports from the events table (embedded ClickHouse), pinned on a small shop: events by type,
// the funnel, orders and abandoned carts, scoped to one run's producer or not; cart recovery; coupons
// by campaign and tier; uplift against the holdout group; and the demo's come-back queries (reminded
// open carts, held-out carts, unredeemed tier coupons). A duplicate row is counted once.
import { checkReadOnlySql, openReadOnlyClickHouse } from '../../infra/clickhouse/readonly';
import { sqlFromClient, type Sql } from '../../infra/clickhouse/sql';
import { decodeEnvelope, encodeEnvelope } from '../../schemas/codec';
import type { EventType, PayloadMap } from '../../schemas/events';
import { toEventRow, type EventRow } from '../../streams/sinks/clickhouse/rows';
import { buildReport, busiestUser, countStored, formatReport } from '../../analytics/report';
import { buildRecoveryReport, formatRecoveryReport } from '../../analytics/recovery-report';
import { buildFlowsReport, formatFlowsReport } from '../../analytics/flows-report';
import {
  heldOutOpenCarts,
  reminderProgress,
  remindedOpenCarts,
  unredeemedCoupons,
} from '../../demo/come-back';
import { startTestClickHouse, type TestClickHouse } from '../../infra/stack/test-clickhouse';
import { buildEnvelope, sampleProduct } from '../helpers/events';

let chs: TestClickHouse;
let sql: Sql;
let db: string;
let seq = 0;

const T0 = Date.UTC(2026, 10, 24, 12, 0, 0);
const RUN = 'run-1';
const WORKER = 'worker';
const BACK = 'run-1-back';
/** Coupon refs as the flows' events carry them (coupons/coupon-ledger.ts couponRef). */
const ref = (n: number): string => `cr_${String(n).padStart(20, '0')}`;
const product = (sku: string, priceMinor: number): NonNullable<PayloadMap['product_viewed']['product']> => ({
  ...sampleProduct,
  sku,
  productId: sku,
  priceMinor,
});

function ev<T extends EventType>(
  type: T,
  atSeconds: number,
  userId: string,
  payload: PayloadMap[T],
  producerId = RUN,
): EventRow {
  const init = buildEnvelope(type, { occurredAt: T0 + atSeconds * 1000, producerId, userId }, payload);
  const decoded = decodeEnvelope(encodeEnvelope(init));
  if (!decoded.ok) throw new Error(`bad test envelope: ${decoded.detail}`);
  return toEventRow(decoded.envelope, decoded.type, ++seq);
}

const added = (at: number, userId: string, cartId: string, sku: string, price: number): EventRow =>
  ev('cart_item_added', at, userId, {
    cartId,
    product: product(sku, price),
    cartTotalMinor: price,
    currency: 'USD',
  });
const ordered = (
  at: number,
  userId: string,
  order: { orderId: string; cartId?: string; total: number; coupon?: string; discount?: number },
  producerId = RUN,
): EventRow =>
  ev(
    'order_placed',
    at,
    userId,
    {
      orderId: order.orderId,
      cartId: order.cartId ?? '',
      products: [product('PHO-0001', order.total)],
      totalMinor: order.total,
      couponCode: order.coupon ?? '',
      discountMinor: order.discount ?? 0,
      currency: 'USD',
    },
    producerId,
  );
const reminder = (at: number, userId: string, cartId: string, step: number, template: string, coupon = '') =>
  ev(
    'reminder_sent',
    at,
    userId,
    {
      flow: 'cart-recovery',
      workflowId: `wf-${cartId}`,
      step,
      deliveryChannel: 'log',
      cartId,
      template,
      couponCode: coupon,
    },
    WORKER,
  );
const entered = (at: number, userId: string, flow: string, holdout: boolean, cartId = '') =>
  ev(
    'flow_entered',
    at,
    userId,
    { flow, workflowId: `wf-${flow}-${userId}`, flowVersion: 1, holdout, cartId, tier: 'new' },
    WORKER,
  );
const issued = (
  at: number,
  userId: string,
  campaignId: string,
  coupon: string,
  tier: string,
  amount: number,
) =>
  ev(
    'coupon_issued',
    at,
    userId,
    { campaignId, couponCode: coupon, tier, amountMinor: amount, currency: 'USD' },
    WORKER,
  );
const redeemed = (
  at: number,
  userId: string,
  campaignId: string,
  coupon: string,
  orderId: string,
  discount: number,
) =>
  ev(
    'coupon_redeemed',
    at,
    userId,
    { campaignId, couponCode: coupon, orderId, discountMinor: discount, currency: 'USD' },
    WORKER,
  );

beforeAll(async () => {
  chs = await startTestClickHouse();
  sql = sqlFromClient(chs.ch);
  db = chs.config.database;
  const viewed = (at: number, userId: string, producerId = RUN): EventRow =>
    ev('product_viewed', at, userId, { product: product('PHO-0001', 1000), currency: 'USD' }, producerId);
  const rows = [
    // u1: the whole funnel, and a tier coupon used
    viewed(1, 'u1'),
    added(2, 'u1', 'k1', 'A', 1000),
    ev('checkout_started', 3, 'u1', {
      cartId: 'k1',
      products: [product('A', 1000)],
      totalMinor: 1000,
      currency: 'USD',
    }),
    ordered(4, 'u1', { orderId: 'o1', cartId: 'k1', total: 1000 }),
    issued(5, 'u1', 'tier-coupons-demo', ref(4), 'repeat', 400),
    redeemed(50, 'u1', 'tier-coupons-demo', ref(4), 'o1b', 400),
    // u2: an abandoned cart, reminded twice, the second time with a coupon; still open
    viewed(1, 'u2'),
    added(2, 'u2', 'k2', 'B', 2000),
    entered(10, 'u2', 'cart-recovery', false, 'k2'),
    reminder(11, 'u2', 'k2', 1, 'first'),
    issued(20, 'u2', 'cart-coupons', ref(1), 'repeat', 300),
    reminder(21, 'u2', 'k2', 3, 'coupon', ref(1)),
    // u3: an abandoned cart in the holdout group: no reminder
    added(2, 'u3', 'k3', 'C', 1500),
    entered(10, 'u3', 'cart-recovery', true, 'k3'),
    // u4: reminded, came back and ordered with the cart coupon (a recovered order)
    added(2, 'u4', 'k4', 'D', 500),
    entered(10, 'u4', 'cart-recovery', false, 'k4'),
    reminder(11, 'u4', 'k4', 1, 'first'),
    issued(12, 'u4', 'cart-coupons', ref(2), 'new', 100),
    ordered(30, 'u4', { orderId: 'o4', cartId: 'k4', total: 400, coupon: ref(2), discount: 100 }, BACK),
    redeemed(31, 'u4', 'cart-coupons', ref(2), 'o4', 100),
    // u5: a tier coupon not used yet; a handoff to an agent
    issued(5, 'u5', 'tier-coupons-demo', ref(3), 'high_value', 700),
    ev('handoff_requested', 6, 'u5', {
      conversationId: 'cv1',
      reason: 'low_confidence',
      confidence: 0.2,
      intent: 'x',
      turnIndex: 1,
    }),
    // another run's shopper: outside the scope
    viewed(1, 'u9', 'run-2'),
    ev(
      'cart_item_added',
      2,
      'u9',
      { cartId: 'k9', product: product('E', 900), cartTotalMinor: 900, currency: 'USD' },
      'run-2',
    ),
  ];
  await chs.ch.insert({ table: `${db}.events`, values: rows, format: 'JSONEachRow' });
  // u1's order stored twice (a duplicate that slipped past the sink)
  await chs.ch.insert({
    table: `${db}.events`,
    values: rows.filter((r) => r.order_id === 'o1'),
    format: 'JSONEachRow',
  });
}, 60_000);

afterAll(async () => {
  await chs?.stop();
});

const scope = (): { database: string; producerId: string } => ({ database: db, producerId: RUN });

it('reports events by type, the funnel, orders and abandoned carts for one run', async () => {
  const r = await buildReport(sql, scope());
  expect(r.byType).toEqual([
    { event_type: 'cart_item_added', events: 4 },
    { event_type: 'product_viewed', events: 2 },
    { event_type: 'checkout_started', events: 1 },
    { event_type: 'order_placed', events: 1 },
    { event_type: 'handoff_requested', events: 1 },
  ]);
  expect(r.funnel).toEqual([
    { step: 'product_viewed', users: 2 },
    { step: 'cart_item_added', users: 2 },
    { step: 'checkout_started', users: 1 },
    { step: 'order_placed', users: 1 },
  ]);
  // u4's order came through another producer (the demo's come-back orders): in this scope its cart
  // counts as abandoned
  expect({ orders: r.orders, revenue: r.revenueMinor, abandoned: r.abandonedCarts }).toEqual({
    orders: 1,
    revenue: 1000,
    abandoned: 3,
  });
  expect(r.escalations).toEqual({
    handoffs: [{ reason: 'low_confidence', handoffs: 1 }],
    escalated: 0,
    level2: 0,
    level3: 0,
    assigned: 0,
    waitP50Ms: 0,
    waitP90Ms: 0,
    closed: [],
    startLagP50Ms: 0,
    startLagP90Ms: 0,
    sla: { firstResponse: { met: 0, missed: 0 }, resolution: { met: 0, missed: 0 } },
  });
  expect(formatReport(r).split('\n')).toEqual([
    'Events by type',
    '  cart_item_added                     4',
    '  product_viewed                      2',
    '  checkout_started                    1',
    '  order_placed                        1',
    '  handoff_requested                   1',
    '',
    'Conversion funnel (users, within 24h, in order)',
    '  product_viewed             2   step 100.0%   overall 100.0%',
    '  cart_item_added            2   step 100.0%   overall 100.0%',
    '  checkout_started           1   step  50.0%   overall  50.0%',
    '  order_placed               1   step 100.0%   overall  50.0%',
    '',
    'Orders: 1   revenue: 10.00 USD   abandoned carts: 3',
    '',
    'Chat escalations (handoffs to human agents, Temporal escalation flows)',
    '  handoffs                                    1',
    '    low_confidence                            1',
    '  escalation flows run                        0',
    '  reached level 2 (no agent in time)          0     -  ',
    '  reached level 3 (not resolved in time)      0     -  ',
    '  agent assigned                              0',
    '  first response within SLA                   0     -   of 0 decided (0 missed)',
    '  resolved within SLA                         0     -   of 0 decided (0 missed)',
    '  resolved                                    0',
    '  user left                                   0',
  ]);
});

it('reports every producer when unscoped, and counts stored rows and unique events', async () => {
  const r = await buildReport(sql, { database: db });
  expect(r.byType).toEqual([
    { event_type: 'cart_item_added', events: 5 },
    { event_type: 'coupon_issued', events: 4 },
    { event_type: 'flow_entered', events: 3 },
    { event_type: 'reminder_sent', events: 3 },
    { event_type: 'product_viewed', events: 3 },
    { event_type: 'order_placed', events: 2 },
    { event_type: 'coupon_redeemed', events: 2 },
    { event_type: 'checkout_started', events: 1 },
    { event_type: 'handoff_requested', events: 1 },
  ]);
  expect(r.funnel).toEqual([
    { step: 'product_viewed', users: 3 },
    { step: 'cart_item_added', users: 3 },
    { step: 'checkout_started', users: 1 },
    { step: 'order_placed', users: 1 },
  ]);
  expect({ orders: r.orders, revenue: r.revenueMinor, abandoned: r.abandonedCarts }).toEqual({
    orders: 2,
    revenue: 1400,
    abandoned: 3,
  });
  // the duplicate order row: stored twice, one event
  expect(await countStored(sql, scope())).toEqual({ rows: 10, unique: 9 });
  expect(await busiestUser(sql, scope())).toBe('u1');
  expect(await busiestUser(sql, { database: db, producerId: 'nobody' })).toBeUndefined();
  expect(await countStored(sql, { database: db })).toEqual({ rows: 25, unique: 24 });
});

it('reports cart recovery for the run: reminders by step, recovered orders', async () => {
  const r = await buildRecoveryReport(sql, scope());
  expect(r).toEqual({
    remindedCarts: 2,
    reminders: [
      { template: 'first', step: 1, sent: 2 },
      { template: 'coupon', step: 3, sent: 1 },
    ],
    recoveredOrders: 1,
    recoveredRevenueMinor: 400,
  });
  expect(await reminderProgress(sql, scope())).toEqual({ reminders: 3, withCoupon: 1 });
  expect(formatRecoveryReport(r, { orders: 1, withCoupon: 1 }).split('\n')).toEqual([
    'Cart recovery (Temporal flows, demo windows in seconds)',
    '  carts reminded                          2',
    '  reminders sent                         3',
    '    step 1 first                           2',
    '    step 3 coupon                          1',
    '  coupons issued and redeemed: see Coupons by campaign and tier below',
    '  shoppers who came back and ordered: 1 (1 with the coupon code)',
    '  recovered orders (placed after a reminder for the cart): 1   revenue 4.00 USD',
  ]);
});

it('reports coupons by campaign and tier and the uplift against the holdout group', async () => {
  const r = await buildFlowsReport(sql, db, T0 - 1000);
  expect(r).toEqual({
    coupons: [
      { campaign: 'cart-coupons', tier: 'new', issued: 1, issuedMinor: 100, redeemed: 1, discountMinor: 100 },
      {
        campaign: 'cart-coupons',
        tier: 'repeat',
        issued: 1,
        issuedMinor: 300,
        redeemed: 0,
        discountMinor: 0,
      },
      {
        campaign: 'tier-coupons-demo',
        tier: 'high_value',
        issued: 1,
        issuedMinor: 700,
        redeemed: 0,
        discountMinor: 0,
      },
      {
        campaign: 'tier-coupons-demo',
        tier: 'repeat',
        issued: 1,
        issuedMinor: 400,
        redeemed: 1,
        discountMinor: 400,
      },
    ],
    uplift: [
      { flow: 'cart-recovery', group: 'treatment', entered: 2, converted: 1 },
      { flow: 'cart-recovery', group: 'holdout', entered: 1, converted: 0 },
    ],
  });
  expect(formatFlowsReport(r).split('\n')).toEqual([
    'Coupons by campaign and tier (coupon_issued, coupon_redeemed events)',
    '  campaign                         tier         issued  face value  redeemed   rate   discount',
    '  cart-coupons                     new               1        1.00         1 100.0%       1.00',
    '  cart-coupons                     repeat            1        3.00         0   0.0%       0.00',
    '  tier-coupons-demo                high_value        1        7.00         0   0.0%       0.00',
    '  tier-coupons-demo                repeat            1        4.00         1 100.0%       4.00',
    '',
    'Uplift against the holdout group (flow_entered; converted = ordered after entering)',
    '  cart-recovery            treatment 1/2 (50.0%)   holdout 0/1 (0.0%)   uplift 50.0 points',
  ]);
  expect(await buildFlowsReport(sql, db, T0 + 60_000)).toEqual({ coupons: [], uplift: [] });
});

it('finds who may come back: reminded and held-out open carts, unused tier coupons', async () => {
  // k4's order is the come-back producer's: the demo remembers which carts it decided on
  expect(await remindedOpenCarts(sql, scope())).toEqual([
    {
      cartId: 'k2',
      userId: 'u2',
      totalMinor: 2000,
      currency: 'USD',
      items: [{ sku: 'B', priceMinor: 2000, quantity: 1 }],
      step: 3,
      couponRef: 'cr_00000000000000000001',
      couponAmountMinor: 300,
      couponCampaign: 'cart-coupons',
      couponTier: 'repeat',
    },
    {
      cartId: 'k4',
      userId: 'u4',
      totalMinor: 500,
      currency: 'USD',
      items: [{ sku: 'D', priceMinor: 500, quantity: 1 }],
      step: 1,
      couponRef: '',
      couponAmountMinor: 0,
      couponCampaign: '',
      couponTier: '',
    },
  ]);
  expect(await heldOutOpenCarts(sql, db, RUN)).toEqual([
    { cartId: 'k3', userId: 'u3', totalMinor: 1500, items: [{ sku: 'C', priceMinor: 1500, quantity: 1 }] },
  ]);
  expect(await unredeemedCoupons(sql, db, 'tier-coupons-demo', T0 - 1000)).toEqual([
    { userId: 'u5', ref: 'cr_00000000000000000003', tier: 'high_value', amountMinor: 700 },
  ]);
});

it("runs on the analysts' read-only path (`shopstream report`, the admin endpoint)", async () => {
  const ro = await openReadOnlyClickHouse(chs.config);
  try {
    const direct = sqlFromClient(ro);
    const readOnly: Sql = { query: (text, params) => direct.query(checkReadOnlySql(text), params) };
    expect(await buildReport(readOnly, scope())).toEqual(await buildReport(sql, scope()));
    expect(await buildRecoveryReport(readOnly, scope())).toEqual(await buildRecoveryReport(sql, scope()));
    expect(await buildFlowsReport(readOnly, db, T0 - 1000)).toEqual(
      await buildFlowsReport(sql, db, T0 - 1000),
    );
    expect(await remindedOpenCarts(readOnly, scope())).toHaveLength(2);
  } finally {
    await ro.close();
  }
});
