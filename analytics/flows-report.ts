// What the analysts ask of the flows, from the events alone: coupons issued and redeemed by campaign
// and tier (coupon_issued, coupon_redeemed), and each flow's uplift: how many users in the treatment
// and in the holdout group (flow_entered) ordered after entering (for cart flows: that cart). Scoped
// to flows entered since `since` (one demo run).
import type { Sql } from '../infra/clickhouse/sql';

export interface CouponRow {
  campaign: string;
  tier: string;
  issued: number;
  issuedMinor: number;
  redeemed: number;
  discountMinor: number;
}

export interface UpliftRow {
  flow: string;
  group: 'treatment' | 'holdout';
  entered: number;
  converted: number;
}

export interface FlowsReport {
  coupons: CouponRow[];
  uplift: UpliftRow[];
}

const n = (v: number | string | null | undefined): number => Number(v ?? 0);

export async function buildFlowsReport(sql: Sql, db: string, since: number): Promise<FlowsReport> {
  const params = { since: since / 1000 };
  const coupons = await sql.query<{
    campaign: string;
    tier: string;
    issued: number | string;
    issued_minor: number | string;
    redeemed: number | string;
    discount: number | string;
  }>(
    `SELECT i.campaign_id AS campaign, i.tier AS tier, count() AS issued, sum(i.amount) AS issued_minor,
            countIf(r.coupon_code != '') AS redeemed, sum(r.discount) AS discount
     FROM (SELECT coupon_code, any(campaign_id) AS campaign_id, any(tier) AS tier, any(discount_minor) AS amount
           FROM ${db}.events FINAL
           WHERE event_type = 'coupon_issued' AND occurred_at >= toDateTime64({since:Float64}, 3)
           GROUP BY coupon_code) AS i
     LEFT JOIN (SELECT coupon_code, any(discount_minor) AS discount FROM ${db}.events FINAL
                WHERE event_type = 'coupon_redeemed' GROUP BY coupon_code) AS r
       ON r.coupon_code = i.coupon_code
     GROUP BY campaign, tier ORDER BY campaign, tier`,
    params,
  );
  // a user converted when they ordered after entering (a cart flow: an order of that cart)
  const uplift = await sql.query<{
    flow: string;
    holdout: number | string;
    entered: number | string;
    converted: number | string;
  }>(
    `SELECT flow, holdout, count() AS entered, countIf(converted) AS converted
     FROM (SELECT f.flow AS flow, f.holdout AS holdout, f.user_id AS user_id, f.cart_id AS cart_id,
                  max(o.occurred_at > f.entered AND (f.cart_id = '' OR o.cart_id = f.cart_id)) AS converted
           FROM (SELECT flow, JSONExtractBool(properties, 'holdout') AS holdout, user_id, cart_id,
                        min(occurred_at) AS entered
                 FROM ${db}.events FINAL
                 WHERE event_type = 'flow_entered' AND occurred_at >= toDateTime64({since:Float64}, 3)
                 GROUP BY flow, holdout, user_id, cart_id) AS f
           LEFT JOIN (SELECT user_id, cart_id, occurred_at FROM ${db}.events FINAL
                      WHERE event_type = 'order_placed' AND occurred_at >= toDateTime64({since:Float64}, 3)) AS o
             ON o.user_id = f.user_id
           GROUP BY flow, holdout, user_id, cart_id)
     GROUP BY flow, holdout ORDER BY flow, holdout`,
    params,
  );
  return {
    coupons: coupons.map((r) => ({
      campaign: r.campaign,
      tier: r.tier,
      issued: n(r.issued),
      issuedMinor: n(r.issued_minor),
      redeemed: n(r.redeemed),
      discountMinor: n(r.discount),
    })),
    uplift: uplift.map((r) => ({
      flow: r.flow,
      group: n(r.holdout) ? 'holdout' : 'treatment',
      entered: n(r.entered),
      converted: n(r.converted),
    })),
  };
}

const money = (minor: number): string => (minor / 100).toFixed(2);
const pct = (a: number, b: number): string => (b > 0 ? `${((100 * a) / b).toFixed(1)}%` : '-');

export function formatFlowsReport(r: FlowsReport): string {
  const lines: string[] = [];
  lines.push('Coupons by campaign and tier (coupon_issued, coupon_redeemed events)');
  lines.push(
    `  ${'campaign'.padEnd(32)} ${'tier'.padEnd(11)} ${'issued'.padStart(7)} ${'face value'.padStart(11)} ${'redeemed'.padStart(9)} ${'rate'.padStart(6)} ${'discount'.padStart(10)}`,
  );
  for (const c of r.coupons)
    lines.push(
      `  ${c.campaign.padEnd(32)} ${c.tier.padEnd(11)} ${String(c.issued).padStart(7)} ${money(c.issuedMinor).padStart(11)} ${String(c.redeemed).padStart(9)} ${pct(c.redeemed, c.issued).padStart(6)} ${money(c.discountMinor).padStart(10)}`,
    );
  if (r.coupons.length === 0) lines.push('  (none)');
  lines.push('');
  lines.push('Uplift against the holdout group (flow_entered; converted = ordered after entering)');
  const flows = [...new Set(r.uplift.map((u) => u.flow))];
  for (const flow of flows) {
    const t = r.uplift.find((u) => u.flow === flow && u.group === 'treatment');
    const h = r.uplift.find((u) => u.flow === flow && u.group === 'holdout');
    const rate = (u?: UpliftRow): number => (u && u.entered > 0 ? u.converted / u.entered : NaN);
    const diff = rate(t) - rate(h);
    lines.push(
      `  ${flow.padEnd(24)} treatment ${t?.converted ?? 0}/${t?.entered ?? 0} (${pct(t?.converted ?? 0, t?.entered ?? 0)})   holdout ${h?.converted ?? 0}/${h?.entered ?? 0} (${pct(h?.converted ?? 0, h?.entered ?? 0)})   uplift ${Number.isFinite(diff) ? `${(100 * diff).toFixed(1)} points` : '-'}`,
    );
  }
  if (flows.length === 0) lines.push('  (no flow entered)');
  return lines.join('\n');
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
  const rows = await sql.query<{ user_id: string; code: string; tier: string; amount: number | string }>(
    `SELECT any(user_id) AS user_id, coupon_code AS code, any(tier) AS tier, any(discount_minor) AS amount
     FROM ${db}.events FINAL
     WHERE event_type = 'coupon_issued' AND campaign_id = {campaign:String}
       AND occurred_at >= toDateTime64({since:Float64}, 3)
       AND coupon_code NOT IN (SELECT coupon_code FROM ${db}.events WHERE event_type = 'coupon_redeemed')
     GROUP BY coupon_code ORDER BY coupon_code`,
    { campaign, since: since / 1000 },
  );
  return rows.map((r) => ({ userId: r.user_id, ref: r.code, tier: r.tier, amountMinor: n(r.amount) }));
}

/** Carts of the run whose shopper is in a cart flow's holdout group and has not ordered. */
export async function heldOutOpenCarts(
  sql: Sql,
  db: string,
  producerId: string,
): Promise<
  {
    cartId: string;
    userId: string;
    totalMinor: number;
    items: { sku: string; priceMinor: number; quantity: number }[];
  }[]
> {
  const rows = await sql.query<{
    cart_id: string;
    user_id: string;
    total: number | string;
    items: [string, number | string, number | string][];
  }>(
    `SELECT c.cart_id AS cart_id, c.user_id AS user_id, c.total AS total, c.items AS items
     FROM (SELECT cart_id, any(user_id) AS user_id,
                  argMaxIf(cart_total_minor, (occurred_at, sequence), event_type LIKE 'cart_item_%') AS total,
                  groupArrayIf((sku, price_minor, quantity), event_type = 'cart_item_added') AS items,
                  countIf(event_type = 'order_placed') AS orders
           FROM ${db}.events FINAL WHERE producer_id = {producer:String} AND cart_id != ''
           GROUP BY cart_id) AS c
     INNER JOIN (SELECT DISTINCT cart_id FROM ${db}.events
                 WHERE event_type = 'flow_entered' AND JSONExtractBool(properties, 'holdout')) AS f
       ON f.cart_id = c.cart_id
     WHERE c.orders = 0 AND c.total > 0 AND length(c.items) > 0
     ORDER BY cart_id`,
    { producer: producerId },
  );
  return rows.map((r) => ({
    cartId: r.cart_id,
    userId: r.user_id,
    totalMinor: n(r.total),
    items: r.items.map(([sku, price, qty]) => ({ sku, priceMinor: n(price), quantity: Math.max(1, n(qty)) })),
  }));
}
