// Association rules from order baskets ("people who buy a coffee machine also buy coffee beans").
// Pure: no I/O, no clock. baskets.ts loads the baskets from ClickHouse; a scheduled job mines them.
//
// Algorithm
//   1. Each basket is deduplicated (an item bought twice in one order counts once).
//   2. A basket with more than `maxBasketSize` distinct items is cut to its `maxBasketSize` items that
//      are most frequent over all baskets (number of baskets containing the item, counted before any
//      cut; ties by item name in code-unit order), so the cut is deterministic and keeps the items that
//      can still be frequent. `truncatedBaskets` says how many baskets were cut. Support and confidence
//      are then exact over the cut baskets (see `truncateBaskets`, exported for that reason).
//   3. FP-growth finds every itemset of at most `maxItemsetLength` items contained in at least
//      `minSupport * N` baskets (N = all baskets, including single-item ones). Items are ranked by
//      frequency once; each conditional tree keeps that global order, and growth stops at the length
//      cap, so no conditional tree is built for a prefix that could not grow further (the last level
//      only counts items in the conditional pattern base).
//   4. Every frequent itemset I with |I| >= 2 gives, for each non-empty proper subset A, the rule
//      A -> C (C = I \ A) with support = count(I) / N, confidence = count(I) / count(A),
//      lift = confidence / (count(C) / N). Every subset of a frequent itemset is frequent and no
//      longer than it, so its count is known exactly (downward closure).
//
// Bounds (m = maxBasketSize, L = maxItemsetLength, N = baskets): a cut basket holds at most
// sum_{k<=L} C(m, k) <= m^L itemsets, so there are at most N * m^L frequent itemsets whatever the
// support; the FP-tree has at most N * m nodes, and the conditional trees built for all prefixes of
// length d hold at most N * C(m, d) * m nodes together. Time and memory are therefore
// O(N * m^L) in the worst case (minSupport -> 0), and far less in practice, since support prunes.
// Rules add at most 2^L per itemset. Raising `minSupport` is the lever when the itemset count grows.

export interface Rule {
  /** Sorted (code-unit order). */
  antecedent: string[];
  /** Sorted (code-unit order); disjoint from the antecedent. */
  consequent: string[];
  /** count / baskets: the share of baskets holding antecedent and consequent together. */
  support: number;
  /** count / count(antecedent): P(consequent | antecedent). */
  confidence: number;
  /** confidence / support(consequent): > 1 when buying the antecedent makes the consequent likelier. */
  lift: number;
  /** Baskets holding antecedent and consequent together. */
  count: number;
}

export interface RuleSet {
  /** Best first: lift, then confidence, then support (all descending), then antecedent, consequent. */
  rules: Rule[];
  /** Baskets mined (N, the support denominator). */
  baskets: number;
  /** Distinct items in the baskets after deduplication and the size cap. */
  items: number;
  /** Baskets cut to `maxBasketSize` items. */
  truncatedBaskets: number;
  /** Frequent itemsets found (all lengths, singletons included), before the confidence filter. */
  itemsets: number;
  minSupport: number;
  minConfidence: number;
  /** Set by the caller that mined the rules (this module reads no clock). */
  minedAt?: string;
}

export interface MineOptions {
  /** Fraction of baskets, 0..1: an itemset is frequent when count / N >= minSupport. */
  minSupport: number;
  /** 0..1: a rule is kept when confidence >= minConfidence. */
  minConfidence: number;
  /** Largest basket mined as is; larger ones are cut (see above). Default 20. */
  maxBasketSize?: number;
  /** Longest itemset (antecedent + consequent). Default 3. */
  maxItemsetLength?: number;
  /** Keep at most this many rules (the best, in rule order). Default: all. */
  maxRules?: number;
}

export const DEFAULT_MAX_BASKET_SIZE = 20;
export const DEFAULT_MAX_ITEMSET_LENGTH = 3;
/** Bit masks enumerate antecedents; longer itemsets would also be unreasonable to enumerate. */
const MAX_ITEMSET_LENGTH_LIMIT = 30;

/** Code-unit order, independent of locale. */
const cmpStr = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Lexicographic order of sorted string arrays; a prefix comes first. */
export function compareItemLists(a: readonly string[], b: readonly string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = cmpStr(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

/** The rule order: lift, confidence, support descending, then antecedent, then consequent. */
export function compareRules(a: Rule, b: Rule): number {
  return (
    b.lift - a.lift ||
    b.confidence - a.confidence ||
    b.support - a.support ||
    compareItemLists(a.antecedent, b.antecedent) ||
    compareItemLists(a.consequent, b.consequent)
  );
}

function checkFraction(name: string, v: number): void {
  if (!(Number.isFinite(v) && v >= 0 && v <= 1)) throw new RangeError(`${name} must be in [0, 1], got ${v}`);
}

function checkInt(name: string, v: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!(Number.isInteger(v) && v >= min && v <= max))
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${v}`);
}

/**
 * Deduplicates each basket and cuts those larger than `maxBasketSize` to their `maxBasketSize`
 * globally most frequent items (baskets containing the item, over all baskets before the cut; ties
 * by name). Items in the result are sorted. Exported so tests and callers can see what was mined.
 */
export function truncateBaskets(
  baskets: readonly (readonly string[])[],
  maxBasketSize: number = DEFAULT_MAX_BASKET_SIZE,
): { baskets: string[][]; truncated: number } {
  checkInt('maxBasketSize', maxBasketSize, 1);
  const unique = baskets.map((b) => [...new Set(b)]);
  let truncated = 0;
  let freq: Map<string, number> | undefined;
  const out = unique.map((b) => {
    if (b.length <= maxBasketSize) return b.sort(cmpStr);
    truncated++;
    if (!freq) {
      freq = new Map();
      for (const u of unique) for (const x of u) freq.set(x, (freq.get(x) ?? 0) + 1);
    }
    const f = freq;
    return b
      .sort((x, y) => f.get(y)! - f.get(x)! || cmpStr(x, y))
      .slice(0, maxBasketSize)
      .sort(cmpStr);
  });
  return { baskets: out, truncated };
}

/** Smallest count c with c / n >= minSupport (the same float comparison a brute force would make). */
function minCountFor(minSupport: number, n: number): number {
  let c = Math.max(0, Math.ceil(minSupport * n));
  while (c > 0 && (c - 1) / n >= minSupport) c--;
  while (c / n < minSupport) c++;
  return Math.max(1, c);
}

// ---- FP-tree over item ids (0 = most frequent). Paths from the root have ascending ids. ----

/**
 * Nodes live in typed arrays (node 0 is the root); a child is found through one numeric map keyed
 * by parent * itemCount + item. Items of the tree are listed in first-insertion order.
 */
class FpTree {
  item = new Int32Array(64);
  parent = new Int32Array(64);
  count = new Float64Array(64);
  /** next node with the same item (the header's node-link list), -1 at the end */
  next = new Int32Array(64);
  size = 1;
  readonly child = new Map<number, number>();
  /** item -> first node of its node-link list, -1 when absent */
  readonly heads: Int32Array;
  /** item -> total count in this tree */
  readonly totals: Float64Array;
  readonly items: number[] = [];

  constructor(readonly itemCount: number) {
    this.heads = new Int32Array(itemCount).fill(-1);
    this.totals = new Float64Array(itemCount);
    this.item[0] = -1;
    this.parent[0] = -1;
  }

  private grow(): void {
    const cap = this.item.length * 2;
    const copy = <A extends Int32Array | Float64Array>(a: A, make: (n: number) => A): A => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    this.item = copy(this.item, (n) => new Int32Array(n));
    this.parent = copy(this.parent, (n) => new Int32Array(n));
    this.count = copy(this.count, (n) => new Float64Array(n));
    this.next = copy(this.next, (n) => new Int32Array(n));
  }

  /** Inserts the first `length` ids of `path` (ascending; descending when `reversed`) with a count. */
  insert(path: readonly number[], length: number, count: number, reversed = false): void {
    let node = 0;
    for (let i = 0; i < length; i++) {
      const it = path[reversed ? length - 1 - i : i]!;
      const key = node * this.itemCount + it;
      let c = this.child.get(key);
      if (c === undefined) {
        if (this.size === this.item.length) this.grow();
        c = this.size++;
        this.item[c] = it;
        this.parent[c] = node;
        this.count[c] = 0;
        this.next[c] = this.heads[it]!;
        if (this.heads[it] === -1) this.items.push(it);
        this.heads[it] = c;
        this.child.set(key, c);
      }
      this.count[c]! += count;
      this.totals[it]! += count;
      node = c;
    }
  }
}

/**
 * Mines association rules from baskets; see the header of this file for the algorithm and bounds.
 * Deterministic: the same baskets in any order give the same RuleSet.
 */
export function mineRules(baskets: readonly (readonly string[])[], opts: MineOptions): RuleSet {
  const { minSupport, minConfidence } = opts;
  const maxBasketSize = opts.maxBasketSize ?? DEFAULT_MAX_BASKET_SIZE;
  const maxLen = opts.maxItemsetLength ?? DEFAULT_MAX_ITEMSET_LENGTH;
  checkFraction('minSupport', minSupport);
  checkFraction('minConfidence', minConfidence);
  checkInt('maxItemsetLength', maxLen, 1, MAX_ITEMSET_LENGTH_LIMIT);
  if (opts.maxRules !== undefined) checkInt('maxRules', opts.maxRules, 0);

  const { baskets: cut, truncated } = truncateBaskets(baskets, maxBasketSize);
  const n = cut.length;
  const itemCounts = new Map<string, number>();
  for (const b of cut) for (const x of b) itemCounts.set(x, (itemCounts.get(x) ?? 0) + 1);
  const result: RuleSet = {
    rules: [],
    baskets: n,
    items: itemCounts.size,
    truncatedBaskets: truncated,
    itemsets: 0,
    minSupport,
    minConfidence,
  };
  if (n === 0) return result;
  const minCount = minCountFor(minSupport, n);

  // frequent items, ranked: id 0 is the most frequent (ties by name); the FP-tree orders by id
  const byFreq = [...itemCounts]
    .filter(([, c]) => c >= minCount)
    .sort((a, b) => b[1] - a[1] || cmpStr(a[0], b[0]))
    .map(([name]) => name);
  const idOf = new Map(byFreq.map((name, i) => [name, i]));
  // itemsets are stored as ascending name ranks, so comparing rank lists compares names
  const names = [...byFreq].sort(cmpStr);
  const nameRank = new Map(names.map((name, i) => [name, i]));
  const rankOfId = byFreq.map((name) => nameRank.get(name)!);

  // itemset keys: a number while (F+1)^L fits in 53 bits, else a string
  const base = names.length + 1;
  const numericKeys = maxLen * Math.log2(base) < 52;
  const keyOf = (ranks: readonly number[]): number | string => {
    if (!numericKeys) return ranks.join(',');
    let k = 0;
    for (const r of ranks) k = k * base + r + 1;
    return k;
  };
  const setCounts = new Map<number | string, number>();
  const sets: number[][] = [];
  const counts: number[] = [];
  const emit = (ids: readonly number[], count: number): void => {
    const ranks = ids.map((id) => rankOfId[id]!).sort((a, b) => a - b);
    setCounts.set(keyOf(ranks), count);
    sets.push(ranks);
    counts.push(count);
  };

  const itemCount = byFreq.length;
  const tree = new FpTree(itemCount);
  const path: number[] = [];
  for (const b of cut) {
    path.length = 0;
    for (const x of b) {
      const id = idOf.get(x);
      if (id !== undefined) path.push(id);
    }
    if (path.length > 0)
      tree.insert(
        path.sort((a, b) => a - b),
        path.length,
        1,
      );
  }

  // per-depth scratch counts over item ids (reset through the list of touched ids)
  const scratch = Array.from({ length: maxLen }, () => new Float64Array(itemCount));
  const grow = (t: FpTree, prefix: readonly number[]): void => {
    const condCounts = scratch[prefix.length]!;
    for (const item of t.items) {
      const count = t.totals[item]!;
      if (count < minCount) continue;
      const set = [...prefix, item];
      emit(set, count);
      if (set.length >= maxLen) continue;
      // conditional pattern base: the path above each node of `item`, with that node's count
      const touched: number[] = [];
      for (let node = t.heads[item]!; node !== -1; node = t.next[node]!) {
        const c = t.count[node]!;
        for (let p = t.parent[node]!; p > 0; p = t.parent[p]!) {
          const x = t.item[p]!;
          if (condCounts[x] === 0) touched.push(x);
          condCounts[x]! += c;
        }
      }
      if (set.length + 1 >= maxLen) {
        // last level: the counts are all that is needed
        for (const x of touched) if (condCounts[x]! >= minCount) emit([...set, x], condCounts[x]!);
      } else {
        // conditional tree: the same paths, without the items infrequent in them
        const cond = new FpTree(itemCount);
        for (let node = t.heads[item]!; node !== -1; node = t.next[node]!) {
          path.length = 0;
          for (let p = t.parent[node]!; p > 0; p = t.parent[p]!) {
            const x = t.item[p]!;
            if (condCounts[x]! >= minCount) path.push(x);
          }
          if (path.length > 0) cond.insert(path, path.length, t.count[node]!, true);
        }
        if (cond.items.length > 0) grow(cond, set);
      }
      for (const x of touched) condCounts[x] = 0;
    }
  };
  grow(tree, []);
  result.itemsets = sets.length;

  // Candidate rules, compact: itemset index, antecedent bit mask, confidence, lift. Only the rules
  // kept (maxRules) become objects with name arrays.
  const countOf = (set: readonly number[], mask: number): number => {
    let key: number | string;
    if (numericKeys) {
      key = 0;
      for (let i = 0; i < set.length; i++) if (mask & (1 << i)) key = key * base + set[i]! + 1;
    } else key = set.filter((_, i) => mask & (1 << i)).join(',');
    const c = setCounts.get(key);
    if (c === undefined) throw new Error('internal: subset of a frequent itemset missing');
    return c;
  };
  const cSet: number[] = [];
  const cMask: number[] = [];
  const cConf: number[] = [];
  const cLift: number[] = [];
  for (let s = 0; s < sets.length; s++) {
    const set = sets[s]!;
    const k = set.length;
    if (k < 2) continue;
    const count = counts[s]!;
    const full = (1 << k) - 1;
    for (let mask = 1; mask < full; mask++) {
      const confidence = count / countOf(set, mask);
      if (confidence < minConfidence) continue;
      cSet.push(s);
      cMask.push(mask);
      cConf.push(confidence);
      cLift.push(confidence / (countOf(set, full & ~mask) / n));
    }
  }
  /** Lexicographic order of the parts of two itemsets picked by masks (ranks ascending = names). */
  const cmpPart = (setA: number[], maskA: number, setB: number[], maskB: number): number => {
    let i = 0;
    let j = 0;
    for (;;) {
      while (i < setA.length && !(maskA & (1 << i))) i++;
      while (j < setB.length && !(maskB & (1 << j))) j++;
      const endA = i >= setA.length;
      const endB = j >= setB.length;
      if (endA || endB) return endA && endB ? 0 : endA ? -1 : 1;
      const d = setA[i]! - setB[j]!;
      if (d !== 0) return d;
      i++;
      j++;
    }
  };
  const order = Array.from(cSet, (_, i) => i);
  order.sort((x, y) => {
    const d = cLift[y]! - cLift[x]! || cConf[y]! - cConf[x]! || counts[cSet[y]!]! - counts[cSet[x]!]!;
    if (d !== 0) return d;
    const sx = sets[cSet[x]!]!;
    const sy = sets[cSet[y]!]!;
    const mx = cMask[x]!;
    const my = cMask[y]!;
    const full = (s: number[]): number => (1 << s.length) - 1;
    return cmpPart(sx, mx, sy, my) || cmpPart(sx, full(sx) & ~mx, sy, full(sy) & ~my);
  });
  const keep = Math.min(order.length, opts.maxRules ?? order.length);
  for (let r = 0; r < keep; r++) {
    const x = order[r]!;
    const set = sets[cSet[x]!]!;
    const mask = cMask[x]!;
    const antecedent: string[] = [];
    const consequent: string[] = [];
    for (let i = 0; i < set.length; i++) (mask & (1 << i) ? antecedent : consequent).push(names[set[i]!]!);
    const count = counts[cSet[x]!]!;
    result.rules.push({
      antecedent,
      consequent,
      support: count / n,
      confidence: cConf[x]!,
      lift: cLift[x]!,
      count,
    });
  }
  return result;
}

export interface Complement {
  item: string;
  /** lift * confidence of `rule` (see rulesFor). */
  score: number;
  /** The best rule recommending `item`. */
  rule: Rule;
}

export interface RulesForOptions {
  /** Items never to recommend (already bought, out of stock...), besides `items` themselves. */
  exclude?: readonly string[];
  /** At most this many complements. Default: all. */
  limit?: number;
  /** Only rules with lift strictly above this (default 1: positively associated). */
  minLift?: number;
}

/** Rules indexed by their first antecedent item, per rules array (RuleSets are treated as immutable). */
const indexes = new WeakMap<readonly Rule[], Map<string, Rule[]>>();

function indexOf(rules: readonly Rule[]): Map<string, Rule[]> {
  let index = indexes.get(rules);
  if (!index) {
    index = new Map();
    for (const r of rules) {
      const first = r.antecedent[0];
      if (first === undefined) continue;
      let list = index.get(first);
      if (!list) index.set(first, (list = []));
      list.push(r);
    }
    indexes.set(rules, index);
  }
  return index;
}

/**
 * Complements for what is in a cart or being discussed: rules whose whole antecedent is among
 * `items`, and whose consequent items are neither in `items` nor in `exclude`. Each consequent item
 * gets its best rule by score = lift * confidence (= P(c|A)^2 / P(c)): confidence alone favours
 * best-sellers that go with anything, lift alone favours rare items seen together a few times; the
 * product asks for a consequent that is both likely given the cart and much likelier than usual.
 * Ties between rules go to rule order. Results: score descending, then item name; deterministic.
 */
export function rulesFor(
  ruleSet: RuleSet,
  items: readonly string[],
  opts: RulesForOptions = {},
): Complement[] {
  const have = new Set(items);
  const excluded = new Set(opts.exclude ?? []);
  const minLift = opts.minLift ?? 1;
  const best = new Map<string, Complement>();
  const index = indexOf(ruleSet.rules);
  for (const first of have) {
    for (const rule of index.get(first) ?? []) {
      if (!(rule.lift > minLift)) continue;
      if (!rule.antecedent.every((x) => have.has(x))) continue;
      const score = rule.lift * rule.confidence;
      for (const item of rule.consequent) {
        if (have.has(item) || excluded.has(item)) continue;
        const cur = best.get(item);
        if (!cur || score > cur.score || (score === cur.score && compareRules(rule, cur.rule) < 0))
          best.set(item, { item, score, rule });
      }
    }
  }
  const out = [...best.values()].sort((a, b) => b.score - a.score || cmpStr(a.item, b.item));
  if (opts.limit !== undefined && out.length > opts.limit) out.length = Math.max(0, opts.limit);
  return out;
}
