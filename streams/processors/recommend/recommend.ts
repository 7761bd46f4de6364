// Recommendations, pure: no I/O, no clock (the caller passes `now`). The service (service.ts) loads
// profiles and rule sets and calls this; the CLI, the benchmarks and the tests call it directly.
//
// Scoring. For every product p of the catalog (one row of the precomputed, L2-normalised product
// feature matrix P, products x features):
//
//   score(p) = W.interest   * cos(u, p)                        interest, one matrix-vector product
//            + W.complement * max over rules r recommending p:  association rules
//                               strength(r) * level(r) * source(r)
//            + W.freshness  * 2^(-age(p) / freshnessHalfLife)   newer products a little higher
//            + W.popularity * P(p) / max P                      a small popularity prior
//
//   u = W.shortTerm * 2^(-(now - short.at) / shortHalfLife) * short / |short|    the session
//     + W.longTerm  * long(now) / |long(now)|                                     the lasting taste
//     + W.context   * c / |c|    c = text features of context.text + features of context.viewingSkus
//
//   Each part is a unit vector before weighting, so a heavy long-term history does not drown the
//   session and a short-term vector fades with its own half-life (2^(...) above) once the session
//   is over. Negative weights (removed from cart, refunded) count against similar products.
//
//   strength(r) = confidence - P(consequent) = confidence * (1 - 1/lift), in [0, 1): how much likelier
//     the antecedent makes the consequent; 0 at lift 1. Rules are found with rulesFor (rules.ts) for:
//       sku level:      the cart and viewed skus (source 1), the skus bought in the last
//                       W.recentPurchaseDays (source W.purchaseComplement)
//       category level: the categories of those, plus the categories context.text names; a category
//                       rule lifts every product of the consequent category (level W.categoryComplement)
//     A product takes its best rule (max, not sum), so the complement term stays bounded.
//   P(p) = confidence / lift of a sku rule whose consequent is exactly p (the share of mined orders
//     holding p): a popularity prior that needs no other data than the sku rule set.
//
// Exclusions: the user's purchases (profile.purchased), the cart, and the products being viewed
// (recommending what is on the screen says nothing). Ties: score descending, then sku (code-unit order),
// so the same input always gives the same list.
//
// Explanations, strongest contribution first: `interest: attr:battery:long, category:phones` (the
// product's features that contribute most to cos(u, p)), `bought together with coffee_machines
// (confidence 0.62, lift 3.10)`, `new arrival` (added in the last W.newArrivalDays), `popular (in 4.2%
// of orders)`; a pick with none of these (an anonymous shopper without context) says when it was added.
import { Matrix } from 'ml-matrix';
import type { Catalog, SparseVector } from '../../../catalog/types';
import { valueAt, type HalfLives, type ProfileState } from '../interest/model';
import { rulesFor, type Rule, type RuleSet } from './rules';

export interface RecommendWeights {
  /** Weight of the cosine similarity between the interest vector and the product (in [-1, 1]). */
  interest: number;
  /** The session part of the interest vector (unit length, fading with the short half-life). */
  shortTerm: number;
  /** The long-term part of the interest vector (unit length). */
  longTerm: number;
  /** What is being discussed or viewed now (context.text, context.viewingSkus; unit length). */
  context: number;
  /** Weight of the best association rule's strength (confidence - P(consequent), in [0, 1)). */
  complement: number;
  /** A category-level rule counts this much of a sku-level rule (it names a category, not a product). */
  categoryComplement: number;
  /** A rule fired by a recent purchase counts this much of one fired by the cart or the screen. */
  purchaseComplement: number;
  /** Purchases this recent (days before `now`) fire rules. */
  recentPurchaseDays: number;
  /** Weight of freshness, 2^(-age / freshnessHalfLifeDays), in (0, 1]. */
  freshness: number;
  freshnessHalfLifeDays: number;
  /** Products added this recently (days) are explained as `new arrival`. */
  newArrivalDays: number;
  /** Weight of the popularity prior (share of orders, relative to the most popular product), in [0, 1]. */
  popularity: number;
}

/** Every weight of the blend, in one place (see the header of this file for the formula). */
export const DEFAULT_WEIGHTS: Readonly<RecommendWeights> = {
  interest: 1,
  shortTerm: 0.6,
  longTerm: 0.4,
  context: 0.8,
  complement: 0.8,
  categoryComplement: 0.5,
  purchaseComplement: 0.6,
  recentPurchaseDays: 30,
  freshness: 0.05,
  freshnessHalfLifeDays: 90,
  newArrivalDays: 30,
  popularity: 0.15,
};

export interface RecommendContext {
  /** Skus in the cart: never recommended; their complements are. */
  cartSkus?: string[];
  /** Skus on the screen: never recommended; similar products and complements are. */
  viewingSkus?: string[];
  /** What is being discussed (a chat turn, a search): its features join the interest vector. */
  text?: string;
}

export interface RecommendInput {
  profile?: ProfileState;
  rules?: { category?: RuleSet; sku?: RuleSet };
  /** Epoch ms at which interests are valued and freshness is measured. */
  now: number;
  halfLives: HalfLives;
  context?: RecommendContext;
  /** How many recommendations (default 10). */
  k?: number;
}

export interface Recommendation {
  sku: string;
  /** The blended score (rounded to 4 decimals); higher is better. */
  score: number;
  /** Why, strongest contribution first. */
  reasons: string[];
}

export interface Recommender {
  recommend(input: RecommendInput): Recommendation[];
  readonly weights: Readonly<RecommendWeights>;
  /** The product feature matrix (products x features, rows of unit length), in catalog order. */
  readonly productMatrix: Matrix;
}

export const DEFAULT_K = 10;
export const MAX_K = 100;
const DAY = 86_400_000;
const EPS = 1e-12;
/** An interest contribution below this (score units) is not worth explaining. */
const MIN_INTEREST_REASON = 0.05;
/** Features listed in an interest reason: at most 3, each at least this share of the strongest. */
const REASON_FEATURES = 3;
const REASON_SHARE = 0.2;
/** A product is `popular` when its prior is at least this share of the most popular product's. */
const POPULAR_SHARE = 0.5;

const cmpStr = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const round = (x: number, digits: number): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

/** confidence - P(consequent): how much likelier the antecedent makes the consequent. */
export function ruleStrength(r: Pick<Rule, 'confidence' | 'lift'>): number {
  return r.lift > 0 ? Math.max(0, r.confidence * (1 - 1 / r.lift)) : 0;
}

/** Share of orders holding each item, recovered from single-consequent rules (P(c) = conf / lift). */
const popularityCache = new WeakMap<RuleSet, { share: Map<string, number>; max: number }>();
function popularityOf(rs: RuleSet): { share: Map<string, number>; max: number } {
  let pop = popularityCache.get(rs);
  if (!pop) {
    const share = new Map<string, number>();
    let max = 0;
    for (const r of rs.rules) {
      if (r.consequent.length !== 1 || !(r.lift > 0)) continue;
      const item = r.consequent[0]!;
      const p = r.confidence / r.lift;
      if (!share.has(item)) {
        share.set(item, p);
        max = Math.max(max, p);
      }
    }
    pop = { share, max };
    popularityCache.set(rs, pop);
  }
  return pop;
}

function describeRule(r: Rule): string {
  return `bought together with ${r.antecedent.join(' + ')} (confidence ${r.confidence.toFixed(2)}, lift ${r.lift.toFixed(2)})`;
}

interface Part {
  value: number;
  reason: string;
}

/**
 * Precomputes the product feature matrix (rows L2-normalised) and per-product data once; the
 * returned recommender is cheap per call (one matrix-vector product over the catalog).
 */
export function createRecommender(catalog: Catalog, opts: Partial<RecommendWeights> = {}): Recommender {
  const w: RecommendWeights = { ...DEFAULT_WEIGHTS, ...opts };
  const products = catalog.products;
  const n = products.length;
  const f = catalog.features.size;
  const names = catalog.features.names;

  const P = Matrix.zeros(n, f);
  /** Per product: its non-zero features (index, normalised weight), for explanations. */
  const sparse: (readonly (readonly [number, number])[])[] = [];
  const indexOfSku = new Map<string, number>();
  const byCategory = new Map<string, number[]>();
  const addedAt = new Float64Array(n);
  products.forEach((p, i) => {
    const v = catalog.productFeatures(p.sku);
    let norm = 0;
    for (const x of v.values()) norm += x * x;
    norm = Math.sqrt(norm);
    const row: [number, number][] = [];
    if (norm > EPS)
      for (const [j, x] of v) {
        P.set(i, j, x / norm);
        row.push([j, x / norm]);
      }
    sparse.push(row);
    indexOfSku.set(p.sku, i);
    let list = byCategory.get(p.category);
    if (!list) byCategory.set(p.category, (list = []));
    list.push(i);
    addedAt[i] = Date.parse(p.addedAt);
  });
  /** Feature index -> category, for the categories a text names. */
  const categoryOfFeature = new Map<number, string>();
  names.forEach((name, j) => {
    if (name.startsWith('category:')) categoryOfFeature.set(j, name.slice('category:'.length));
  });

  /** Adds `scale * x / |x|` to `u`; false when x is zero. */
  const addUnit = (u: Float64Array, x: ArrayLike<number>, scale: number): boolean => {
    let norm = 0;
    for (let j = 0; j < x.length; j++) norm += x[j]! * x[j]!;
    norm = Math.sqrt(norm);
    if (norm <= EPS || scale === 0) return false;
    for (let j = 0; j < x.length; j++) u[j]! += (scale * x[j]!) / norm;
    return true;
  };
  const addSparse = (c: Float64Array, x: SparseVector): void => {
    for (const [j, v] of x) if (j < c.length) c[j]! += v;
  };

  function recommend(input: RecommendInput): Recommendation[] {
    const wanted = input.k ?? DEFAULT_K;
    const k = Number.isFinite(wanted) ? Math.min(MAX_K, Math.max(0, Math.floor(wanted))) : DEFAULT_K;
    if (k === 0 || n === 0) return [];
    const { profile, now, halfLives } = input;
    const ctx = input.context ?? {};
    const known = (skus: readonly string[] | undefined): string[] =>
      [...new Set(skus ?? [])].filter((s) => indexOfSku.has(s));
    const cart = known(ctx.cartSkus);
    const viewing = known(ctx.viewingSkus);

    const excluded = new Uint8Array(n);
    for (const sku of [...(profile?.purchased ?? []), ...(ctx.cartSkus ?? []), ...(ctx.viewingSkus ?? [])]) {
      const i = indexOfSku.get(sku);
      if (i !== undefined) excluded[i] = 1;
    }

    // (a) interest: u = session + long term + context, each a (weighted) unit vector
    const u = new Float64Array(f);
    let hasInterest = false;
    if (profile && profile.long.row.columns === f && profile.short.row.columns === f) {
      const short = profile.short;
      const fade = Math.pow(2, -Math.max(0, now - short.at) / halfLives.shortMs);
      hasInterest = addUnit(u, short.row.getRow(0), w.shortTerm * fade) || hasInterest;
      hasInterest =
        addUnit(u, valueAt(profile.long, now, halfLives.longMs).getRow(0), w.longTerm) || hasInterest;
    }
    const textFeatures = ctx.text ? catalog.textFeatures(ctx.text) : undefined;
    if ((textFeatures && textFeatures.size > 0) || viewing.length > 0) {
      const c = new Float64Array(f);
      if (textFeatures) addSparse(c, textFeatures);
      for (const sku of viewing) {
        const row = sparse[indexOfSku.get(sku)!]!;
        for (const [j, x] of row) c[j]! += x;
      }
      hasInterest = addUnit(u, c, w.context) || hasInterest;
    }
    let uNorm = 0;
    for (let j = 0; j < f; j++) uNorm += u[j]! * u[j]!;
    uNorm = Math.sqrt(uNorm);
    let sims: Float64Array | undefined;
    if (hasInterest && uNorm > EPS && w.interest !== 0) {
      const col = P.mmul(Matrix.columnVector(Array.from(u, (x) => x / uNorm)));
      sims = Float64Array.from(col.getColumn(0));
    }

    // (b) complements: the best rule per product
    const comp = new Float64Array(n);
    const compReason: (string | undefined)[] = new Array<string | undefined>(n);
    const offer = (i: number, value: number, rule: Rule): void => {
      if (value > comp[i]! + EPS) {
        comp[i] = value;
        compReason[i] = describeRule(rule);
      }
    };
    const recentSkus: string[] = [];
    if (profile && w.recentPurchaseDays > 0) {
      const since = now - w.recentPurchaseDays * DAY;
      for (const [sku, st] of Object.entries(profile.skus))
        if (st.orders > 0 && st.lastAt >= since && st.lastAt <= now && indexOfSku.has(sku))
          recentSkus.push(sku);
      recentSkus.sort(cmpStr);
    }
    const categoriesOf = (skus: readonly string[]): string[] =>
      [...new Set(skus.map((s) => products[indexOfSku.get(s)!]!.category))].sort(cmpStr);
    const nowSkus = [...new Set([...cart, ...viewing])].sort(cmpStr);
    const nowCategories = new Set(categoriesOf(nowSkus));
    if (textFeatures)
      for (const [j, x] of textFeatures) {
        const c = categoryOfFeature.get(j);
        if (c !== undefined && x >= 0.5) nowCategories.add(c);
      }
    const fire = (skus: readonly string[], categories: readonly string[], source: number): void => {
      if (source <= 0 || w.complement === 0) return;
      if (input.rules?.sku && skus.length > 0)
        for (const c of rulesFor(input.rules.sku, skus)) {
          const i = indexOfSku.get(c.item);
          if (i !== undefined && !excluded[i]) offer(i, w.complement * source * ruleStrength(c.rule), c.rule);
        }
      if (input.rules?.category && categories.length > 0 && w.categoryComplement > 0)
        for (const c of rulesFor(input.rules.category, categories)) {
          const value = w.complement * source * w.categoryComplement * ruleStrength(c.rule);
          for (const i of byCategory.get(c.item) ?? []) if (!excluded[i]) offer(i, value, c.rule);
        }
    };
    fire(nowSkus, [...nowCategories].sort(cmpStr), 1);
    fire(
      recentSkus,
      categoriesOf(recentSkus).filter((c) => !nowCategories.has(c)),
      w.purchaseComplement,
    );

    // (c) freshness and (d) popularity
    const pop = input.rules?.sku && w.popularity !== 0 ? popularityOf(input.rules.sku) : undefined;

    // score every candidate, keep the best k (insertion into a sorted list of at most k)
    const scores = new Float64Array(n);
    const top: number[] = [];
    const better = (a: number, b: number): boolean =>
      scores[a]! > scores[b]! || (scores[a] === scores[b] && cmpStr(products[a]!.sku, products[b]!.sku) < 0);
    for (let i = 0; i < n; i++) {
      if (excluded[i]) continue;
      const fresh = Math.pow(2, -Math.max(0, now - addedAt[i]!) / (w.freshnessHalfLifeDays * DAY));
      const popularity = pop && pop.max > 0 ? (pop.share.get(products[i]!.sku) ?? 0) / pop.max : 0;
      scores[i] =
        (sims ? w.interest * sims[i]! : 0) + comp[i]! + w.freshness * fresh + w.popularity * popularity;
      if (top.length === k && !better(i, top[k - 1]!)) continue;
      let at = top.length;
      while (at > 0 && better(i, top[at - 1]!)) at--;
      top.splice(at, 0, i);
      if (top.length > k) top.pop();
    }

    return top.map((i) => {
      const p = products[i]!;
      const parts: Part[] = [];
      if (sims) {
        const value = w.interest * sims[i]!;
        if (value >= MIN_INTEREST_REASON) {
          const contrib = sparse[i]!.map(([j, x]) => [j, (x * u[j]!) / uNorm] as const)
            .filter(([, c]) => c > EPS)
            .sort((a, b) => b[1] - a[1] || a[0] - b[0]);
          const strongest = contrib[0]?.[1] ?? 0;
          const features = contrib
            .filter(([, c]) => c >= REASON_SHARE * strongest)
            .slice(0, REASON_FEATURES)
            .map(([j]) => names[j]!);
          if (features.length > 0) parts.push({ value, reason: `interest: ${features.join(', ')}` });
        }
      }
      if (comp[i]! > 0) parts.push({ value: comp[i]!, reason: compReason[i]! });
      const ageDays = (now - addedAt[i]!) / DAY;
      const fresh = Math.pow(2, -Math.max(0, ageDays) / w.freshnessHalfLifeDays);
      if (ageDays >= 0 && ageDays <= w.newArrivalDays && w.freshness > 0)
        parts.push({ value: w.freshness * fresh, reason: 'new arrival' });
      if (pop && pop.max > 0) {
        const share = pop.share.get(p.sku) ?? 0;
        if (share >= POPULAR_SHARE * pop.max)
          parts.push({
            value: (w.popularity * share) / pop.max,
            reason: `popular (in ${(share * 100).toFixed(1)}% of orders)`,
          });
      }
      parts.sort((a, b) => b.value - a.value);
      const reasons = parts.map((x) => x.reason);
      if (reasons.length === 0) reasons.push(`added ${p.addedAt.slice(0, 10)}`);
      return { sku: p.sku, score: round(scores[i]!, 4), reasons };
    });
  }

  return { recommend, weights: w, productMatrix: P };
}
