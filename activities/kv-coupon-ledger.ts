// TODO(lead): service.ts composition root. Moved to coupons/kv-coupon-ledger.ts; remove once service.ts imports it there.
export { createKvCouponLedger } from '../coupons/kv-coupon-ledger';
