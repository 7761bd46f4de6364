// The demo's tiered coupon release (DEMO_FLOW_WINDOWS=1): the shipped flow with seconds instead of
// days, no quiet hours, so `make demo` shows tier coupons issued and redeemed. Not a shipped flow.
import { defineFlow, onCouponRedeemed, onOptOut, send, sendWithCoupon, wait } from '../dsl';

export const tierCouponsDemo = defineFlow({
  name: 'tier-coupons-demo',
  version: 1,
  trigger: 'tier_reached',
  audience: { tiers: ['repeat', 'high_value'], holdoutPercent: 10 },
  frequencyCap: { perUserPerDay: 10 },
  steps: [
    sendWithCoupon('app_push', 'tier_coupon_welcome', {
      campaign: 'tier-coupons-demo',
      budget: { maxCoupons: 100_000, maxSpendMinor: 100_000_000 },
      byTier: { repeat: { amountMinor: 1_000 }, high_value: { amountMinor: 3_000 } },
      expiresAfter: '2m',
    }),
    wait('8s'),
    send('email', 'tier_coupon_expiring'),
  ],
  exit: [onCouponRedeemed(), onOptOut()],
});
