// The shipped tiered coupon release: when the interest processor moves a customer up to the repeat or
// high-value tier, they get that tier's coupon at once (a welcome to the tier), and a reminder three
// days before it expires unless they used it. One coupon per user, campaign and tier; the campaign's
// budget caps both the number of coupons and their face value; 10% of users are held out.
import { defineFlow, onCouponRedeemed, onOptOut, send, sendWithCoupon, wait } from '../dsl';

export const tierCoupons = defineFlow({
  name: 'tier-coupons',
  version: 1,
  trigger: 'tier_reached',
  audience: { tiers: ['repeat', 'high_value'], holdoutPercent: 10 },
  quietHours: { start: '21:00', end: '08:00' },
  frequencyCap: { perUserPerDay: 2 },
  steps: [
    sendWithCoupon('app_push', 'tier_coupon_welcome', {
      campaign: 'tier-coupons',
      budget: { maxCoupons: 20_000, maxSpendMinor: 30_000_000 },
      byTier: { repeat: { amountMinor: 1_000 }, high_value: { amountMinor: 3_000 } },
      expiresAfter: '14d',
    }),
    wait('11d'),
    send('email', 'tier_coupon_expiring'),
  ],
  exit: [onCouponRedeemed(), onOptOut()],
});
