// The analysts' named reports (`shopstream report <name>`), each on a small fixture whose right
// answer was computed by hand (the arithmetic is in the comments), on the embedded ClickHouse.
import { sqlFromClient, type Sql } from '../../infra/clickhouse/sql';
import { findReport, type ReportSection } from '../../analytics/named-reports';
import { startTestClickHouse, type TestClickHouse } from '../../infra/stack/test-clickhouse';
import type { EventRow } from '../../streams/sinks/clickhouse/rows';
import { eventRows, product } from '../helpers/event-rows';

let chs: TestClickHouse;
let sql: Sql;
const T0 = Date.UTC(2026, 10, 24, 12, 0, 0); // 2026-11-24 12:00 UTC
const DAY = 86_400;
/** Coupon refs as the flows' events carry them (a raw code would be masked by the sink). */
const ref = (n: number): string => `cr_${String(n).padStart(20, '0')}`;
const ev = eventRows(T0);
const range = (): { database: string; from: Date; to: Date } => ({
  database: chs.config.database,
  from: new Date(T0),
  to: new Date(T0 + DAY * 1000),
});
const run = async (name: string, opts = {}): Promise<ReportSection[]> =>
  findReport(name)!.run(sql, range(), opts);

const view = (at: number, u: string, channel = 'web'): EventRow =>
  ev('product_viewed', at, u, { product: product('A', 1000), currency: 'USD' }, { channel });
const cart = (at: number, u: string, cartId = `k-${u}`): EventRow =>
  ev('cart_item_added', at, u, {
    cartId,
    product: product('A', 1000),
    cartTotalMinor: 1000,
    currency: 'USD',
  });
const checkout = (at: number, u: string): EventRow =>
  ev('checkout_started', at, u, {
    cartId: `k-${u}`,
    products: [product('A', 1000)],
    totalMinor: 1000,
    currency: 'USD',
  });
const order = (
  at: number,
  u: string,
  orderId: string,
  total: number,
  cartId = '',
  products = [product('A', total)],
): EventRow =>
  ev('order_placed', at, u, {
    orderId,
    cartId,
    products,
    totalMinor: total,
    currency: 'USD',
  });
const entered = (at: number, u: string, cartId: string, holdout: boolean, flow = 'cart-recovery'): EventRow =>
  ev('flow_entered', at, u, {
    flow,
    workflowId: `wf-${cartId}`,
    flowVersion: 1,
    holdout,
    cartId,
    tier: 'new',
  });
const issued = (
  at: number,
  u: string,
  campaignId: string,
  code: string,
  tier: string,
  amount: number,
): EventRow =>
  ev('coupon_issued', at, u, { campaignId, couponCode: code, tier, amountMinor: amount, currency: 'USD' });
const redeemed = (
  at: number,
  u: string,
  campaignId: string,
  code: string,
  orderId: string,
  d: number,
): EventRow =>
  ev('coupon_redeemed', at, u, { campaignId, couponCode: code, orderId, discountMinor: d, currency: 'USD' });
const turn = (at: number, u: string, cv: string, role: 1 | 2 | 3, text: string, extra = {}): EventRow =>
  ev('chat_turn', at, u, { conversationId: cv, role, text, channel: 1, turnIndex: 0, ...extra });
const closed = (at: number, u: string, cv: string): EventRow =>
  ev('conversation_closed', at, u, { conversationId: cv, reason: 'resolved', agentId: '' });
const handoff = (at: number, u: string, cv: string): EventRow =>
  ev('handoff_requested', at, u, {
    conversationId: cv,
    reason: 'asked',
    confidence: 0.9,
    intent: 'human_handoff',
    turnIndex: 1,
  });
const ended = (at: number, u: string, cv: string, fr: string, res: string): EventRow =>
  ev('escalation_ended', at, u, {
    conversationId: cv,
    exit: 'resolved',
    level: 1,
    agentId: 'a1',
    firstResponseMs: 0,
    resolutionMs: 0,
    firstResponseSla: fr,
    resolutionSla: res,
  });

function fixture(): EventRow[] {
  const rows: EventRow[] = [
    // funnel, window 1 h:
    view(10, 'f1'),
    cart(20, 'f1'),
    checkout(30, 'f1'),
    order(40, 'f1', 'of1', 1000), // web: all 4 steps
    view(100, 'f2', 'app'),
    cart(200, 'f2'), // app: 2 steps
    view(100, 'f3', 'app'),
    cart(100 + 4000, 'f3'), // app: the cart is outside the window: 1 step
    view(-100, 'f4'),
    cart(50, 'f4'), // viewed before the range: no entry
    view(DAY - 10, 'f5'),
    cart(DAY + 100, 'f5'), // last view of the range (11-25 11:59:50): its cart after `to` counts
    view(DAY + 10, 'f6'), // after the range
    view(300, 'f8', 'app'),
    view(400, 'f8', 'web'),
    cart(500, 'f8'), // counted once, on its first view's channel
  ];
  // recovery: 10 treatment carts, 4 recovered (revenue 1000+2000+3000+4000); r5 ordered before it
  // was abandoned, r6 eight days after; 5 holdout carts, 1 recovered; x1 abandoned before the range
  for (let i = 1; i <= 10; i++) rows.push(entered(1000, `r${i}`, `kr${i}`, false));
  for (let i = 1; i <= 4; i++) rows.push(order(2000, `r${i}`, `or${i}`, 1000 * i, `kr${i}`));
  rows.push(order(900, 'r5', 'or5', 9999, 'kr5'), order(1000 + 8 * DAY, 'r6', 'or6', 9999, 'kr6'));
  for (let i = 1; i <= 5; i++) rows.push(entered(1000, `h${i}`, `kh${i}`, true));
  rows.push(order(3000, 'h1', 'oh1', 500, 'kh1'));
  rows.push(entered(-500, 'x1', 'kx1', false), order(10, 'x1', 'ox1', 700, 'kx1'));
  // coupons: tier-coupons/new c1, c2 (5.00 each), c1 redeemed on a 30.00 order; tier-coupons/repeat
  // c3 (10.00) redeemed on an 80.00 order; cart-coupons/new c4 (3.00) unused; c0 before the range
  rows.push(
    issued(100, 'c1', 'tier-coupons', ref(1), 'new', 500),
    issued(100, 'c2', 'tier-coupons', ref(2), 'new', 500),
    issued(100, 'c3', 'tier-coupons', ref(3), 'repeat', 1000),
    issued(100, 'c4', 'cart-coupons', ref(4), 'new', 300),
    issued(-100, 'c0', 'tier-coupons', ref(0), 'new', 500),
    order(200, 'c1', 'oc1', 3000),
    redeemed(201, 'c1', 'tier-coupons', ref(1), 'oc1', 500),
    order(200, 'c3', 'oc3', 8000),
    redeemed(201, 'c3', 'tier-coupons', ref(3), 'oc3', 1000),
  );
  // service: cv1, cv2 contained (first replies 200 and 400 ms, closed after 60 and 30 s); cv3 handed
  // over (reply 100 ms, not answered; agent after 60 s, closed 300 s after the handoff, SLAs met);
  // cv4 handed over (reply 300 ms; agent after 120 s, not closed, first response missed, resolution
  // undecided); cv5 began before the range
  const u1 = turn(100, 's1', 'cv1', 1, 'where is my order');
  const u3 = turn(300, 's3', 'cv3', 1, '我要投诉');
  rows.push(
    u1,
    turn(100.2, 's1', 'cv1', 2, 'on its way', { answered: true, latencyMs: 200, replyTo: u1.event_id }),
    closed(160, 's1', 'cv1'),
    turn(200, 's2', 'cv2', 1, 'return policy?'),
    turn(200.4, 's2', 'cv2', 2, '30 days', { answered: true, latencyMs: 400 }),
    closed(230, 's2', 'cv2'),
    u3,
    turn(300.1, 's3', 'cv3', 2, '正在为您转人工', { answered: false, latencyMs: 100, replyTo: u3.event_id }),
    handoff(301, 's3', 'cv3'),
    turn(361, 's3', 'cv3', 3, '您好，我是客服'),
    closed(601, 's3', 'cv3'),
    ended(601, 's3', 'cv3', 'met', 'met'),
    turn(400, 's4', 'cv4', 1, 'human please'),
    turn(400.3, 's4', 'cv4', 2, 'connecting', { answered: false, latencyMs: 300 }),
    handoff(402, 's4', 'cv4'),
    turn(522, 's4', 'cv4', 3, 'hi, agent here'),
    ended(900, 's4', 'cv4', 'missed', ''),
    turn(-50, 's5', 'cv5', 1, 'hello'),
    turn(-49.9, 's5', 'cv5', 2, 'hi', { latencyMs: 100 }),
    handoff(-40, 's5', 'cv5'),
  );
  // recommendations: list L1 to g1 (A by association, B and C by interest), L2 to g2 (A and D by
  // association); g1 clicks A and orders it 15 min later (15.00), clicks B and orders it 25 h later
  // (too late); g2 clicks D, no order; g3 clicks C and orders 2 x 10.00 within the hour
  const shown = (at: number, u: string, listId: string, items: [string, string][]): EventRow =>
    ev('recommendation_shown', at, u, {
      listId,
      items: items.map(([sku, source], i) => ({ sku, source, position: i + 1 })),
      placement: 'product_page',
      contextSku: 'X',
    });
  const clicked = (at: number, u: string, listId: string, sku: string, source: string): EventRow =>
    ev('recommendation_clicked', at, u, { listId, sku, source, position: 1 });
  rows.push(
    shown(100, 'g1', 'L1', [
      ['A', 'association_rule'],
      ['B', 'interest'],
      ['C', 'interest'],
    ]),
    shown(200, 'g2', 'L2', [
      ['A', 'association_rule'],
      ['D', 'association_rule'],
    ]),
    clicked(110, 'g1', 'L1', 'A', 'association_rule'),
    order(1010, 'g1', 'og1', 1500, '', [product('A', 1500)]),
    clicked(120, 'g1', 'L1', 'B', 'interest'),
    order(120 + 25 * 3600, 'g1', 'og1b', 999, '', [product('B', 999)]),
    clicked(210, 'g2', 'L2', 'D', 'association_rule'),
    clicked(300, 'g3', 'Lx', 'C', 'interest'),
    order(400, 'g3', 'og3', 2000, '', [{ ...product('C', 1000), quantity: 2 }]),
  );
  return rows;
}

beforeAll(async () => {
  chs = await startTestClickHouse();
  sql = sqlFromClient(chs.ch);
  const rows = fixture();
  await chs.ch.insert({ table: `${chs.config.database}.events`, values: rows, format: 'JSONEachRow' });
  // r1's abandonment and order stored twice (a duplicate that slipped past the sink): counted once
  const again = rows.filter((r) => r.cart_id === 'kr1');
  await chs.ch.insert({ table: `${chs.config.database}.events`, values: again, format: 'JSONEachRow' });
}, 60_000);

afterAll(async () => {
  await chs?.stop();
});

it('funnel: by day and channel of entry; the range bounds the entry step only', async () => {
  const [s] = await run('funnel', { windowMs: 3_600_000 });
  expect(s!.rows).toEqual([
    { day: '2026-11-24', channel: 'app', viewed: 3, carted: 2, checked_out: 0, ordered: 0, view_to_order: 0 },
    { day: '2026-11-24', channel: 'web', viewed: 1, carted: 1, checked_out: 1, ordered: 1, view_to_order: 1 },
    { day: '2026-11-25', channel: 'web', viewed: 1, carted: 1, checked_out: 0, ordered: 0, view_to_order: 0 },
  ]);
});

it('recovery: recovered carts and revenue, and the uplift against the holdout with its 95% interval', async () => {
  const [s] = await run('recovery');
  // treatment 4/10 = 0.4, holdout 1/5 = 0.2, uplift 20 points;
  // se = sqrt(0.4*0.6/10 + 0.2*0.8/5) = sqrt(0.056) = 0.236643; 1.959964 * se = 0.463812
  // -> [-26.38, 66.38] points: the interval holds 0, not significant
  expect(s!.rows).toEqual([
    {
      flow: 'cart-recovery',
      abandoned: 15,
      treatment_carts: 10,
      recovered: 4,
      recovered_revenue: 100,
      recovery_rate: 0.4,
      holdout_carts: 5,
      holdout_recovered: 1,
      holdout_rate: 0.2,
      uplift_pts: 20,
      ci95_low_pts: -26.38,
      ci95_high_pts: 66.38,
      significance: 'not significant',
    },
  ]);
});

it('coupons: by campaign and tier, with redemption rate, revenue per coupon and budget used', async () => {
  const [s] = await run('coupons', { budgets: new Map([['tier-coupons', 10_000]]) });
  // tier-coupons issued 5.00 + 5.00 + 10.00 = 20.00 of a 100.00 budget: 0.2
  expect(s!.rows).toEqual([
    {
      campaign: 'cart-coupons',
      tier: 'new',
      issued: 1,
      issued_value: 3,
      redeemed: 0,
      redemption_rate: 0,
      discount_given: 0,
      revenue: 0,
      revenue_per_coupon: 0,
      budget_used: null,
    },
    {
      campaign: 'tier-coupons',
      tier: 'new',
      issued: 2,
      issued_value: 10,
      redeemed: 1,
      redemption_rate: 0.5,
      discount_given: 5,
      revenue: 30,
      revenue_per_coupon: 15,
      budget_used: 0.2,
    },
    {
      campaign: 'tier-coupons',
      tier: 'repeat',
      issued: 1,
      issued_value: 10,
      redeemed: 1,
      redemption_rate: 1,
      discount_given: 10,
      revenue: 80,
      revenue_per_coupon: 80,
      budget_used: 0.2,
    },
  ]);
});

it('service: containment, handoff rate, first response and resolution percentiles, SLA, unanswered', async () => {
  const [s, gaps] = await run('service');
  // percentiles are nearest-rank (ClickHouse quantileExact: the sorted values' element at
  // floor(level * n)): bot first replies [100, 200, 300, 400] -> p50 300, p95 400, p99 400; bot
  // resolutions [30, 60] s -> 60; human first responses [60, 120] s -> 120,000 ms; resolution [300] s
  expect(s!.rows).toEqual([
    {
      responder: 'bot',
      conversations: 4,
      contained: 2,
      containment: 0.5,
      handoff_rate: 0.5,
      first_response_p50: 300,
      first_response_p95: 400,
      first_response_p99: 400,
      resolved: 2,
      resolution_p50: 60,
      resolution_p95: 60,
      resolution_p99: 60,
      first_response_sla: null,
      resolution_sla: null,
    },
    {
      responder: 'human',
      conversations: 2,
      contained: null,
      containment: null,
      handoff_rate: null,
      first_response_p50: 120_000,
      first_response_p95: 120_000,
      first_response_p99: 120_000,
      resolved: 1,
      resolution_p50: 300,
      resolution_p95: 300,
      resolution_p99: 300,
      first_response_sla: 0.5, // met 1, missed 1
      resolution_sla: 1, // met 1, undecided 1
    },
  ]);
  expect(gaps!.rows).toEqual([{ question: '我要投诉', times: 1 }]);
});

it('recommendations: impressions, clicks, and orders of the clicked product within 24 h, by source', async () => {
  const [s] = await run('recommendations');
  expect(s!.rows).toEqual([
    // shown A, A, D; clicked A (ordered within 24 h: 15.00) and D
    {
      source: 'association_rule',
      impressions: 3,
      clicks: 2,
      click_rate: 0.6667,
      orders_24h: 1,
      order_rate: 0.5,
      revenue: 15,
    },
    // shown B, C; clicked B (ordered after 25 h: not counted) and C (ordered: 2 x 10.00)
    {
      source: 'interest',
      impressions: 2,
      clicks: 2,
      click_rate: 1,
      orders_24h: 1,
      order_rate: 0.5,
      revenue: 20,
    },
  ]);
});

it('answers empty sections for a range with no events (rates are null, not 0)', async () => {
  const empty = {
    database: chs.config.database,
    from: new Date(T0 - 10 * DAY * 1000),
    to: new Date(T0 - 9 * DAY * 1000),
  };
  for (const name of ['funnel', 'recovery', 'coupons', 'recommendations'])
    expect((await findReport(name)!.run(sql, empty))[0]!.rows).toEqual([]);
  const [s] = await findReport('service')!.run(sql, empty);
  expect(s!.rows[0]).toMatchObject({ conversations: 0, containment: null, first_response_p50: null });
});
