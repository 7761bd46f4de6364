// Validation of catalog products against the CatalogProduct contract, and the error that names each
// bad product and field. Pure.
import { KNOWN_CATEGORIES } from './features';

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
