// The simulator's view of the catalog: the shipped catalog (catalog/products.json through
// loadCatalog), plus what a simulated shopper needs from it: which attributes can be a preference in
// a category, and the words (English or Chinese) a shopper with a preference would type.
import { loadCatalog, type LoadedCatalog, type VocabularyTerm } from '../catalog';
import type { CatalogProduct } from '../catalog/types';
import { pick } from './random';

export type { CatalogProduct } from '../catalog/types';
export type { LoadedCatalog } from '../catalog';
export type Lang = 'en' | 'zh';

/** The catalog the simulator uses: the shipped one (cached after the first call). */
export function demoCatalog(): LoadedCatalog {
  return loadCatalog();
}

export function productsIn(catalog: LoadedCatalog, category: string): readonly CatalogProduct[] {
  return catalog.productsIn(category);
}

/** Whether a product has an `attr:key:value` feature. */
export function hasAttribute(p: CatalogProduct, feature: string): boolean {
  const [, key, value] = feature.split(':');
  return key !== undefined && p.attributes[key] === value;
}

const preferenceCache = new WeakMap<LoadedCatalog, Map<string, string[]>>();

/**
 * Attributes (`attr:key:value`) a shopper in `category` can prefer: held by at least 3 of the
 * category's products but not by all of them (so the preference narrows the choice), and named by
 * vocabulary terms in both English and Chinese (so the shopper can search for it). Sorted.
 */
export function preferenceAttributes(catalog: LoadedCatalog, category: string): readonly string[] {
  let byCategory = preferenceCache.get(catalog);
  if (!byCategory) preferenceCache.set(catalog, (byCategory = new Map<string, string[]>()));
  const cached = byCategory.get(category);
  if (cached) return cached;
  const products = catalog.productsIn(category);
  const counts = new Map<string, number>();
  for (const p of products)
    for (const [k, v] of Object.entries(p.attributes)) {
      const f = `attr:${k}:${v}`;
      counts.set(f, (counts.get(f) ?? 0) + 1);
    }
  const out = [...counts]
    .filter(([, n]) => n >= 3 && n < products.length)
    .map(([f]) => f)
    .filter((f) => termsIn(catalog, f, 'en').length > 0 && termsIn(catalog, f, 'zh').length > 0)
    .sort();
  byCategory.set(category, out);
  return out;
}

/** Vocabulary terms (from the vocabulary file) naming `feature` strongly, in one language. */
export function termsIn(catalog: LoadedCatalog, feature: string, lang: Lang): readonly VocabularyTerm[] {
  return catalog.termsFor(feature, 0.8).filter((t) => t.lang === lang && t.origin !== 'brand');
}

/** Terms that name only the category (e.g. "phone", "手机", "coffee beans"), in one language. */
export function categoryTerms(
  catalog: LoadedCatalog,
  category: string,
  lang: Lang,
): readonly VocabularyTerm[] {
  return termsIn(catalog, `category:${category}`, lang).filter((t) => t.features.size === 1);
}

/**
 * A term for `feature` in `lang` (for a category, a term naming only the category), or in the other
 * language when there is none.
 */
export function pickTerm(rnd: () => number, catalog: LoadedCatalog, feature: string, lang: Lang): string {
  const find = (l: Lang): readonly VocabularyTerm[] =>
    feature.startsWith('category:')
      ? categoryTerms(catalog, feature.slice('category:'.length), l)
      : termsIn(catalog, feature, l);
  const terms = find(lang);
  const any = terms.length ? terms : find(lang === 'en' ? 'zh' : 'en');
  return any.length ? pick(rnd, any).term : (feature.split(':').at(-1) ?? feature).replace(/_/g, ' ');
}

export { pick };
