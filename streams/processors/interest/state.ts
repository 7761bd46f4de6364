// A user's profile state as the interest model keeps it, and its bounds: every map and list has a
// cap (named constants), enforceCaps() applies them to a state stored before them, and maps keyed by
// client strings have no prototype (dict). The model that applies events to it is model.ts.
import { Matrix } from 'ml-matrix';
import { MAX_FUTURE_SKEW_MS } from '../../../schemas/validate';
import type { Tier } from './tags';

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

export const zeroCounters = (): Counters => ({
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
export function keepLast<T>(list: T[], max: number): void {
  if (list.length > max) list.splice(0, list.length - max);
}

/** Keeps the MAX_COMPARED_CATEGORIES categories with the most products (never `keep`), in place. */
export function capCompared(s: ProfileState, keep?: string): void {
  const cats = Object.keys(s.compared);
  if (cats.length <= MAX_COMPARED_CATEGORIES) return;
  const drop = cats
    .filter((c) => c !== keep)
    .sort((a, b) => s.compared[a]!.length - s.compared[b]!.length || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, cats.length - MAX_COMPARED_CATEGORIES);
  for (const c of drop) delete s.compared[c];
}

/** Keeps the MAX_SKUS most recently touched products, in place. */
export function capSkus(s: ProfileState): void {
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
export function capTraits(s: ProfileState): void {
  const traits = s.traits;
  if (!traits || Object.keys(traits).length <= MAX_TRAITS) return;
  const newest = Object.entries(traits)
    .sort(([na, [, a]], [nb, [, b]]) => b - a || (na < nb ? -1 : 1))
    .slice(0, MAX_TRAITS);
  s.traits = dict(Object.fromEntries(newest));
}
