// Reading the order view, for the customer-service bot: a user's recent orders, one order by the id
// or the tracking number the user typed, and a short status sentence in Chinese or English.
//
// `user` is the user key the view is stored under (topology userKey): the customer id, or
// `anon:<anonymous id>` for a guest. Reads are one KV get; a view that is missing or unreadable reads
// as no orders.
import type { KV } from 'nats';
import { localTime } from '../../../schemas/time';
import { decodeOrders, normalizeReference, ordersKey, type OrderStatus, type OrderView } from './model';

export type { OrderView, OrderStatus };

/** The user's recent orders, newest first (at most MAX_ORDERS). */
export async function recentOrders(kv: KV, shopId: string, user: string): Promise<OrderView[]> {
  const entry = await kv.get(ordersKey(shopId, user));
  if (!entry || entry.operation !== 'PUT' || entry.value.length === 0) return [];
  return decodeOrders(entry.value)?.orders ?? [];
}

/** The order whose id or tracking number is `reference` (case and spaces ignored, a leading # too). */
export function matchOrder(orders: readonly OrderView[], reference: string): OrderView | undefined {
  const ref = normalizeReference(reference);
  if (ref === '') return undefined;
  const candidates = ref.startsWith('#') && ref.length > 1 ? [ref, ref.slice(1)] : [ref];
  for (const c of candidates) {
    const hit =
      orders.find((o) => normalizeReference(o.orderId) === c) ??
      orders.find((o) => o.shipment && o.shipment.trackingNumber === c);
    if (hit) return hit;
  }
  return undefined;
}

/** One of the user's recent orders by its id or tracking number as typed; undefined when none matches. */
export async function findOrder(
  kv: KV,
  shopId: string,
  user: string,
  orderIdOrTrackingNumber: string,
): Promise<OrderView | undefined> {
  return matchOrder(await recentOrders(kv, shopId, user), orderIdOrTrackingNumber);
}

/** Couriers' names by code; an unknown code is shown as it is. */
export const CARRIERS: Record<string, { zh: string; en: string }> = {
  SF: { zh: '顺丰速运', en: 'SF Express' },
  YTO: { zh: '圆通速递', en: 'YTO Express' },
  ZTO: { zh: '中通快递', en: 'ZTO Express' },
  STO: { zh: '申通快递', en: 'STO Express' },
  YD: { zh: '韵达快递', en: 'Yunda Express' },
  JD: { zh: '京东物流', en: 'JD Logistics' },
  EMS: { zh: '中国邮政EMS', en: 'China Post EMS' },
  DBL: { zh: '德邦快递', en: 'Deppon Express' },
  JT: { zh: '极兔速递', en: 'J&T Express' },
  DHL: { zh: 'DHL', en: 'DHL' },
  UPS: { zh: 'UPS', en: 'UPS' },
  FEDEX: { zh: 'FedEx', en: 'FedEx' },
};

export type Lang = 'zh' | 'en';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** '6月11日' or 'Jun 11', on the local calendar of `timeZone`. */
function day(at: number, lang: Lang, timeZone: string): string {
  const [, m, d] = localTime(at, timeZone).day.split('-').map(Number) as [number, number, number];
  return lang === 'zh' ? `${m}月${d}日` : `${MONTHS[m - 1]!} ${d}`;
}

/** '¥1,299.00', 'US$12.50': the amount in minor units of an ISO currency (2 decimals assumed). */
function money(minor: number, currency: string | undefined, lang: Lang): string {
  const value = minor / 100;
  if (!currency) return value.toFixed(2);
  try {
    return new Intl.NumberFormat(lang === 'zh' ? 'zh-CN' : 'en-US', { style: 'currency', currency }).format(
      value,
    );
  } catch {
    return `${value.toFixed(2)} ${currency}`;
  }
}

export interface DescribeOptions {
  /** The calendar dates are read on; default the order's own (its events'), else UTC. */
  timeZone?: string;
}

/**
 * A short sentence on where the order is, in the user's language:
 *   zh: 您的订单 A123 已于 6月11日 由顺丰速运发出，运单号 SF1234567890，预计 6月13日 送达。
 *   en: Your order A123 shipped with SF Express on Jun 11, tracking SF1234567890, expected Jun 13.
 */
export function describeOrder(view: OrderView, lang: Lang, opts: DescribeOptions = {}): string {
  const tz = opts.timeZone ?? view.timeZone ?? 'UTC';
  const on = (at: number | undefined): string => (at === undefined ? '' : day(at, lang, tz));
  const id = view.orderId;
  const s = view.shipment;
  const carrier = s ? (CARRIERS[s.carrier]?.[lang] ?? s.carrier) : '';
  const zh = lang === 'zh';
  switch (view.status) {
    case 'placed':
      return zh
        ? `您的订单 ${id} 已于 ${on(view.at.placed)} 下单，尚未付款。`
        : `Your order ${id} was placed on ${on(view.at.placed)} and is awaiting payment.`;
    case 'paid':
      return zh
        ? `您的订单 ${id} 已于 ${on(view.at.paid)} 付款，正在备货，发货后会告诉您运单号。`
        : `Your order ${id} was paid on ${on(view.at.paid)} and is being prepared; we will share the tracking number once it ships.`;
    case 'shipped': {
      const eta = s?.estimatedDeliveryAt;
      if (zh)
        return `您的订单 ${id} 已于 ${on(view.at.shipped)} 由${carrier}发出，运单号 ${s?.trackingNumber ?? ''}${eta ? `，预计 ${on(eta)} 送达` : ''}。`;
      return `Your order ${id} shipped with ${carrier} on ${on(view.at.shipped)}, tracking ${s?.trackingNumber ?? ''}${eta ? `, expected ${on(eta)}` : ''}.`;
    }
    case 'delivered':
      return zh
        ? `您的订单 ${id} 已于 ${on(view.at.delivered)} 送达${s ? `（${carrier}，运单号 ${s.trackingNumber}）` : ''}。`
        : `Your order ${id} was delivered on ${on(view.at.delivered)}${s ? ` (${carrier}, tracking ${s.trackingNumber})` : ''}.`;
    case 'refunded': {
      const amount = view.refundedMinor ? money(view.refundedMinor, view.currency, lang) : '';
      return zh
        ? `您的订单 ${id} 已于 ${on(view.at.refunded)} 退款${amount ? ` ${amount}` : ''}。`
        : `Your order ${id} was refunded${amount ? ` ${amount}` : ''} on ${on(view.at.refunded)}.`;
    }
  }
}

/** Which order a question is about: the one named, the only one, or ask (several, none named). */
export type OrderChoice =
  | { kind: 'found'; order: OrderView }
  | { kind: 'not_found'; reference: string }
  | { kind: 'no_orders' }
  | { kind: 'ask'; candidates: OrderView[] };

/** The bot's rule: ask for the order id only when none was given and the user has several orders. */
export function chooseOrder(orders: readonly OrderView[], reference?: string): OrderChoice {
  if (reference && reference.trim() !== '') {
    const order = matchOrder(orders, reference);
    return order ? { kind: 'found', order } : { kind: 'not_found', reference };
  }
  if (orders.length === 0) return { kind: 'no_orders' };
  if (orders.length === 1) return { kind: 'found', order: orders[0]! };
  return { kind: 'ask', candidates: orders.slice(0, 5) };
}
