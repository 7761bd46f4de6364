// The shipped cart-recovery flow: three reminders after a cart is abandoned (idle for 30 minutes),
// the second with a coupon by value tier. Waits are sequential, so the reminders fall 1h, 24h and
// 72h after abandonment (later only when quiet hours push a message to the morning).
import { defineFlow, onCartEmptied, onOptOut, onPurchase, send, sendWithCoupon, wait } from '../dsl';

export const cartRecovery = defineFlow({
  name: 'cart-recovery',
  version: 1,
  trigger: 'cart_abandoned',
  audience: { holdoutPercent: 10 },
  abandonAfter: '30m',
  quietHours: { start: '21:00', end: '08:00' },
  frequencyCap: { perUserPerDay: 2 },
  steps: [
    wait('1h'),
    send('app_push', 'cart_reminder_1'),
    wait('23h'),
    sendWithCoupon('email', 'cart_reminder_coupon', {
      campaign: 'cart-recovery-tier-coupon',
      budget: { maxCoupons: 10_000, maxSpendMinor: 10_000_000 },
      byTier: {
        new: { amountMinor: 500, minCartMinor: 3_000 },
        repeat: { amountMinor: 1_000, minCartMinor: 5_000 },
        high_value: { amountMinor: 2_000 },
      },
      expiresAfter: '7d',
    }),
    wait('48h'),
    send('app_push', 'cart_reminder_last'),
  ],
  exit: [onPurchase(), onCartEmptied(), onOptOut()],
});
