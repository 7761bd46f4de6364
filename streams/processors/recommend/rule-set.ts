// An association rule and a mined rule set, and their deterministic order (code-unit string order,
// independent of locale). Pure; shared by the miner (rules.ts) and the lookup (complements.ts).

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

/** Code-unit order, independent of locale. */
export const cmpStr = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

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
