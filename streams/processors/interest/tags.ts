// Behaviour tags and value tiers, derived from a profile state at a time `now`. Pure; every tag
// says why, so marketers (and the coupon and recovery flows that read them) can trust it.
import type { Config } from '../../../infra/config';
import type { Tier } from '../../../schemas/tiers';
import type { Counters, ProfileState } from './model';

export type Tag = 'price_sensitive' | 'style_hesitant' | 'high_intent' | 'churn_risk';
export type { Tier };

export interface TagResult {
  tag: Tag;
  reason: string;
}

export interface Segmentation {
  tags: TagResult[];
  tier: Tier;
  tierReason: string;
}

const HOUR = 3_600_000;
/** Cart or checkout activity this recent, without an order after it, is high intent. */
export const HIGH_INTENT_WINDOW_MS = 24 * HOUR;
/** Viewing or carting one product this often without buying it is hesitation. */
export const HESITANT_REPEATS = 3;
/** Distinct products viewed in one category that count as comparing. */
export const COMPARE_PRODUCTS = 4;

export function segment(s: ProfileState, now: number, cfg: Config['tiers']): Segmentation {
  const c = s.counters;
  const tags: TagResult[] = [];

  const priceSignals: string[] = [];
  if (c.priceFilters >= 2) priceSignals.push(`filtered or sorted by price ${c.priceFilters} times`);
  if (c.orders > 0 && c.discountedOrders / c.orders >= 0.5)
    priceSignals.push(`${c.discountedOrders} of ${c.orders} orders used a coupon or discount`);
  const compared = Object.entries(s.compared).filter(([, skus]) => skus.length >= COMPARE_PRODUCTS);
  if (compared.length > 0 && c.priceFilters >= 1) {
    priceSignals.push(`compared ${compared[0]![1].length} products in ${compared[0]![0]}`);
  }
  if (priceSignals.length > 0) tags.push({ tag: 'price_sensitive', reason: priceSignals.join('; ') });

  const hesitant = Object.entries(s.skus)
    .filter(
      ([, st]) =>
        st.orders === 0 && (st.views >= HESITANT_REPEATS || st.carts + st.removes >= HESITANT_REPEATS),
    )
    .sort((a, b) => b[1].views + b[1].carts - (a[1].views + a[1].carts) || a[0].localeCompare(b[0]));
  if (hesitant.length > 0) {
    const [sku, st] = hesitant[0]!;
    tags.push({
      tag: 'style_hesitant',
      reason: `viewed ${sku} ${st.views} times, carted ${st.carts}, removed ${st.removes}, never ordered`,
    });
  }

  const lastIntent = Math.max(s.lastCartAt, s.lastCheckoutAt);
  if (lastIntent > s.lastOrderAt && now - lastIntent <= HIGH_INTENT_WINDOW_MS) {
    const what = s.lastCheckoutAt >= s.lastCartAt ? 'started checkout' : 'changed the cart';
    tags.push({
      tag: 'high_intent',
      reason: `${what} ${Math.round((now - lastIntent) / 60_000)} min ago without ordering since`,
    });
  }

  if (c.orders > 0 && now - s.lastEventAt > cfg.churnAfterMs) {
    tags.push({
      tag: 'churn_risk',
      reason: `a customer with ${c.orders} orders, inactive for ${Math.round((now - s.lastEventAt) / 86_400_000)} days`,
    });
  }

  const { tier, reason: tierReason } = tierOf(c, cfg);
  return { tags, tier, tierReason };
}

/**
 * The value tier and why. Depends only on the order and refund counters (sums, whatever the order
 * of events), never on the clock: the same events give the same tier, live or replayed.
 */
export function tierOf(c: Counters, cfg: Config['tiers']): { tier: Tier; reason: string } {
  const netSpend = c.spendMinor - c.refundedMinor;
  const netOrders = Math.max(0, c.orders - c.refunds);
  if (netOrders >= cfg.highValueOrders || netSpend >= cfg.highValueSpendMinor) {
    return {
      tier: 'high_value',
      reason: `${netOrders} orders, ${(netSpend / 100).toFixed(2)} spent (thresholds: ${cfg.highValueOrders} orders or ${(cfg.highValueSpendMinor / 100).toFixed(2)})`,
    };
  }
  if (netOrders >= cfg.repeatOrders) return { tier: 'repeat', reason: `${netOrders} orders` };
  return {
    tier: 'new',
    reason: netOrders === 0 ? 'no orders yet' : `${netOrders} order(s), below ${cfg.repeatOrders}`,
  };
}
