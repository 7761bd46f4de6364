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
// vectors should be keyed by feature name, not index, to survive catalog changes).//
// This file: loading from files. features.ts names the feature space, validate.ts checks products,
// text-match.ts matches text against the vocabulary, build.ts builds a catalog in memory.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { CatalogProduct } from './types';
import { buildCatalog, type LoadedCatalog } from './build';
import type { VocabularyFile } from './text-match';
import { CatalogError } from './validate';

export type { Catalog, CatalogProduct, FeatureSpace, SparseVector } from './types';

export const SHIPPED_PRODUCTS_FILE = path.join(__dirname, 'products.json');
export const SHIPPED_VOCABULARY_FILE = path.join(__dirname, 'vocabulary.json');

export {
  CATEGORY_NAMES_ZH,
  KNOWN_CATEGORIES,
  PRICE_BANDS,
  PRODUCT_FEATURE_WEIGHTS,
  brandId,
  categoryFeature,
  brandFeature,
  priceFeature,
  attrFeature,
  type PriceBand,
} from './features';
export { CatalogError, validateCatalog, type CatalogIssue } from './validate';
export { normalizeText, type VocabularyEntry, type VocabularyFile, type VocabularyTerm } from './text-match';
export { buildCatalog, type PriceRange, type LoadedCatalog } from './build';

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
