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
import { MAX_FUTURE_SKEW_MS } from '../../../schemas/validate';
import { isKnownTimeZone } from '../../../schemas/time-zone';
import { userKey } from '../../topology';
import type { Tier } from './tags';
import { EVENT_WEIGHTS, MAX_QUANTITY_WEIGHT } from './weights';

export interface HalfLives {
  shortMs: number;
  longMs: number;
}

/**
 * A map keyed by client strings (skus, categories, trait names): no prototype, so '__proto__' or
 * 'constructor' is an ordinary key and never reaches Object.prototype (a sku '__proto__' once added
 * `views` to every object in the process).
 */
export function dict<T>(from?: Record<string, T>): Record<string, T> {
  return Object.assign(Object.create(null) as Record<string, T>, from);
}

/** The half-lives the configuration sets (INTEREST_SHORT_HALF_LIFE, INTEREST_LONG_HALF_LIFE). */
export function halfLivesOf(cfg: { shortHalfLifeMs: number; longHalfLifeMs: number }): HalfLives {
  return { shortMs: cfg.shortHalfLifeMs, longMs: cfg.longHalfLifeMs };
}

/** A decayed vector over the catalog's feature space, valued at time `at` (epoch ms). */
export interface DecayedVector {
  at: number;
  row: Matrix;
}

export interface SkuStat {
  views: number;
  carts: number;
  removes: number;
  orders: number;
  lastAt: number;
}

export interface Counters {
  events: number;
  views: number;
  searches: number;
  filters: number;
  priceFilters: number;
  cartAdds: number;
  cartRemoves: number;
  checkouts: number;
  orders: number;
  refunds: number;
  spendMinor: number;
  refundedMinor: number;
  discountedOrders: number;
  chatTurns: number;
}

export interface ProfileState {
  shopId: string;
  userKey: string;
  short: DecayedVector;
  long: DecayedVector;
  counters: Counters;
  /** Per product: how often viewed, carted, removed, ordered (the most recent MAX_SKUS). */
  skus: Record<string, SkuStat>;
  /** Distinct products viewed per category (up to MAX_COMPARED): comparing prices and styles. */
  compared: Record<string, string[]>;
  /** Products bought (the most recent MAX_PURCHASED), never recommended again. */
  purchased: string[];
  firstEventAt: number;
  lastEventAt: number;
  lastOrderAt: number;
  lastCartAt: number;
  lastCheckoutAt: number;
  /** Every event of this user with a stream sequence at or below this one is applied. */
  floor: number;
  /** Stream sequences above `floor` that are applied. */
  appliedSeqs: number[];
  /** Ids of the last MAX_RECENT events applied. */
  recent: string[];
  /** The user's latest usable time zone, by event time; undefined until an event carries one. */
  timeZone?: string;
  /** Event time of the event `timeZone` came from. */
  timeZoneAt?: number;
  /** Tier changes whose causing message may not be acked yet (kept until the ack floor passes it). */
  pendingTierChanges: TierChange[];
  /** Hashes of the last MAX_ORDER_KEYS order ids placed and refunds applied (orderKey). */
  orderKeys: string[];
  /**
   * Traits from identify calls (user_identified), each the latest by event time: name -> [value, at].
   * At most MAX_TRAITS, the most recently set kept. Absent until the first identify.
   */
  traits?: Record<string, [value: string, at: number]>;
}

/** A user's value tier changed when one event was applied: what the tier_changed event says. */
export interface TierChange {
  /** Stream sequence of the causing message (0 when unknown). */
  seq: number;
  causeEventId: string;
  /** The causing event's time: the tier_changed event's occurred_at. */
  occurredAt: number;
  userId: string;
  anonymousId: string;
  previousTier: Tier;
  tier: Tier;
  reason: string;
}

/** Products with view/cart/order counts kept (the most recently touched). */
export const MAX_SKUS = 50;
/** Products bought kept (the most recent). */
export const MAX_PURCHASED = 200;
/** Event ids of the last events applied kept. */
export const MAX_RECENT = 64;
/** Distinct products kept per category in `compared` (the most recent). */
export const MAX_COMPARED = 10;
/** Categories kept in `compared`: those with the most distinct products viewed. */
export const MAX_COMPARED_CATEGORIES = 20;
/** Applied sequences above the floor kept; beyond it the floor rises (see enforceCaps). */
export const MAX_APPLIED_SEQS = 4096;
/** Order and refund keys kept: an order re-published within this many newer ones counts once. */
export const MAX_ORDER_KEYS = 1000;
/** Tier changes awaiting their causing message's ack kept (the most recent). */
export const MAX_PENDING_TIER_CHANGES = 32;
/** Identify traits kept per profile (the most recently set). */
export const MAX_TRAITS = 64;
/** A sku or category longer than this is not kept as a key (validation allows up to 256). */
export const MAX_KEY_CHARS = 256;
/**
 * An event dated more than this after it reached JetStream is not applied: the same bound validation
 * sets for every processor (the sink dead-letters such an event).
 */
export const FUTURE_TOLERANCE_MS = MAX_FUTURE_SKEW_MS;
/** An event dated after it reached JetStream counts at most this far ahead (client clock skew). */
export const CLOCK_SKEW_MS = 5 * 60_000;

const zeroCounters = (): Counters => ({
  events: 0,
  views: 0,
  searches: 0,
  filters: 0,
  priceFilters: 0,
  cartAdds: 0,
  cartRemoves: 0,
  checkouts: 0,
  orders: 0,
  refunds: 0,
  spendMinor: 0,
  refundedMinor: 0,
  discountedOrders: 0,
  chatTurns: 0,
});

export function emptyState(shopId: string, key: string, features: number): ProfileState {
  return {
    shopId,
    userKey: key,
    short: { at: 0, row: Matrix.zeros(1, features) },
    long: { at: 0, row: Matrix.zeros(1, features) },
    counters: zeroCounters(),
    skus: dict(),
    compared: dict(),
    purchased: [],
    firstEventAt: 0,
    lastEventAt: 0,
    lastOrderAt: 0,
    lastCartAt: 0,
    lastCheckoutAt: 0,
    floor: 0,
    appliedSeqs: [],
    recent: [],
    pendingTierChanges: [],
    orderKeys: [],
  };
}

/** Keeps the last `max` items of a list, in place. */
function keepLast<T>(list: T[], max: number): void {
  if (list.length > max) list.splice(0, list.length - max);
}

/** Keeps the MAX_COMPARED_CATEGORIES categories with the most products (never `keep`), in place. */
function capCompared(s: ProfileState, keep?: string): void {
  const cats = Object.keys(s.compared);
  if (cats.length <= MAX_COMPARED_CATEGORIES) return;
  const drop = cats
    .filter((c) => c !== keep)
    .sort((a, b) => s.compared[a]!.length - s.compared[b]!.length || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, cats.length - MAX_COMPARED_CATEGORIES);
  for (const c of drop) delete s.compared[c];
}

/** Keeps the MAX_SKUS most recently touched products, in place. */
function capSkus(s: ProfileState): void {
  const keys = Object.keys(s.skus);
  if (keys.length <= MAX_SKUS) return;
  const drop = keys
    .sort((a, b) => s.skus[a]!.lastAt - s.skus[b]!.lastAt || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, keys.length - MAX_SKUS);
  for (const k of drop) delete s.skus[k];
}

/**
 * Applies every cap to a state, in place (a state stored before the caps, or grown by a bug).
 * appliedSeqs past its cap raises the floor to the highest sequence dropped: a partition applies
 * one user's events in stream order and acks each batch, so a gap below that sequence would be a
 * message still being redelivered after more than MAX_APPLIED_SEQS later events of the same user.
 */
export function enforceCaps(s: ProfileState): void {
  for (const c of Object.keys(s.compared)) {
    if (c.length > MAX_KEY_CHARS) delete s.compared[c];
    else keepLast(s.compared[c]!, MAX_COMPARED);
  }
  capCompared(s);
  for (const k of Object.keys(s.skus)) if (k.length > MAX_KEY_CHARS) delete s.skus[k];
  capSkus(s);
  keepLast(s.purchased, MAX_PURCHASED);
  keepLast(s.recent, MAX_RECENT);
  keepLast(s.orderKeys, MAX_ORDER_KEYS);
  keepLast(s.pendingTierChanges, MAX_PENDING_TIER_CHANGES);
  capTraits(s);
  if (s.appliedSeqs.length > MAX_APPLIED_SEQS) {
    const sorted = [...s.appliedSeqs].sort((a, b) => a - b);
    const dropped = sorted.slice(0, sorted.length - MAX_APPLIED_SEQS);
    s.floor = Math.max(s.floor, dropped[dropped.length - 1]!);
    s.appliedSeqs = sorted.slice(sorted.length - MAX_APPLIED_SEQS);
  }
}

/** Keeps the MAX_TRAITS most recently set traits. */
function capTraits(s: ProfileState): void {
  const traits = s.traits;
  if (!traits || Object.keys(traits).length <= MAX_TRAITS) return;
  const newest = Object.entries(traits)
    .sort(([na, [, a]], [nb, [, b]]) => b - a || (na < nb ? -1 : 1))
    .slice(0, MAX_TRAITS);
  s.traits = dict(Object.fromEntries(newest));
}

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

const decayFactor = (dtMs: number, halfLifeMs: number): number => Math.pow(2, -dtMs / halfLifeMs);

/** Adds `weight * x` at time `t` to a decayed vector, in place. */
export function addAt(v: DecayedVector, x: Matrix, weight: number, t: number, halfLifeMs: number): void {
  if (v.at === 0) v.at = t;
  if (t >= v.at) {
    v.row.mul(decayFactor(t - v.at, halfLifeMs));
    v.at = t;
    v.row.add(Matrix.mul(x, weight));
  } else {
    v.row.add(Matrix.mul(x, weight * decayFactor(v.at - t, halfLifeMs)));
  }
}

/** The vector's value at time `t` (never amplified: a time before `at` reads as `at`). */
export function valueAt(v: DecayedVector, t: number, halfLifeMs: number): Matrix {
  return Matrix.mul(v.row, decayFactor(Math.max(0, t - v.at), halfLifeMs));
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
 * lands on the stream the processor reads), so applying it would count it as user activity.
 */
export const IGNORED_EVENT_TYPES: ReadonlySet<EventType> = new Set<EventType>(['tier_changed']);

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

export interface Interest {
  feature: string;
  weight: number;
}

/** The strongest positive interests at time `t`, by weight. */
export function topInterests(
  v: DecayedVector,
  t: number,
  halfLifeMs: number,
  catalog: Catalog,
  k = 5,
): Interest[] {
  const row = valueAt(v, t, halfLifeMs).getRow(0);
  return row
    .map((weight, i) => ({ feature: catalog.features.names[i]!, weight }))
    .filter((x) => x.weight > 1e-9)
    .sort((a, b) => b.weight - a.weight || a.feature.localeCompare(b.feature))
    .slice(0, k);
}

/** The category with the highest long-term interest at time `t`, if any. */
export function topCategory(
  s: ProfileState,
  t: number,
  halfLives: HalfLives,
  catalog: Catalog,
): string | undefined {
  const row = valueAt(s.long, t, halfLives.longMs).getRow(0);
  let best: string | undefined;
  let bestWeight = 0;
  row.forEach((weight, i) => {
    const name = catalog.features.names[i]!;
    if (name.startsWith('category:') && weight > bestWeight) {
      best = name.slice('category:'.length);
      bestWeight = weight;
    }
  });
  return best;
}
