// What the demo's simulated shoppers look at to decide whether to come back and order while the
// flows run: their reminded and held-out open carts, their unused tier coupons, and how many reminders
// came so far. Demo logic, on analytics' query runner; the SQL is in demo/queries/.
import * as path from 'node:path';
import { loadQuery, num, runQuery, type ReportScope } from '../analytics/queries';
import type { Sql } from '../infra/clickhouse/sql';

const DIR = path.join(__dirname, 'queries');
const Q = {
  reminderProgress: loadQuery(DIR, 'reminder-progress'),
  remindedOpenCarts: loadQuery(DIR, 'reminded-open-carts'),
  heldOutOpenCarts: loadQuery(DIR, 'held-out-open-carts'),
  unredeemedCoupons: loadQuery(DIR, 'unredeemed-coupons'),
};

type N = number | string;
type CartItems = { sku: string; priceMinor: number; quantity: number }[];
const cartItems = (items: [string, N, N][]): CartItems =>
  items.map(([sku, price, qty]) => ({ sku, priceMinor: num(price), quantity: Math.max(1, num(qty)) }));

/** Reminder events so far for the run's carts: all, and those carrying a coupon. */
export async function reminderProgress(
  sql: Sql,
  scope: Required<ReportScope>,
): Promise<{ reminders: number; withCoupon: number }> {
  const [r] = await runQuery<{ reminders: N; coupons: N }>(sql, Q.reminderProgress, {
    db: scope.database,
    producer: scope.producerId,
  });
  return { reminders: num(r?.reminders), withCoupon: num(r?.coupons) };
}

export interface RemindedCart {
  cartId: string;
  userId: string;
  totalMinor: number;
  currency: string;
  items: CartItems;
  /** The step of the latest reminder so far. */
  step: number;
  /** The coupon of the latest reminder (its ref, as the events carry it), '' if none; its amount. */
  couponRef: string;
  couponAmountMinor: number;
  /** The coupon's campaign and tier: what its customer's code derives from. */
  couponCampaign: string;
  couponTier: string;
}

/** The run's carts that got a reminder and have no order: who might come back. */
export async function remindedOpenCarts(sql: Sql, scope: Required<ReportScope>): Promise<RemindedCart[]> {
  const rows = await runQuery<{
    cart_id: string;
    user_id: string;
    total: N;
    currency: string;
    items: [string, N, N][];
    coupon_code: string;
    step: N;
    amount: N | null;
    campaign: string | null;
    tier: string | null;
  }>(sql, Q.remindedOpenCarts, { db: scope.database, producer: scope.producerId });
  return rows.map((r) => ({
    cartId: r.cart_id,
    userId: r.user_id,
    totalMinor: num(r.total),
    currency: r.currency || 'USD',
    items: cartItems(r.items),
    step: num(r.step),
    couponRef: r.coupon_code,
    couponAmountMinor: r.coupon_code ? num(r.amount) : 0,
    couponCampaign: r.campaign ?? '',
    couponTier: r.tier ?? '',
  }));
}

/** Carts of the run whose shopper is in a cart flow's holdout group and has not ordered. */
export async function heldOutOpenCarts(
  sql: Sql,
  db: string,
  producerId: string,
): Promise<{ cartId: string; userId: string; totalMinor: number; items: CartItems }[]> {
  const rows = await runQuery<{ cart_id: string; user_id: string; total: N; items: [string, N, N][] }>(
    sql,
    Q.heldOutOpenCarts,
    { db, producer: producerId },
  );
  return rows.map((r) => ({
    cartId: r.cart_id,
    userId: r.user_id,
    totalMinor: num(r.total),
    items: cartItems(r.items),
  }));
}

/**
 * A coupon a simulated shopper may come back to use: the tier flows' unredeemed ones since `since`.
 * `ref` is the code's analytics ref (the events never carry the code itself).
 */
export interface OpenCoupon {
  userId: string;
  ref: string;
  tier: string;
  amountMinor: number;
}

export async function unredeemedCoupons(
  sql: Sql,
  db: string,
  campaign: string,
  since: number,
): Promise<OpenCoupon[]> {
  const rows = await runQuery<{ user_id: string; code: string; tier: string; amount: N }>(
    sql,
    Q.unredeemedCoupons,
    { db, campaign, since: since / 1000 },
  );
  return rows.map((r) => ({ userId: r.user_id, ref: r.code, tier: r.tier, amountMinor: num(r.amount) }));
}
