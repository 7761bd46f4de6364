// The analysts' model (analytics/migrations/0006_model.sql) on a small shop whose right answers were
// worked out by hand: order items with category and brand from the catalog when the event lacks
// them, orders with their status, carts with their outcome (ordered, recovered by which reminder,
// abandoned, open), flow entries and messages with the holdout flag, coupons, conversations,
// sessions; and the hourly rollup, which counts a duplicate the sink let through until the backfill
// rebuilds it from events alone.
import { backfillModel, loadCatalogProducts } from '../../analytics/model';
import type { ClickHouseClient } from '../../infra/clickhouse/client';
import { startTestClickHouse, type TestClickHouse } from '../../infra/stack/test-clickhouse';
import type { PayloadMap } from '../../schemas/events';
import type { EventRow } from '../../streams/sinks/clickhouse/rows';
import { eventRows, type Product } from '../helpers/event-rows';

let chs: TestClickHouse;
let ch: ClickHouseClient;
let db: string;
const T0 = Date.UTC(2026, 10, 24, 12);
const ev = eventRows(T0);
const item = (sku: string, quantity: number, priceMinor: number, category = '', brand = ''): Product => ({
  sku,
  productId: sku,
  name: sku,
  category,
  brand,
  priceMinor,
  quantity,
});
const ref = (n: number): string => `cr_${String(n).padStart(20, '0')}`;
const usd = { currency: 'USD' } as const;
const add = (at: number, u: string, cartId: string): EventRow =>
  ev(
    'cart_item_added',
    at,
    u,
    { cartId, product: item('A', 1, 1000), cartTotalMinor: 1000, ...usd },
    { sessionId: `s-${u}` },
  );
const order = (at: number, u: string, orderId: string, p: Partial<PayloadMap['order_placed']>): EventRow =>
  ev(
    'order_placed',
    at,
    u,
    { orderId, cartId: '', products: [item('A', 1, 1000)], totalMinor: 1000, ...usd, ...p },
    { sessionId: `s-${u}` },
  );
const entered = (at: number, u: string, cartId: string, holdout: boolean): EventRow =>
  ev('flow_entered', at, u, {
    flow: 'cart-recovery',
    workflowId: `wf-${cartId}`,
    flowVersion: 1,
    holdout,
    cartId,
    tier: 'new',
  });
const reminder = (at: number, u: string, cartId: string, step: number): EventRow =>
  ev('reminder_sent', at, u, {
    flow: 'cart-recovery',
    workflowId: `wf-${cartId}`,
    step,
    deliveryChannel: 'app_push',
    cartId,
    template: `t${step}`,
  });
const turn = (at: number, u: string, cv: string, role: 1 | 2 | 3, extra = {}): EventRow =>
  ev('chat_turn', at, u, { conversationId: cv, role, text: 'hi', channel: 1, turnIndex: 0, ...extra });

const rowsOf = async <T>(query: string): Promise<T[]> =>
  (await ch.query({ query: query.replaceAll('{db}', db), format: 'JSONEachRow' })).json<T>();

beforeAll(async () => {
  chs = await startTestClickHouse();
  ch = chs.ch;
  db = chs.config.database;
  await loadCatalogProducts(ch, db, [
    { sku: 'A', category: 'apparel', brand: 'Northwind', priceMinor: 1000 },
    { sku: 'B', category: 'home', brand: 'Lumen', priceMinor: 500 },
  ]);
  const rows = [
    // u1: cart k1 ordered without being abandoned; o1 has A x2 (no category in the event) and B x1
    add(0, 'u1', 'k1'),
    order(100, 'u1', 'o1', {
      cartId: 'k1',
      products: [item('A', 2, 1000), item('B', 1, 500, 'home', 'Acme')],
      totalMinor: 2500,
    }),
    ev('order_paid', 200, 'u1', {
      orderId: 'o1',
      totalMinor: 2500,
      ...usd,
      paymentMethod: 'card',
    }),
    ev('order_shipped', 300, 'u1', {
      orderId: 'o1',
      carrier: 'SF',
      trackingNumber: 'SF1234567890',
    }),
    // u2: k2 abandoned at 50, reminded at 60 (step 1) and 80 (step 2), ordered at 90 with coupon 1
    add(0, 'u2', 'k2'),
    entered(50, 'u2', 'k2', false),
    reminder(60, 'u2', 'k2', 1),
    reminder(80, 'u2', 'k2', 2),
    ev('coupon_issued', 70, 'u2', {
      campaignId: 'cart-coupons',
      couponCode: ref(1),
      tier: 'new',
      amountMinor: 300,
      ...usd,
    }),
    order(90, 'u2', 'o2', { cartId: 'k2', couponCode: ref(1), discountMinor: 300, totalMinor: 700 }),
    ev('coupon_redeemed', 91, 'u2', {
      campaignId: 'cart-coupons',
      couponCode: ref(1),
      orderId: 'o2',
      discountMinor: 300,
      ...usd,
    }),
    // u3: k3 abandoned in the holdout group; u4: k4 still open; coupon 2 never used
    add(0, 'u3', 'k3'),
    entered(50, 'u3', 'k3', true),
    add(0, 'u4', 'k4'),
    ev('coupon_issued', 70, 'u4', {
      campaignId: 'tier-coupons',
      couponCode: ref(2),
      tier: 'repeat',
      amountMinor: 1000,
      ...usd,
    }),
    // cv1 answered by the bot in 150 ms; cv2 handed to a human and closed
    turn(10, 'u1', 'cv1', 1),
    turn(10.15, 'u1', 'cv1', 2, { answered: true, latencyMs: 150 }),
    turn(20, 'u3', 'cv2', 1),
    turn(20.2, 'u3', 'cv2', 2, { answered: false, latencyMs: 200 }),
    ev('handoff_requested', 21, 'u3', {
      conversationId: 'cv2',
      reason: 'asked',
      confidence: 0.9,
      intent: 'human_handoff',
      turnIndex: 1,
    }),
    turn(50, 'u3', 'cv2', 3, { agentId: 'a1' }),
    ev('conversation_closed', 80, 'u3', { conversationId: 'cv2', reason: 'resolved', agentId: 'a1' }),
  ];
  await ch.insert({ table: `${db}.events`, values: rows, format: 'JSONEachRow' });
  // o1 stored twice (a duplicate the sink let through): the views read FINAL, the rollup does not
  await ch.insert({
    table: `${db}.events`,
    values: rows.filter((r) => r.order_id === 'o1' && r.event_type === 'order_placed'),
    format: 'JSONEachRow',
  });
}, 60_000);

afterAll(async () => {
  await chs?.stop();
});

it('order_items: one row per line, category and brand from the catalog when the event has none', async () => {
  expect(
    await rowsOf(
      `SELECT order_id, sku, quantity, line_minor, category, brand FROM {db}.order_items ORDER BY order_id, sku`,
    ),
  ).toEqual([
    { order_id: 'o1', sku: 'A', quantity: 2, line_minor: 2000, category: 'apparel', brand: 'Northwind' },
    { order_id: 'o1', sku: 'B', quantity: 1, line_minor: 500, category: 'home', brand: 'Acme' },
    { order_id: 'o2', sku: 'A', quantity: 1, line_minor: 1000, category: 'apparel', brand: 'Northwind' },
  ]);
});

it('orders: one per order with its latest status', async () => {
  expect(
    await rowsOf(`SELECT order_id, cart_id, total_minor, status FROM {db}.orders ORDER BY order_id`),
  ).toEqual([
    { order_id: 'o1', cart_id: 'k1', total_minor: 2500, status: 'shipped' },
    { order_id: 'o2', cart_id: 'k2', total_minor: 700, status: 'placed' },
  ]);
});

it('carts: outcome, the abandonment moment, reminders and the step that won it back', async () => {
  const carts = await rowsOf<Record<string, unknown>>(
    `SELECT cart_id, outcome, holdout, reminders, recovered_by_step, toUnixTimestamp(abandoned_at) AS abandoned
     FROM {db}.carts ORDER BY cart_id`,
  );
  const t0 = T0 / 1000;
  expect(carts).toEqual([
    { cart_id: 'k1', outcome: 'ordered', holdout: false, reminders: 0, recovered_by_step: 0, abandoned: 0 },
    {
      cart_id: 'k2',
      outcome: 'recovered',
      holdout: false,
      reminders: 2,
      recovered_by_step: 2,
      abandoned: t0 + 50,
    },
    {
      cart_id: 'k3',
      outcome: 'abandoned',
      holdout: true,
      reminders: 0,
      recovered_by_step: 0,
      abandoned: t0 + 50,
    },
    { cart_id: 'k4', outcome: 'open', holdout: false, reminders: 0, recovered_by_step: 0, abandoned: 0 },
  ]);
});

it('flow entries, messages sent with their holdout flag, and coupons', async () => {
  expect(await rowsOf(`SELECT cart_id, holdout FROM {db}.flow_entries ORDER BY cart_id`)).toEqual([
    { cart_id: 'k2', holdout: false },
    { cart_id: 'k3', holdout: true },
  ]);
  expect(
    await rowsOf(`SELECT cart_id, step, template, holdout FROM {db}.messages_sent ORDER BY step`),
  ).toEqual([
    { cart_id: 'k2', step: 1, template: 't1', holdout: false },
    { cart_id: 'k2', step: 2, template: 't2', holdout: false },
  ]);
  expect(
    await rowsOf(
      `SELECT campaign_id, tier, amount_minor, redeemed, order_id FROM {db}.coupons ORDER BY campaign_id`,
    ),
  ).toEqual([
    { campaign_id: 'cart-coupons', tier: 'new', amount_minor: 300, redeemed: true, order_id: 'o2' },
    { campaign_id: 'tier-coupons', tier: 'repeat', amount_minor: 1000, redeemed: false, order_id: '' },
  ]);
});

it('conversations and sessions', async () => {
  expect(
    await rowsOf(`SELECT conversation_id, user_turns, bot_turns, agent_turns, answered, first_response_ms, handed_over, contained,
                         toBool(closed_at > started_at) AS closed FROM {db}.conversations ORDER BY conversation_id`),
  ).toEqual([
    {
      conversation_id: 'cv1',
      user_turns: 1,
      bot_turns: 1,
      agent_turns: 0,
      answered: 1,
      first_response_ms: 150,
      handed_over: false,
      contained: true,
      closed: false,
    },
    {
      conversation_id: 'cv2',
      user_turns: 1,
      bot_turns: 1,
      agent_turns: 1,
      answered: 0,
      first_response_ms: 200,
      handed_over: true,
      contained: false,
      closed: true,
    },
  ]);
  expect(
    await rowsOf(
      `SELECT session_id, cart_adds, orders, revenue_minor FROM {db}.sessions WHERE session_id IN ('s-u1', 's-u2') ORDER BY session_id`,
    ),
  ).toEqual([
    { session_id: 's-u1', cart_adds: 1, orders: 1, revenue_minor: 2500 },
    { session_id: 's-u2', cart_adds: 1, orders: 1, revenue_minor: 700 },
  ]);
});

it('events_hourly fills as events arrive, and the backfill rebuilds it from events alone', async () => {
  const hourly = async () =>
    (
      await rowsOf<{ events: number; orders: number; revenue: number }>(
        `SELECT sum(events) AS n, sumIf(events, event_type = 'order_placed') AS orders, sum(revenue_minor) AS revenue FROM {db}.events_hourly`,
      )
    )[0]!;
  const [stored] = await rowsOf<{ n: number }>(`SELECT count() AS n FROM {db}.events FINAL`);
  // as inserted: o1's duplicate counts once more (its 2,500 too)
  expect(await hourly()).toEqual({ n: stored!.n + 1, orders: 3, revenue: 2500 + 2500 + 700 });
  const result = await backfillModel(ch, db);
  expect(result.events).toBe(stored!.n);
  expect(await hourly()).toEqual({ n: stored!.n, orders: 2, revenue: 2500 + 700 });
  const [users] = await rowsOf<{ u: number }>(`SELECT uniqMerge(users) AS u FROM {db}.events_hourly`);
  expect(users!.u).toBe(4);
});
