// Returning customers for the demo: before the shop's live traffic, about one in six simulated
// users gets an order history (1 to 6 orders over the last 25 days), so the interest processor puts
// some in the repeat and high-value tiers. Its tier_changed events start the tier coupon flow, and the
// cart-recovery coupons of those users follow their tier. Pure and seeded, like the simulator; the
// demo sends these through a producer of its own, so the run's funnel and event counts stay the
// live traffic's.
import type { PayloadMap } from '../schemas/events';
import { demoCatalog, type LoadedCatalog } from './catalog';
import { intBetween, mulberry32, pick } from './random';
import { asProduct, simTimeZone } from './simulator';

const DAY = 86_400_000;

export interface HistoricOrder {
  userId: string;
  occurredAt: number;
  timeZone: string;
  properties: PayloadMap['order_placed'];
}

/** Past orders of users 0..users-1 (the simulator's ids), oldest first per user. */
export function planHistory(opts: {
  users: number;
  seed: number;
  now: number;
  tag: string;
  catalog?: LoadedCatalog;
}): HistoricOrder[] {
  const catalog = opts.catalog ?? demoCatalog();
  const out: HistoricOrder[] = [];
  for (let i = 0; i < opts.users; i++) {
    const rnd = mulberry32(opts.seed * 7_919 + i * 104_729 + 17);
    if (rnd() >= 0.16) continue;
    const userId = `u${String(i).padStart(6, '0')}`;
    const orders = intBetween(rnd, 1, 6);
    for (let k = 0; k < orders; k++) {
      const products = Array.from({ length: intBetween(rnd, 1, 3) }, () =>
        asProduct(pick(rnd, catalog.products), intBetween(rnd, 1, 2)),
      );
      const totalMinor = products.reduce((s, p) => s + Number(p.priceMinor) * (p.quantity ?? 1), 0);
      out.push({
        userId,
        // spread over the last 25 days, oldest first, hours apart at least
        occurredAt: opts.now - (25 - (k * 24) / orders) * DAY + intBetween(rnd, 0, 6) * 3_600_000,
        timeZone: simTimeZone(i),
        properties: {
          orderId: `h-${userId}-${k + 1}${opts.tag}`,
          products,
          totalMinor,
          currency: 'USD',
        },
      });
    }
  }
  return out;
}
