// The order view, pure: a user's recent orders as the stream has seen them (placed, paid, shipped,
// delivered, refunded), for the customer-service bot's "where is my order".
//
// One state per (shop, user): at most MAX_ORDERS orders, newest first by the first time the stream saw
// each (the earliest event time of any of its events); a new order beyond the cap drops the oldest,
// and an event for an order older than every kept one while the list is full changes nothing.
//
// Order-insensitive: an order's view is a merge of facts, so any arrival order gives the same view.
//  * Each status keeps the earliest event time it was reached at; the status shown is the furthest one
//    reached (placed < paid < shipped < delivered < refunded): a delivered arriving before its shipped
//    still ends delivered, and a status never goes backwards.
//  * What the order holds (items, total, currency) comes from order_placed, the latest by event time
//    when it was sent again (equal times: the greater by content); while no order_placed was seen, the
//    total and currency come from order_paid (the latest in the same way).
//  * The shipment shown is the latest by event time (a re-shipment with a new waybill replaces it;
//    equal times: the greater tracking number), with its carrier and estimated delivery.
//  * Refunds add up once each, keyed by time and amount (a refund re-published under a new event id
//    counts once); the MAX_REFUNDS earliest are kept.
//  * The time zone is the latest (by event time) an event of the order carried.
//
// Idempotent: merging a fact already in the view changes nothing, so a redelivered or re-published
// event makes no write; `recentEvents` (the last MAX_RECENT_EVENTS event ids applied) recognises a
// redelivery before merging, for the counters.
//
// Bounded: MAX_ORDERS orders, MAX_ITEMS items each (itemCount keeps the true number), names cut at
// MAX_NAME_CHARS; every other string is bounded by the schema. The encoded state stays far under the
// KV value limit (MAX_STATE_BYTES, checked by the unit tests with every field at its bound).
import type { Envelope, EventType, Product } from '../../../schemas/events';
import { kvKey } from '../../../schemas/kv-keys';
import { dlq, ok, type StepResult } from '../../results';
import type { ORDER_VIEW_EVENTS } from '../../topology';

export const ORDER_STATUSES = ['placed', 'paid', 'shipped', 'delivered', 'refunded'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** The events the order view is built from, and the status each means. */
export const ORDER_EVENT_STATUS = {
  order_placed: 'placed',
  order_paid: 'paid',
  order_shipped: 'shipped',
  order_delivered: 'delivered',
  order_refunded: 'refunded',
} as const satisfies Record<(typeof ORDER_VIEW_EVENTS)[number], OrderStatus>;
export type OrderEventType = keyof typeof ORDER_EVENT_STATUS;
export const ORDER_EVENT_TYPES = Object.keys(ORDER_EVENT_STATUS) as OrderEventType[];

export const MAX_ORDERS = 20;
export const MAX_ITEMS = 10;
export const MAX_NAME_CHARS = 120;
export const MAX_RECENT_EVENTS = 100;
export const MAX_REFUNDS = 10;
/** Far under the server's 1 MiB max_payload: a state at every bound is about a tenth of it. */
export const MAX_STATE_BYTES = 256 * 1024;

/** A tracking number as stored and matched: letters, digits and '-', spaces removed, upper case. */
const TRACKING_RE = /^[A-Z0-9-]{4,64}$/;
/** A carrier code: letters, digits, '_' and '-' (SF, YTO, ZTO, JD, EMS, DHL, FEDEX...). */
const CARRIER_RE = /^[A-Z0-9_-]{1,32}$/;

export interface OrderItem {
  sku: string;
  /** When it differs from the sku. */
  productId?: string;
  name?: string;
  quantity: number;
  priceMinor?: number;
}

export interface Shipment {
  carrier: string;
  trackingNumber: string;
  shippedAt: number;
  estimatedDeliveryAt?: number;
}

export interface OrderView {
  orderId: string;
  status: OrderStatus;
  /** When each status was first reached (event time, epoch ms). */
  at: Partial<Record<OrderStatus, number>>;
  /** The first MAX_ITEMS products of the order. */
  items: OrderItem[];
  /** Products in the order, also those beyond MAX_ITEMS. */
  itemCount: number;
  totalMinor?: number;
  currency?: string;
  /** Event time of the order_placed the items and total come from. */
  placedFrom?: number;
  /** The latest payment's amount: the total while no order_placed was seen. */
  payment?: { at: number; totalMinor?: number; currency?: string };
  shipment?: Shipment;
  /** Sum of the distinct refunds. */
  refundedMinor?: number;
  /** Keys of the refunds counted (time and amount). */
  refunds?: string[];
  /** The user's time zone as the order's latest event carrying one had it, for dates in answers. */
  timeZone?: string;
  /** Event time of that event. */
  timeZoneAt?: number;
}

export interface OrdersState {
  v: 1;
  shopId: string;
  /** The user key (topology userKey: the customer id, or anon:<id>). */
  user: string;
  /** Newest first by firstSeen(). */
  orders: OrderView[];
  /** The last MAX_RECENT_EVENTS event ids applied, oldest first. */
  recentEvents: string[];
}

/** One order event, read and checked. */
export interface OrderFact {
  eventId: string;
  orderId: string;
  status: OrderStatus;
  at: number;
  timeZone?: string;
  placed?: { items: OrderItem[]; itemCount: number; totalMinor?: number; currency?: string };
  paid?: { totalMinor?: number; currency?: string };
  shipment?: Shipment;
  refund?: { amountMinor: number };
}

/** The KV key of a user's orders: shop and user key (topology userKey), each a kvKeyPart. */
export function ordersKey(shopId: string, user: string): string {
  return kvKey(shopId, user);
}

export function emptyOrders(shopId: string, user: string): OrdersState {
  return { v: 1, shopId, user, orders: [], recentEvents: [] };
}

export function isOrderEventType(type: EventType): type is OrderEventType {
  return Object.hasOwn(ORDER_EVENT_STATUS, type);
}

/** A tracking number or order id as a user may type it: spaces removed, upper case. */
export function normalizeReference(s: string): string {
  return s.replace(/\s+/g, '').toUpperCase();
}

const positive = (n: unknown): number | undefined => {
  const v = Number(n ?? 0);
  return Number.isFinite(v) && v > 0 ? v : undefined;
};

function itemOf(p: Product): OrderItem {
  const sku = p.sku ?? '';
  const productId = p.productId && p.productId !== sku ? p.productId : undefined;
  const name = p.name ? p.name.slice(0, MAX_NAME_CHARS) : undefined;
  const priceMinor = positive(p.priceMinor);
  return {
    sku,
    ...(productId ? { productId } : {}),
    ...(name ? { name } : {}),
    quantity: Math.max(1, Math.floor(Number(p.quantity ?? 1)) || 1),
    ...(priceMinor !== undefined ? { priceMinor } : {}),
  };
}

/**
 * The order fact an event carries; dlq when it is an order event the view cannot use (a tracking
 * number or carrier that is no code: the schema bounds only their length), drop for other events.
 */
export function orderFactOf(e: Envelope, type: EventType): StepResult<OrderFact> {
  if (!isOrderEventType(type)) return { kind: 'drop', why: `${type} is not an order event` };
  const status = ORDER_EVENT_STATUS[type];
  const base = {
    eventId: e.eventId,
    status,
    at: Number(e.occurredAt),
    ...(e.timeZone ? { timeZone: e.timeZone } : {}),
  };
  switch (type) {
    case 'order_placed': {
      const p = e.orderPlaced!;
      const products = p.products ?? [];
      const totalMinor = positive(p.totalMinor);
      return ok({
        ...base,
        orderId: p.orderId ?? '',
        placed: {
          items: products.slice(0, MAX_ITEMS).map(itemOf),
          itemCount: products.length,
          ...(totalMinor !== undefined ? { totalMinor } : {}),
          ...(p.currency ? { currency: p.currency } : {}),
        },
      });
    }
    case 'order_paid': {
      const p = e.orderPaid!;
      const totalMinor = positive(p.totalMinor);
      return ok({
        ...base,
        orderId: p.orderId ?? '',
        paid: {
          ...(totalMinor !== undefined ? { totalMinor } : {}),
          ...(p.currency ? { currency: p.currency } : {}),
        },
      });
    }
    case 'order_shipped': {
      const p = e.orderShipped!;
      const trackingNumber = normalizeReference(p.trackingNumber ?? '');
      const carrier = normalizeReference(p.carrier ?? '');
      if (!TRACKING_RE.test(trackingNumber))
        return dlq(
          'processing_failed',
          'order_shipped.tracking_number must be 4 to 64 letters, digits or -, spaces aside',
        );
      if (!CARRIER_RE.test(carrier))
        return dlq('processing_failed', 'order_shipped.carrier must be a code of letters, digits, _ or -');
      const eta = positive(p.estimatedDeliveryAt);
      return ok({
        ...base,
        orderId: p.orderId ?? '',
        shipment: {
          carrier,
          trackingNumber,
          shippedAt: base.at,
          ...(eta !== undefined ? { estimatedDeliveryAt: eta } : {}),
        },
      });
    }
    case 'order_delivered':
      return ok({ ...base, orderId: e.orderDelivered!.orderId ?? '' });
    case 'order_refunded':
      return ok({
        ...base,
        orderId: e.orderRefunded!.orderId ?? '',
        refund: { amountMinor: positive(e.orderRefunded!.totalMinor) ?? 0 },
      });
  }
}

const RANK: Record<OrderStatus, number> = { placed: 0, paid: 1, shipped: 2, delivered: 3, refunded: 4 };

/** The furthest status an order reached. */
export function statusOf(at: OrderView['at']): OrderStatus {
  let best: OrderStatus = 'placed';
  for (const s of ORDER_STATUSES) if (at[s] !== undefined && RANK[s] > RANK[best]) best = s;
  return best;
}

/** The first time the stream saw an order: the earliest time of any of its statuses. */
export function firstSeen(o: OrderView): number {
  return Math.min(...Object.values(o.at));
}

const newestFirst = (a: OrderView, b: OrderView): number =>
  firstSeen(b) - firstSeen(a) || (a.orderId < b.orderId ? -1 : a.orderId > b.orderId ? 1 : 0);

function laterShipment(a: Shipment | undefined, b: Shipment): Shipment {
  if (!a) return b;
  if (b.shippedAt !== a.shippedAt) return b.shippedAt > a.shippedAt ? b : a;
  return b.trackingNumber > a.trackingNumber ? b : a;
}

/** Whether an order_placed replaces what the view holds: later, or as late and greater by content. */
function laterPlaced(view: OrderView, at: number, placed: NonNullable<OrderFact['placed']>): boolean {
  if (view.placedFrom === undefined || at > view.placedFrom) return true;
  if (at < view.placedFrom) return false;
  const held = {
    items: view.items,
    itemCount: view.itemCount,
    totalMinor: view.totalMinor,
    currency: view.currency,
  };
  return JSON.stringify(placed) > JSON.stringify(held);
}

/** The order with one fact merged in (a new object; `o` is not changed). */
export function mergeFact(o: OrderView | undefined, f: OrderFact): OrderView {
  const view: OrderView = o
    ? { ...o, at: { ...o.at } }
    : { orderId: f.orderId, status: f.status, at: {}, items: [], itemCount: 0 };
  const prior = view.at[f.status];
  if (prior === undefined || f.at < prior) view.at[f.status] = f.at;
  if (f.placed && laterPlaced(view, f.at, f.placed)) {
    view.items = f.placed.items;
    view.itemCount = f.placed.itemCount;
    delete view.totalMinor;
    delete view.currency;
    if (f.placed.totalMinor !== undefined) view.totalMinor = f.placed.totalMinor;
    if (f.placed.currency) view.currency = f.placed.currency;
    view.placedFrom = f.at;
  }
  if (f.paid) {
    const payment = { at: f.at, ...f.paid };
    const held = view.payment;
    const later =
      !held || f.at > held.at || (f.at === held.at && JSON.stringify(payment) > JSON.stringify(held));
    const chosen = later ? payment : held;
    view.payment = chosen;
    if (view.placedFrom === undefined) {
      delete view.totalMinor;
      delete view.currency;
      if (chosen.totalMinor !== undefined) view.totalMinor = chosen.totalMinor;
      if (chosen.currency) view.currency = chosen.currency;
    }
  }
  if (f.shipment) view.shipment = laterShipment(view.shipment, f.shipment);
  if (f.refund) {
    const key = `${String(f.at).padStart(16, '0')}:${f.refund.amountMinor}`;
    const refunds = view.refunds ?? [];
    if (!refunds.includes(key)) {
      view.refunds = [...refunds, key].sort().slice(0, MAX_REFUNDS);
      view.refundedMinor = view.refunds.reduce((sum, k) => sum + Number(k.split(':')[1]), 0);
    }
  }
  const tzAt = view.timeZoneAt ?? -Infinity;
  if (f.timeZone && (f.at > tzAt || (f.at === tzAt && f.timeZone > (view.timeZone ?? '')))) {
    view.timeZone = f.timeZone;
    view.timeZoneAt = f.at;
  }
  view.status = statusOf(view.at);
  return view;
}

export type ApplyOutcome =
  | { kind: 'applied'; state: OrdersState; order: OrderView }
  /** The event id was applied before (a redelivery). */
  | { kind: 'duplicate' }
  /** Nothing to change: the fact is in the view already, or the order is older than every kept one. */
  | { kind: 'unchanged' };

/** Applies one fact to a user's orders (pure; `s` is not changed). */
export function applyFact(s: OrdersState, f: OrderFact): ApplyOutcome {
  if (s.recentEvents.includes(f.eventId)) return { kind: 'duplicate' };
  const i = s.orders.findIndex((o) => o.orderId === f.orderId);
  const current = i < 0 ? undefined : s.orders[i];
  const order = mergeFact(current, f);
  if (current && JSON.stringify(order) === JSON.stringify(current)) return { kind: 'unchanged' };
  const others = s.orders.filter((_, j) => j !== i);
  const orders = [...others, order].sort(newestFirst).slice(0, MAX_ORDERS);
  if (!orders.includes(order)) return { kind: 'unchanged' }; // older than every kept order
  const recentEvents = [...s.recentEvents, f.eventId].slice(-MAX_RECENT_EVENTS);
  return { kind: 'applied', state: { ...s, orders, recentEvents }, order };
}

export function encodeOrders(s: OrdersState): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(s));
}

/** A stored state, or undefined when it is not one (then the view starts afresh). */
export function decodeOrders(bytes: Uint8Array): OrdersState | undefined {
  try {
    const s = JSON.parse(new TextDecoder().decode(bytes)) as Partial<OrdersState>;
    if (s?.v !== 1 || !Array.isArray(s.orders) || !Array.isArray(s.recentEvents)) return undefined;
    return s as OrdersState;
  } catch {
    return undefined;
  }
}
