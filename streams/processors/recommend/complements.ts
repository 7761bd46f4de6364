// Complements from a rule set: the items the rules recommend for what is in a cart or being
// discussed, each with its best rule and a score. Pure.
import { cmpStr, compareRules, type Rule, type RuleSet } from './rule-set';

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
