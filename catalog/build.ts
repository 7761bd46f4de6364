// Building a catalog in memory: the feature space, price bands, product vectors and the vocabulary
// terms (from the vocabulary file, category ids and names, and brands), checked like a file. Pure.
import type { Catalog, CatalogProduct, FeatureSpace, SparseVector } from './types';
import {
  attrFeature,
  brandFeature,
  CATEGORY_NAMES_ZH,
  categoryFeature,
  PRICE_BANDS,
  priceFeature,
  PRODUCT_FEATURE_WEIGHTS,
  type PriceBand,
} from './features';
import {
  CJK,
  matchTerms,
  normalizeText,
  type TrieNode,
  type VocabularyFile,
  type VocabularyTerm,
} from './text-match';
import { CatalogError, validateCatalog } from './validate';

export interface PriceRange {
  minMinor: number;
  maxMinor: number;
}

/** The loaded catalog: the Catalog contract plus lookups the simulator and recommenders use. */
export interface LoadedCatalog extends Catalog {
  /** Files it was loaded from (or 'memory'). */
  readonly source: { products: string; vocabulary: string };
  /** Every term the text matcher knows (vocabulary file, plus category ids and names and brands). */
  readonly terms: readonly VocabularyTerm[];
  /** Non-fatal problems: vocabulary terms for features the catalog lacks (dropped), duplicate terms. */
  readonly warnings: readonly string[];
  /** The product's price band within its category (tertiles); undefined for an unknown sku. */
  priceBand(sku: string): PriceBand | undefined;
  /** Lowest and highest price of a category's band. */
  priceRange(category: string, band: PriceBand): PriceRange | undefined;
  /** Products of a category, in catalog order; empty for an unknown category. */
  productsIn(category: string): readonly CatalogProduct[];
  /** Terms whose weight for `feature` is at least `minWeight` (default 0.8). */
  termsFor(feature: string, minWeight?: number): readonly VocabularyTerm[];
  /** A vector by feature name, strongest first: for logs, inspection and tests. */
  named(vector: SparseVector): Record<string, number>;
}

const EMPTY: SparseVector = new Map();

function priceBands(products: readonly CatalogProduct[]): Map<string, PriceBand> {
  const byCategory = new Map<string, number[]>();
  for (const p of products) {
    const prices = byCategory.get(p.category) ?? [];
    prices.push(p.priceMinor);
    byCategory.set(p.category, prices);
  }
  for (const prices of byCategory.values()) prices.sort((a, b) => a - b);
  const bands = new Map<string, PriceBand>();
  for (const p of products) {
    const prices = byCategory.get(p.category)!;
    // rank = how many products of the category are strictly cheaper: equal prices share a band
    let lo = 0;
    let hi = prices.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (prices[mid]! < p.priceMinor) lo = mid + 1;
      else hi = mid;
    }
    const n = prices.length;
    bands.set(p.sku, lo * 3 < n ? 'budget' : lo * 3 < 2 * n ? 'mid' : 'premium');
  }
  return bands;
}

/** Builds a catalog from products and a vocabulary already in memory (validated like a file). */
export function buildCatalog(
  products: readonly CatalogProduct[],
  vocabulary: VocabularyFile,
  source: { products: string; vocabulary: string } = { products: 'memory', vocabulary: 'memory' },
): LoadedCatalog {
  const issues = validateCatalog(products);
  if (issues.length > 0) {
    const shown = issues.slice(0, 20).map((i) => `  - ${i.message}`);
    if (issues.length > shown.length) shown.push(`  - ... and ${issues.length - shown.length} more`);
    throw new CatalogError(
      `catalog ${source.products}: ${issues.length} problem(s):\n${shown.join('\n')}`,
      issues,
    );
  }
  const warnings: string[] = [];

  // feature space
  const bandBySku = priceBands(products);
  const names = new Set<string>();
  for (const p of products) {
    names.add(categoryFeature(p.category));
    names.add(brandFeature(p.brand));
    for (const [k, v] of Object.entries(p.attributes)) names.add(attrFeature(k, v));
  }
  for (const band of PRICE_BANDS) names.add(priceFeature(band));
  const sorted = [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const index = new Map(sorted.map((name, i) => [name, i]));
  const features: FeatureSpace = { names: sorted, index, size: sorted.length };
  const idx = (name: string): number => index.get(name)!;

  // product vectors
  const bySku = new Map<string, CatalogProduct>();
  const vectors = new Map<string, SparseVector>();
  const byCategory = new Map<string, CatalogProduct[]>();
  for (const p of products) {
    bySku.set(p.sku, p);
    const list = byCategory.get(p.category) ?? [];
    list.push(p);
    byCategory.set(p.category, list);
    const v = new Map<number, number>();
    v.set(idx(categoryFeature(p.category)), PRODUCT_FEATURE_WEIGHTS.category);
    v.set(idx(brandFeature(p.brand)), PRODUCT_FEATURE_WEIGHTS.brand);
    v.set(idx(priceFeature(bandBySku.get(p.sku)!)), PRODUCT_FEATURE_WEIGHTS.priceBand);
    for (const [k, value] of Object.entries(p.attributes))
      v.set(idx(attrFeature(k, value)), PRODUCT_FEATURE_WEIGHTS.attribute);
    vectors.set(p.sku, v);
  }
  const categories = [...byCategory.keys()].sort();

  const ranges = new Map<string, PriceRange>();
  for (const p of products) {
    const key = `${p.category}\0${bandBySku.get(p.sku)!}`;
    const r = ranges.get(key);
    if (!r) ranges.set(key, { minMinor: p.priceMinor, maxMinor: p.priceMinor });
    else {
      r.minMinor = Math.min(r.minMinor, p.priceMinor);
      r.maxMinor = Math.max(r.maxMinor, p.priceMinor);
    }
  }

  // vocabulary: the file's entries first (they win), then category ids and names, then brands
  const termMap = new Map<string, VocabularyTerm>();
  const addTerm = (raw: string, weights: Record<string, number>, origin: VocabularyTerm['origin']): void => {
    const term = normalizeText(raw);
    if (!term) return;
    const known = new Map<string, number>();
    for (const [feature, weight] of Object.entries(weights)) {
      if (index.has(feature)) known.set(feature, weight);
      else if (origin === 'vocabulary')
        warnings.push(`vocabulary term '${raw}': feature ${feature} is not in the catalog (dropped)`);
    }
    if (known.size === 0) return;
    const existing = termMap.get(term);
    if (existing) {
      if (
        origin === 'vocabulary' &&
        existing.origin === 'vocabulary' &&
        !sameWeights(existing.features, known)
      )
        warnings.push(`vocabulary term '${raw}' is defined twice; the first definition is used`);
      return;
    }
    termMap.set(term, { term, lang: CJK.test(term) ? 'zh' : 'en', features: known, origin });
  };
  if (!vocabulary || !Array.isArray(vocabulary.entries))
    throw new CatalogError(`vocabulary ${source.vocabulary}: expected { "entries": [...] }`);
  vocabulary.entries.forEach((entry, i) => {
    const bad = (why: string): CatalogError =>
      new CatalogError(`vocabulary ${source.vocabulary}: entry #${i} (${JSON.stringify(entry)}): ${why}`);
    if (!entry || !Array.isArray(entry.terms) || entry.terms.some((t) => typeof t !== 'string'))
      throw bad('terms must be an array of strings');
    if (!entry.features || typeof entry.features !== 'object') throw bad('features must be an object');
    for (const [f, w] of Object.entries(entry.features))
      if (typeof w !== 'number' || !(w > 0 && w <= 1)) throw bad(`weight of ${f} must be in (0, 1]`);
    for (const t of entry.terms) addTerm(t, entry.features, 'vocabulary');
  });
  for (const c of categories) {
    addTerm(c, { [categoryFeature(c)]: 1 }, 'category'); // "coffee_machines" reads as "coffee machines"
    for (const zh of CATEGORY_NAMES_ZH[c] ?? []) addTerm(zh, { [categoryFeature(c)]: 1 }, 'category');
  }
  for (const b of new Set(products.map((p) => p.brand))) addTerm(b, { [brandFeature(b)]: 1 }, 'brand');
  const terms = [...termMap.values()];

  const trie: TrieNode = { next: new Map() };
  for (const t of terms) {
    let node = trie;
    for (const ch of t.term) {
      let child = node.next.get(ch);
      if (!child) node.next.set(ch, (child = { next: new Map() }));
      node = child;
    }
    node.features = [...t.features].map(([f, w]) => [idx(f), w] as const);
  }

  const textFeatures = (text: string): SparseVector => {
    if (!text) return EMPTY;
    const v = new Map<number, number>();
    matchTerms(trie, normalizeText(text), (node) => {
      for (const [f, w] of node.features!) v.set(f, Math.min(1, (v.get(f) ?? 0) + w));
    });
    return v.size ? v : EMPTY;
  };

  return {
    products,
    bySku,
    categories,
    features,
    source,
    terms,
    warnings,
    productFeatures: (sku) => vectors.get(sku) ?? EMPTY,
    textFeatures,
    priceBand: (sku) => bandBySku.get(sku),
    priceRange: (category, band) => ranges.get(`${category}\0${band}`),
    productsIn: (category) => byCategory.get(category) ?? [],
    termsFor: (feature, minWeight = 0.8) => terms.filter((t) => (t.features.get(feature) ?? 0) >= minWeight),
    named: (vector) =>
      Object.fromEntries(
        [...vector]
          .sort((a, b) => b[1] - a[1] || a[0] - b[0])
          .map(([i, w]) => [sorted[i] ?? `#${i}`, w] as const),
      ),
  };
}

function sameWeights(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): boolean {
  return a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);
}
