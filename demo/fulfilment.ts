// What happens to a simulated order after it is placed, as the shop's server reports it: paid within
// minutes, shipped with a courier (SF, ZTO, YTO, JD, EMS) and a waybill number in that courier's
// format, delivered, and now and then refunded. Times are compressed to fit the demo's two simulated
// hours, and nothing is planned after `until` (the simulated now): some orders are still on the way.
// Pure and seeded: its own random stream, so the rest of a journey draws as it did before.
import type { PayloadMap } from '../schemas/events';
import { intBetween, pick } from './random';

export type FulfilmentEvent =
  | { type: 'order_paid'; at: number; properties: PayloadMap['order_paid'] }
  | { type: 'order_shipped'; at: number; properties: PayloadMap['order_shipped'] }
  | { type: 'order_delivered'; at: number; properties: PayloadMap['order_delivered'] }
  | { type: 'order_refunded'; at: number; properties: PayloadMap['order_refunded'] };

/** Couriers with their share of parcels and a waybill number in their format. */
const COURIERS: { carrier: string; share: number; waybill: (digits: (n: number) => string) => string }[] = [
  { carrier: 'SF', share: 0.35, waybill: (d) => `SF${d(12)}` },
  { carrier: 'ZTO', share: 0.25, waybill: (d) => `7${d(13)}` },
  { carrier: 'YTO', share: 0.2, waybill: (d) => `YT${d(13)}` },
  { carrier: 'JD', share: 0.15, waybill: (d) => `JDVA${d(11)}` },
  { carrier: 'EMS', share: 0.05, waybill: (d) => `E${d(9)}CN` },
];

const MINUTE = 60_000;

export function planFulfilment(
  rnd: () => number,
  order: { orderId: string; placedAt: number; totalMinor: number; currency: string },
  until: number,
): FulfilmentEvent[] {
  const out: FulfilmentEvent[] = [];
  const { orderId } = order;
  const add = (e: FulfilmentEvent): boolean => e.at <= until && out.push(e) > 0;
  // 5% are never paid (the payment page abandoned)
  if (rnd() < 0.05) return out;
  const paidAt = order.placedAt + intBetween(rnd, 10, 180) * 1000;
  const paid = add({
    type: 'order_paid',
    at: paidAt,
    properties: {
      orderId,
      totalMinor: order.totalMinor,
      currency: order.currency,
      paymentMethod: pick(rnd, ['alipay', 'wechat_pay', 'card']),
    },
  });
  if (!paid) return out;
  let r = rnd();
  const courier = COURIERS.find((c) => (r -= c.share) < 0) ?? COURIERS[0]!;
  const digits = (n: number): string => Array.from({ length: n }, () => intBetween(rnd, 0, 9)).join('');
  const shippedAt = paidAt + intBetween(rnd, 5, 40) * MINUTE;
  const deliveredAt = shippedAt + intBetween(rnd, 10, 60) * MINUTE;
  const refund = rnd() < 0.04;
  const shipped = add({
    type: 'order_shipped',
    at: shippedAt,
    properties: {
      orderId,
      carrier: courier.carrier,
      trackingNumber: courier.waybill(digits),
      // the courier's estimate: a day or two (real time), on the simulated clock
      estimatedDeliveryAt: shippedAt + intBetween(rnd, 1, 2) * 86_400_000,
    },
  });
  if (shipped && add({ type: 'order_delivered', at: deliveredAt, properties: { orderId } }) && refund)
    add({
      type: 'order_refunded',
      at: deliveredAt + intBetween(rnd, 5, 30) * MINUTE,
      properties: { orderId, totalMinor: order.totalMinor, currency: order.currency },
    });
  return out;
}
