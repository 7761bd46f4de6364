// The demo's cart-recovery flow (DEMO_FLOW_WINDOWS=1): the shipped flow's steps with seconds instead
// of hours, so `make demo` shows reminders, coupons by tier and recovered orders within a minute. No
// quiet hours (the demo runs at any time of day); a small frequency cap. Not a shipped flow.
import { defineFlow, onCartEmptied, onOptOut, onPurchase, send, sendWithCoupon, wait } from '../dsl';

export const cartRecoveryDemo = defineFlow({
  name: 'cart-recovery-demo',
  version: 1,
  trigger: 'cart_abandoned',
  audience: { holdoutPercent: 10 },
  abandonAfter: '5s',
  frequencyCap: { perUserPerDay: 10 },
  steps: [
    wait('2s'),
    send('app_push', 'cart_reminder_1'),
    wait('4s'),
    sendWithCoupon('email', 'cart_reminder_coupon', {
      campaign: 'cart-recovery-demo-tier-coupon',
      budget: { maxCoupons: 100_000, maxSpendMinor: 100_000_000 },
      byTier: {
        new: { amountMinor: 500, minCartMinor: 3_000 },
        repeat: { amountMinor: 1_000, minCartMinor: 5_000 },
        high_value: { amountMinor: 2_000 },
      },
      expiresAfter: '1d',
    }),
    wait('6s'),
    send('app_push', 'cart_reminder_last'),
  ],
  exit: [onPurchase(), onCartEmptied(), onOptOut()],
});
