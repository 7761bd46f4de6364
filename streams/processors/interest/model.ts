// The interest model, pure: a user's state and how one event changes it.
//
// Interest vectors decay on event time with a half-life h. A vector is kept as its value at a
// reference time `at` (the latest event time seen):
//     V(at) = sum_i  w_i * x_i * 2^(-(at - t_i) / h)
// An event newer than `at` decays the vector forward and adds; a late event (t < at) is added already
// decayed to `at`. Both give the same sum, so the result does not depend on arrival order: a replay,
// or a late event, gives the same vector as live processing (up to floating-point rounding).
// Reading at time T multiplies by 2^(-(T - at) / h).
//
// Idempotence: a state keeps a per-user watermark of applied JetStream sequences: `floor` (every event
// of this user at or below it is applied) and `appliedSeqs` (those above it that are applied), plus
// the ids of the last events applied. A redelivered message, or the same event published again, is
// recognised and skipped, even when two instances apply one user's events out of order. The floor
// rises to the partition consumer's ack floor, since a message is acked only once its effect is
// stored (advanceFloor), so `appliedSeqs` stays small.
//
// Time zone: the zone of the latest event (by event time) that carries a usable one, so a replay or a
// late event gives the same zone as live processing; events without a zone leave it as it is.
//
// Tier changes (tier-changes.ts) wait in `pendingTierChanges` until the message that caused them is
// acked: a redelivered message is skipped here, but its tier change is published again (same id).
//
// Orders and refunds are idempotent by order id, beyond the event ids: a client or server that
// re-publishes an order with a new event id (after the stream's 10-minute duplicate window, and past
// the last MAX_RECENT event ids) does not count it twice. `orderKeys` keeps a short hash of the last
// MAX_ORDER_KEYS order ids placed and refunds seen (per order id and amount; the refund counter counts
// an order once however many partial refunds it gets). An order re-published after that many newer
// orders of the same user would count again.
//
// Bounds: every map and list in a state has a cap (MAX_* below; the oldest or weakest entry goes
// first), strings used as keys longer than MAX_KEY_CHARS are not kept, and enforceCaps() applies the
// caps to a state stored before them. The encoded state has a hard size limit besides
// (state-codec.ts MAX_STATE_BYTES, under the server's 1 MiB max_payload): one user's profile can never
// grow past what the KV bucket stores and stop a partition.
//
// Time from the future: events are applied on their own time, so one event dated year 3000 would put
// a vector's reference time there, and every real event after it would be decayed by ~1000 years to
// nothing (the profile frozen). Given the time a message reached JetStream (`arrivedAt`, its stream
// timestamp, the same on every redelivery or replay of that message):
//  * an event more than FUTURE_TOLERANCE_MS after it is not applied at all (`future`); the processor
//    acks and skips it and the ClickHouse sink dead-letters it (validation's future-time bound), so
//    it is dead-lettered once, not twice;
//  * an event up to that far ahead is applied at min(occurred_at, arrivedAt + CLOCK_SKEW_MS): a fast
//    client clock moves no reference time past the newest plausible time;
//  * a state already dated more than FUTURE_TOLERANCE_MS after the message (stored before this rule)
//    has its reference times brought back to arrivedAt + CLOCK_SKEW_MS, so it thaws on the next event.
// Without `arrivedAt` (benchmarks, tests of pure event-time behaviour) event time is used as it is.
import { Matrix } from 'ml-matrix';
import { createHash } from 'node:crypto';
import type { Catalog, SparseVector } from '../../../catalog/types';
import {
  chatRoleName,
  payloadField,
  type Envelope,
  type EventType,
  type Product,
} from '../../../schemas/events';
import { isKnownTimeZone } from '../../../schemas/time-zone';
import { userKey } from '../../topology';
import { EVENT_WEIGHTS, MAX_QUANTITY_WEIGHT } from './weights';
export * from './state';
export * from './interests';
export * from './vectors';
import { addAt } from './vectors';
import {
  capCompared,
  capSkus,
  capTraits,
  CLOCK_SKEW_MS,
  dict,
  enforceCaps,
  FUTURE_TOLERANCE_MS,
  MAX_APPLIED_SEQS,
  MAX_COMPARED,
  MAX_KEY_CHARS,
  MAX_ORDER_KEYS,
  MAX_PURCHASED,
  MAX_RECENT,
  type HalfLives,
  type ProfileState,
  type SkuStat,
} from './state';

/** Sets each trait of an identify call unless the profile has a later value of it (order independent). */
function noteTraits(
  s: ProfileState,
  traits: { name?: string | null; value?: string | null }[],
  t: number,
): void {
  const kept = (s.traits ??= dict());
  for (const { name, value } of traits) {
    if (!name || name.length > MAX_KEY_CHARS) continue;
    const current = kept[name];
    const v = value ?? '';
    if (!current || t > current[1] || (t === current[1] && v > current[0])) kept[name] = [v, t];
  }
  capTraits(s);
}

/** The key of an order (placed) or a refund (per order and amount) in `orderKeys`: a short hash. */
export function orderKey(kind: 'order' | 'refund' | 'refunded', orderId: string, totalMinor = 0): string {
  const text = kind === 'refund' ? `${kind}\u0000${orderId}\u0000${totalMinor}` : `${kind}\u0000${orderId}`;
  return createHash('sha256').update(text).digest('base64url').slice(0, 16);
}

/** The latest time a state may be dated at, given the arrival time of the message being applied. */
const newestPlausible = (arrivedAt: number): number => arrivedAt + CLOCK_SKEW_MS;

/** Whether an event is dated too far after its message reached JetStream to be applied. */
export function isTooFarAhead(occurredAt: number, arrivedAt: number): boolean {
  return occurredAt > arrivedAt + FUTURE_TOLERANCE_MS;
}

/**
 * Brings back every time of a state dated more than FUTURE_TOLERANCE_MS after `arrivedAt` (stored
 * before the future rule) to the newest plausible time, so that later real events count again.
 */
export function thawFutureState(s: ProfileState, arrivedAt: number): void {
  const limit = arrivedAt + FUTURE_TOLERANCE_MS;
  const to = newestPlausible(arrivedAt);
  const back = (t: number): number => (t > limit ? to : t);
  s.short.at = back(s.short.at);
  s.long.at = back(s.long.at);
  s.lastEventAt = back(s.lastEventAt);
  s.lastOrderAt = back(s.lastOrderAt);
  s.lastCartAt = back(s.lastCartAt);
  s.lastCheckoutAt = back(s.lastCheckoutAt);
  s.firstEventAt = back(s.firstEventAt);
  if (s.timeZoneAt !== undefined) s.timeZoneAt = back(s.timeZoneAt);
  for (const st of Object.values(s.skus)) st.lastAt = back(st.lastAt);
}

/**
 * Raises the watermark to the partition's ack floor (read from the server before the batch): every
 * message at or below it was acked, so its effect was stored, in this state or its user's.
 */
export function advanceFloor(s: ProfileState, ackFloor: number): void {
  if (ackFloor <= s.floor) return;
  s.floor = ackFloor;
  s.appliedSeqs = s.appliedSeqs.filter((q) => q > ackFloor);
  // acked, so its tier change was published (the processor publishes before it acks)
  s.pendingTierChanges = s.pendingTierChanges.filter((c) => c.seq > ackFloor);
}

export function isApplied(s: ProfileState, seq: number, eventId: string): boolean {
  return (seq > 0 && (seq <= s.floor || s.appliedSeqs.includes(seq))) || s.recent.includes(eventId);
}

function sparseRow(x: SparseVector, size: number): Matrix {
  const row = Matrix.zeros(1, size);
  for (const [i, w] of x) row.set(0, i, w);
  return row;
}

/** The features of a product as it appears in an event: the catalog's, or the event's own category/brand. */
function productRow(p: Product, catalog: Catalog): Matrix | undefined {
  const size = catalog.features.size;
  if (p.sku && catalog.bySku.has(p.sku)) return sparseRow(catalog.productFeatures(p.sku), size);
  const fallback = new Map<number, number>();
  const cat = catalog.features.index.get(`category:${p.category ?? ''}`);
  if (cat !== undefined) fallback.set(cat, 1);
  const brand = catalog.features.index.get(`brand:${(p.brand ?? '').toLowerCase().replace(/\s+/g, '_')}`);
  if (brand !== undefined) fallback.set(brand, 0.5);
  return fallback.size > 0 ? sparseRow(fallback, size) : undefined;
}

const quantityWeight = (q: number | null | undefined): number =>
  Math.min(MAX_QUANTITY_WEIGHT, Math.max(1, q ?? 1));

/** Features a filter names: a price filter says "price matters", a brand or attribute filter names one. */
function filterRow(e: NonNullable<Envelope['productListFiltered']>, catalog: Catalog): Matrix | undefined {
  const idx = catalog.features.index;
  const x = new Map<number, number>();
  const cat = idx.get(`category:${e.category ?? ''}`);
  if (cat !== undefined) x.set(cat, 1);
  for (const f of e.filters ?? []) {
    const type = (f.type ?? '').toLowerCase();
    const value = (f.value ?? '').toLowerCase().replace(/\s+/g, '_');
    const named = idx.get(`${type}:${value}`) ?? idx.get(`attr:${type}:${value}`);
    if (named !== undefined) x.set(named, 1);
    else
      for (const [i, w] of catalog.textFeatures(`${f.type ?? ''} ${f.value ?? ''}`))
        x.set(i, Math.max(x.get(i) ?? 0, w));
  }
  return x.size > 0 ? sparseRow(x, catalog.features.size) : undefined;
}

function touchSku(
  s: ProfileState,
  sku: string | null | undefined,
  t: number,
  change: Partial<Omit<SkuStat, 'lastAt'>>,
): void {
  if (!sku || sku.length > MAX_KEY_CHARS) return;
  const stat = (s.skus[sku] ??= { views: 0, carts: 0, removes: 0, orders: 0, lastAt: 0 });
  stat.views += change.views ?? 0;
  stat.carts += change.carts ?? 0;
  stat.removes += change.removes ?? 0;
  stat.orders += change.orders ?? 0;
  stat.lastAt = Math.max(stat.lastAt, t);
  capSkus(s);
}

function remember<T>(list: T[], item: T, max: number): void {
  if (list.includes(item)) return;
  list.push(item);
  if (list.length > max) list.splice(0, list.length - max);
}

export interface Applied {
  /** false: already applied (redelivery or duplicate), or ignored; nothing changed */
  applied: boolean;
  /** true: an event type the model never applies (see IGNORED_EVENT_TYPES) */
  ignored?: boolean;
  /** true: dated more than FUTURE_TOLERANCE_MS after it reached JetStream; not applied */
  future?: boolean;
  /** true: an order or refund already counted under another event id; not applied */
  duplicateOrder?: boolean;
}

/**
 * Events the interest model does not apply at all: tier_changed is the processor's own output (it
 * lands on the stream the processor reads), so applying it would count it as user activity;
 * alert_changed is the service's own operators' event (shop `ops`), no shopper's.
 */
export const IGNORED_EVENT_TYPES: ReadonlySet<EventType> = new Set<EventType>([
  'tier_changed',
  'alert_changed',
]);

/** Keeps the zone of the latest event by event time; on a tie, the greater name (order independent). */
function noteTimeZone(s: ProfileState, zone: string | null | undefined, t: number): void {
  if (!zone || !isKnownTimeZone(zone)) return; // validated upstream; an unusable one never replaces a good one
  const at = s.timeZoneAt;
  if (at === undefined || t > at || (t === at && zone > (s.timeZone ?? ''))) {
    s.timeZone = zone;
    s.timeZoneAt = t;
  }
}

/**
 * Applies one event to a user's state, in place. `seq` is the JetStream sequence of the message
 * (0 when unknown: then only the event id guards against duplicates); `arrivedAt` the time (epoch ms)
 * the message reached JetStream, which bounds the event's time (see the header).
 */
export function applyEvent(
  s: ProfileState,
  e: Envelope,
  type: EventType,
  seq: number,
  catalog: Catalog,
  halfLives: HalfLives,
  arrivedAt?: number,
): Applied {
  if (IGNORED_EVENT_TYPES.has(type)) return { applied: false, ignored: true };
  if (isApplied(s, seq, e.eventId)) return { applied: false };
  let t = e.occurredAt;
  if (arrivedAt !== undefined) {
    if (isTooFarAhead(t, arrivedAt)) return { applied: false, future: true };
    thawFutureState(s, arrivedAt);
    t = Math.min(t, newestPlausible(arrivedAt));
  }
  const orderKeys = orderKeysOf(e, type);
  if (orderKeys && s.orderKeys.includes(orderKeys.key)) return { applied: false, duplicateOrder: true };
  const c = s.counters;
  const add = (x: Matrix | undefined, weight: number): void => {
    if (!x || weight === 0) return;
    addAt(s.short, x, weight, t, halfLives.shortMs);
    addAt(s.long, x, weight, t, halfLives.longMs);
  };
  const w = EVENT_WEIGHTS[type] ?? 0;
  const p = e[payloadField(type)] as Record<string, unknown> | null | undefined;

  switch (type) {
    case 'product_viewed': {
      const product = e.productViewed!.product!;
      c.views++;
      add(productRow(product, catalog), w);
      touchSku(s, product.sku, t, { views: 1 });
      const category = product.category;
      if (
        category &&
        product.sku &&
        category.length <= MAX_KEY_CHARS &&
        product.sku.length <= MAX_KEY_CHARS
      ) {
        remember((s.compared[category] ??= []), product.sku, MAX_COMPARED);
        capCompared(s, category);
      }
      break;
    }
    case 'product_list_filtered': {
      const f = e.productListFiltered!;
      c.filters++;
      const byPrice = [...(f.filters ?? []), ...(f.sorts ?? [])].some((x) => /price/i.test(x.type ?? ''));
      if (byPrice) c.priceFilters++;
      add(filterRow(f, catalog), w);
      break;
    }
    case 'products_searched': {
      c.searches++;
      const x = catalog.textFeatures(e.productsSearched!.query ?? '');
      if (x.size > 0) add(sparseRow(x, catalog.features.size), w);
      break;
    }
    case 'chat_turn': {
      const turn = e.chatTurn!;
      if (chatRoleName(turn.role) !== 'user') break; // only what the customer says
      c.chatTurns++;
      const x = catalog.textFeatures(turn.text ?? '');
      if (x.size > 0) add(sparseRow(x, catalog.features.size), w);
      break;
    }
    case 'cart_item_added':
    case 'cart_item_removed': {
      const product = (p?.['product'] ?? {}) as Product;
      const added = type === 'cart_item_added';
      if (added) c.cartAdds++;
      else c.cartRemoves++;
      s.lastCartAt = Math.max(s.lastCartAt, t);
      add(productRow(product, catalog), w * quantityWeight(product.quantity));
      touchSku(s, product.sku, t, added ? { carts: 1 } : { removes: 1 });
      break;
    }
    case 'cart_item_quantity_changed': {
      const q = e.cartItemQuantityChanged!;
      const delta = (q.product?.quantity ?? 0) - (q.previousQuantity ?? 0);
      s.lastCartAt = Math.max(s.lastCartAt, t);
      add(
        productRow(q.product ?? {}, catalog),
        w * Math.max(-MAX_QUANTITY_WEIGHT, Math.min(MAX_QUANTITY_WEIGHT, delta)),
      );
      break;
    }
    case 'checkout_started': {
      c.checkouts++;
      s.lastCheckoutAt = Math.max(s.lastCheckoutAt, t);
      for (const product of e.checkoutStarted!.products ?? []) add(productRow(product, catalog), w);
      break;
    }
    case 'order_placed': {
      const o = e.orderPlaced!;
      c.orders++;
      c.spendMinor += o.totalMinor ?? 0;
      if (o.couponCode || (o.discountMinor ?? 0) > 0) c.discountedOrders++;
      s.lastOrderAt = Math.max(s.lastOrderAt, t);
      for (const product of o.products ?? []) {
        add(productRow(product, catalog), w * quantityWeight(product.quantity));
        touchSku(s, product.sku, t, { orders: 1 });
        if (product.sku && product.sku.length <= MAX_KEY_CHARS)
          remember(s.purchased, product.sku, MAX_PURCHASED);
      }
      break;
    }
    case 'order_refunded': {
      const r = e.orderRefunded!;
      // an order counts as refunded once, however many (partial) refunds it gets
      const refunded = r.orderId ? orderKey('refunded', r.orderId) : undefined;
      if (!refunded || !s.orderKeys.includes(refunded)) c.refunds++;
      if (refunded) remember(s.orderKeys, refunded, MAX_ORDER_KEYS);
      c.refundedMinor += r.totalMinor ?? 0;
      for (const product of r.products ?? []) add(productRow(product, catalog), w);
      break;
    }
    case 'user_identified':
      noteTraits(s, e.userIdentified!.traits ?? [], t);
      break;
    default:
      break; // events of shopstream's own flows carry no interest signal
  }

  if (orderKeys) remember(s.orderKeys, orderKeys.key, MAX_ORDER_KEYS);
  c.events++;
  noteTimeZone(s, e.timeZone, t);
  s.firstEventAt = s.firstEventAt === 0 ? t : Math.min(s.firstEventAt, t);
  s.lastEventAt = Math.max(s.lastEventAt, t);
  if (seq > s.floor) s.appliedSeqs.push(seq);
  remember(s.recent, e.eventId, MAX_RECENT);
  if (s.appliedSeqs.length > MAX_APPLIED_SEQS) enforceCaps(s);
  return { applied: true };
}

/** The key that makes an order (by order id) or a refund (by order id and amount) count once. */
function orderKeysOf(e: Envelope, type: EventType): { key: string } | undefined {
  if (type === 'order_placed' && e.orderPlaced?.orderId)
    return { key: orderKey('order', e.orderPlaced.orderId) };
  if (type === 'order_refunded' && e.orderRefunded?.orderId)
    return { key: orderKey('refund', e.orderRefunded.orderId, e.orderRefunded.totalMinor ?? 0) };
  return undefined;
}

/** The state key of an event's user. */
export function stateKeyOf(e: Envelope): { shopId: string; userKey: string } {
  return { shopId: e.shopId, userKey: userKey(e) };
}
