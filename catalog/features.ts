// The catalog's vocabulary of features: the known categories (with their Chinese names), price bands,
// product feature weights and the feature names interest vectors are keyed by. Pure data and naming.

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
