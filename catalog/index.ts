// The shop catalog: products, the feature space interest vectors live in, and the vocabulary that
// maps search and chat text (English and Chinese) onto that space. Contract: catalog/types.ts.
//
// The shipped catalog (catalog/products.json, ~300 products made by catalog/generate.ts, and
// catalog/vocabulary.json) is what the demo, the simulator and the tests use. To run on a real
// catalog, write the same format, a JSON array of CatalogProduct (or { "products": [...] }), and pass
// its path:
//
//   const catalog = loadCatalog(process.env['CATALOG_FILE']);   // undefined: the shipped catalog
//
// optionally with your own vocabulary file as the second argument (same format as
// catalog/vocabulary.json; the shipped one is used otherwise, and its terms for features your catalog
// does not have are dropped, listed in `catalog.warnings`). loadCatalog validates the products
// (validateCatalog) and throws a CatalogError naming each bad product and field, so a broken file
// fails at start-up rather than as odd recommendations later.
//
// Feature space: every category:<id>, brand:<brand id>, price:budget|mid|premium, and every
// attr:<key>:<value> that occurs in the products, sorted by name (stable for a given catalog; stored
// vectors should be keyed by feature name, not index, to survive catalog changes).
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Catalog, CatalogProduct, FeatureSpace, SparseVector } from './types';

export type { Catalog, CatalogProduct, FeatureSpace, SparseVector } from './types';

export const SHIPPED_PRODUCTS_FILE = path.join(__dirname, 'products.json');
export const SHIPPED_VOCABULARY_FILE = path.join(__dirname, 'vocabulary.json');

/** The shop's categories with their Chinese names (added to the vocabulary automatically). */
export const CATEGORY_NAMES_ZH: Readonly<Record<string, readonly string[]>> = {
  apparel: ['服装', '服饰', '衣服'],
  shoes: ['鞋', '鞋子'],
  phones: ['手机'],
  phone_accessories: ['手机配件'],
  coffee_machines: ['咖啡机'],
  coffee_beans: ['咖啡豆'],
  beauty: ['美妆', '护肤品'],
  home: ['家居'],
};
export const KNOWN_CATEGORIES: readonly string[] = Object.keys(CATEGORY_NAMES_ZH);

export const PRICE_BANDS = ['budget', 'mid', 'premium'] as const;
export type PriceBand = (typeof PRICE_BANDS)[number];

/**
 * A product's feature weights: its category 1, its brand 0.5, its price band 0.5, each attribute 0.8.
 * The category dominates (it is what a shopper is after first); attributes weigh more than brand and
 * price because they are what distinguishes products within a category.
 */
export const PRODUCT_FEATURE_WEIGHTS = { category: 1, brand: 0.5, priceBand: 0.5, attribute: 0.8 } as const;

/** Brand id as used in feature names: lower-case, spaces as `_` ("Ember Roasters" -> ember_roasters). */
export function brandId(brand: string): string {
  return brand.trim().toLowerCase().replace(/\s+/g, '_');
}
export const categoryFeature = (category: string): string => `category:${category}`;
export const brandFeature = (brand: string): string => `brand:${brandId(brand)}`;
export const priceFeature = (band: PriceBand): string => `price:${band}`;
export const attrFeature = (key: string, value: string): string => `attr:${key}:${value}`;

// ---------------------------------------------------------------------------------------------
// Validation

export interface CatalogIssue {
  /** Position of the product in the file (0-based). */
  index: number;
  sku: string | undefined;
  field: string;
  /** Names the product and the field, e.g. `product PHO-0003 (#2): nameZh is missing`. */
  message: string;
}

export class CatalogError extends Error {
  constructor(
    message: string,
    readonly issues: readonly CatalogIssue[] = [],
  ) {
    super(message);
    this.name = 'CatalogError';
  }
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/;
const ATTR_KEY = /^[a-z][a-z0-9_]*$/;

/**
 * Checks products (as parsed from JSON) against the CatalogProduct contract: sku present and unique,
 * English and Chinese names, a known category, a brand, a non-negative integer price in minor units,
 * a 3-letter currency, lower-case attributes, an ISO addedAt. Returns every problem found (empty
 * when the catalog is good); each message names the product (sku, else its position) and the field.
 */
export function validateCatalog(
  products: readonly unknown[],
  opts: { categories?: readonly string[] } = {},
): CatalogIssue[] {
  const categories = opts.categories ?? KNOWN_CATEGORIES;
  const issues: CatalogIssue[] = [];
  const firstBySku = new Map<string, number>();
  products.forEach((raw, index) => {
    const p = (raw !== null && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
    const sku = typeof p['sku'] === 'string' && p['sku'].trim() ? p['sku'] : undefined;
    const where = sku ? `product ${sku} (#${index})` : `product #${index}`;
    const issue = (field: string, problem: string): void => {
      issues.push({ index, sku, field, message: `${where}: ${field} ${problem}` });
    };
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      issue('(product)', 'is not an object');
      return;
    }
    const text = (field: string, what: string): void => {
      const v = p[field];
      if (v === undefined || v === null || v === '') issue(field, `is missing (${what})`);
      else if (typeof v !== 'string') issue(field, `must be a string (${what})`);
      else if (!v.trim()) issue(field, `is blank (${what})`);
    };

    if (!sku) issue('sku', 'is missing (every product needs a unique sku)');
    else if (firstBySku.has(sku))
      issue('sku', `is a duplicate: product #${firstBySku.get(sku)} has the same sku`);
    else firstBySku.set(sku, index);

    text('nameEn', 'the English name');
    text('nameZh', 'the Chinese name');
    text('brand', 'the brand name');

    const category = p['category'];
    if (typeof category !== 'string' || !category) issue('category', 'is missing');
    else if (!categories.includes(category))
      issue('category', `'${category}' is not a known category (${categories.join(', ')})`);

    const price = p['priceMinor'];
    if (typeof price !== 'number' || !Number.isFinite(price))
      issue('priceMinor', 'is missing or not a number (price in minor units, e.g. cents)');
    else if (price < 0) issue('priceMinor', `is negative (${price})`);
    else if (!Number.isInteger(price))
      issue('priceMinor', `must be a whole number of minor units (${price})`);

    const currency = p['currency'];
    if (typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency))
      issue('currency', `must be a 3-letter ISO code such as USD (got ${JSON.stringify(currency)})`);

    const attrs = p['attributes'];
    if (attrs === null || typeof attrs !== 'object' || Array.isArray(attrs))
      issue('attributes', 'must be an object of key -> value (may be empty)');
    else {
      for (const [key, value] of Object.entries(attrs as Record<string, unknown>)) {
        if (!ATTR_KEY.test(key)) issue(`attributes.${key}`, 'key must be lower-case (a-z, 0-9, _)');
        if (typeof value !== 'string' || !value)
          issue(`attributes.${key}`, 'value must be a non-empty string');
        else if (value !== value.toLowerCase() || value.includes(':'))
          issue(`attributes.${key}`, `value must be lower-case without ':' (got '${value}')`);
      }
    }

    const addedAt = p['addedAt'];
    if (typeof addedAt !== 'string' || !ISO_DATE.test(addedAt) || Number.isNaN(Date.parse(addedAt)))
      issue('addedAt', `must be an ISO date such as 2026-01-31 (got ${JSON.stringify(addedAt)})`);
  });
  return issues;
}

// ---------------------------------------------------------------------------------------------
// Vocabulary and text matching

export interface VocabularyEntry {
  terms: string[];
  /** Feature name -> weight in (0, 1]. */
  features: Record<string, number>;
}

export interface VocabularyFile {
  entries: VocabularyEntry[];
}

export interface VocabularyTerm {
  /** Normalised (lower-case, hyphens as spaces). */
  term: string;
  /** 'zh' when the term contains Chinese characters. */
  lang: 'en' | 'zh';
  /** Feature name -> weight. */
  features: ReadonlyMap<string, number>;
  /** Where the term came from: the vocabulary file, or added from a category id / name or a brand. */
  origin: 'vocabulary' | 'category' | 'brand';
}

/**
 * Text as the matcher sees it: NFKC (full-width to ASCII), lower-case, hyphens, underscores and
 * dashes as spaces, curly apostrophes straight, runs of whitespace as one space.
 */
export function normalizeText(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[‘’]/g, "'")
    .replace(/[-_\u2010-\u2015]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

const CJK = /[\u3400-\u9fff\uf900-\ufaff]/;

/** Character classes for word boundaries: Latin letter, digit, or other (space, punctuation, CJK). */
function charClass(ch: string | undefined): 'l' | 'd' | 'o' {
  if (ch === undefined) return 'o';
  if (ch >= '0' && ch <= '9') return 'd';
  if ((ch >= 'a' && ch <= 'z') || (ch >= '\u00e0' && ch <= '\u024f')) return 'l';
  return 'o';
}

interface TrieNode {
  next: Map<string, TrieNode>;
  /** Set where a term ends: its features as (index, weight) pairs. */
  features?: readonly (readonly [number, number])[];
}

/**
 * Dictionary matcher over a character trie. Terms are found by longest-match scanning: at each
 * position the candidates are the terms that start there ("power bank" and "power"; "手机壳" and
 * "手机"), and the text is split into the terms that cover the most characters with the fewest terms.
 * That is the longest term at each position, except where taking it would break the term after it:
 * "防摔手机壳" reads 防摔 + 手机壳 (5 characters covered), not 防摔手机 + 壳 (4). Computed right to
 * left in one pass (dynamic programming), linear in the text for a bounded term length.
 *
 * A term that starts (ends) with a Latin letter or digit must start (end) on a word boundary: the
 * neighbouring character is of another class (letter / digit / other), so "phone" does not match
 * inside "iphone" but "spf" matches in "spf50" and "mah" in "20000mah". An English term may be
 * followed by a plural "s" or "es". Chinese characters count as "other", so Chinese terms match
 * anywhere: the dictionary scan is the segmentation.
 */
function matchTerms(trie: TrieNode, text: string, onMatch: (node: TrieNode) => void): void {
  const n = text.length;
  const endsOnBoundary = (end: number, last: string): boolean => {
    const cls = charClass(last);
    return cls === 'o' || end >= n || charClass(text[end]) !== cls;
  };
  /** Terms starting at i, as [end, node]. */
  const matchesAt = (i: number, out: [number, TrieNode][]): void => {
    out.length = 0;
    const cls = charClass(text[i]);
    if (cls !== 'o' && i > 0 && charClass(text[i - 1]) === cls) return; // inside a word or number
    let node: TrieNode | undefined = trie;
    for (let j = i; j < n; j++) {
      node = node.next.get(text[j]!);
      if (!node) return;
      if (!node.features) continue;
      const end = j + 1;
      const last = text[j]!;
      if (endsOnBoundary(end, last)) out.push([end, node]);
      else if (charClass(last) === 'l') {
        // plural: "cases", "power banks", "glasses"
        if (text[end] === 's' && endsOnBoundary(end + 1, 's')) out.push([end + 1, node]);
        else if (text.startsWith('es', end) && endsOnBoundary(end + 2, 's')) out.push([end + 2, node]);
      }
    }
  };
  // best[i]: the best split of text[i..]: characters covered, terms used, and the choice at i
  const covered = new Int32Array(n + 1);
  const count = new Int32Array(n + 1);
  const takeEnd = new Int32Array(n + 1).fill(-1);
  const takeNode: (TrieNode | undefined)[] = new Array<TrieNode | undefined>(n + 1);
  const candidates: [number, TrieNode][] = [];
  for (let i = n - 1; i >= 0; i--) {
    covered[i] = covered[i + 1]!;
    count[i] = count[i + 1]!;
    matchesAt(i, candidates);
    for (const [end, node] of candidates) {
      const c = end - i + covered[end]!;
      const k = 1 + count[end]!;
      if (c > covered[i]! || (c === covered[i]! && k < count[i]!)) {
        covered[i] = c;
        count[i] = k;
        takeEnd[i] = end;
        takeNode[i] = node;
      }
    }
  }
  for (let i = 0; i < n;) {
    const end = takeEnd[i]!;
    if (end > i) {
      onMatch(takeNode[i]!);
      i = end;
    } else i++;
  }
}

// ---------------------------------------------------------------------------------------------
// The catalog

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

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CatalogError(`cannot read the ${what} file ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new CatalogError(`the ${what} file ${file} is not valid JSON: ${(err as Error).message}`);
  }
}

const cache = new Map<string, LoadedCatalog>();

/**
 * Loads (once per pair of files; later calls return the cached catalog) the products file and the
 * vocabulary file; both default to the shipped ones. Throws CatalogError on a missing or malformed
 * file or invalid products, naming each product and field.
 */
export function loadCatalog(file?: string, vocabularyFile?: string): LoadedCatalog {
  const productsPath = path.resolve(file ?? SHIPPED_PRODUCTS_FILE);
  const vocabularyPath = path.resolve(vocabularyFile ?? SHIPPED_VOCABULARY_FILE);
  const key = `${productsPath}\0${vocabularyPath}`;
  const cached = cache.get(key);
  if (cached) return cached;
  const raw = readJson(productsPath, 'catalog');
  const products = Array.isArray(raw)
    ? (raw as unknown[])
    : raw && typeof raw === 'object' && Array.isArray((raw as { products?: unknown }).products)
      ? (raw as { products: unknown[] }).products
      : undefined;
  if (!products)
    throw new CatalogError(
      `catalog ${productsPath}: expected a JSON array of products or { "products": [...] }`,
    );
  const catalog = buildCatalog(
    products as CatalogProduct[],
    readJson(vocabularyPath, 'vocabulary') as VocabularyFile,
    { products: productsPath, vocabulary: vocabularyPath },
  );
  cache.set(key, catalog);
  return catalog;
}
