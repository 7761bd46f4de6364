// The catalog contract: products with attributes, and the feature space interest vectors live in.
// Feature names are stable strings so stored vectors survive catalog changes (new features append).
//   category:<category>          e.g. category:phones
//   brand:<brand>                e.g. brand:orbit          (lower-case, spaces as _)
//   price:<band>                 budget | mid | premium    (tertiles of price within the category)
//   attr:<key>:<value>           e.g. attr:battery:long, attr:durability:rugged, attr:material:leather

export interface CatalogProduct {
  sku: string;
  nameEn: string;
  nameZh: string;
  category: string;
  brand: string;
  priceMinor: number;
  currency: string;
  /** material, style, occasion, battery, durability, roast, skin_type, ... (values lower-case) */
  attributes: Record<string, string>;
  /** ISO date the product was added to the shop: recommendations favour fresh products a little. */
  addedAt: string;
}

/** Sparse vector: feature index -> weight. */
export type SparseVector = ReadonlyMap<number, number>;

export interface FeatureSpace {
  readonly names: readonly string[];
  readonly index: ReadonlyMap<string, number>;
  readonly size: number;
}

export interface Catalog {
  readonly products: readonly CatalogProduct[];
  readonly bySku: ReadonlyMap<string, CatalogProduct>;
  readonly categories: readonly string[];
  readonly features: FeatureSpace;
  /** A product's features (category, brand, price band, attributes), weights in (0, 1]. */
  productFeatures(sku: string): SparseVector;
  /**
   * Features a search query or chat text mentions, through the catalog vocabulary (English and
   * Chinese; Chinese by dictionary longest-match, no word segmentation needed). Empty when none.
   */
  textFeatures(text: string): SparseVector;
}
