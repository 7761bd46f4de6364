// TODO(lead): service.ts composition root. Moved to coupons/coupon-ledger.ts; remove once service.ts imports it there.
export { couponRef } from '../coupons/coupon-ledger';
