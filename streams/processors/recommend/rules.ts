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
//
// This file: the miner. rule-set.ts holds the Rule and RuleSet shapes and their order, fp-tree.ts the
// FP-tree, complements.ts the lookup of complements for a cart (rulesFor).
import { FpTree } from './fp-tree';
import { cmpStr, type RuleSet } from './rule-set';

export { rulesFor, type Complement, type RulesForOptions } from './complements';
export { compareItemLists, compareRules, type Rule, type RuleSet } from './rule-set';

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
