// A small generated catalog for the simulator: products across the shop's categories, with prices
// in minor units and search words. Deterministic for a seed.
import { mulberry32, pick } from './random';

export interface CatalogProduct {
  sku: string;
  name: string;
  category: string;
  brand: string;
  priceMinor: number;
  words: string[];
}

const CATEGORIES: Record<
  string,
  { brands: string[]; items: string[]; price: [number, number]; words: string[] }
> = {
  apparel: {
    brands: ['Northwind', 'Lumen'],
    items: ['linen shirt', 'wool sweater', 'rain jacket', 'summer dress'],
    price: [1999, 12999],
    words: ['shirt', 'jacket', 'dress', 'cotton'],
  },
  shoes: {
    brands: ['Stride', 'Peak'],
    items: ['running shoe', 'leather boot', 'canvas sneaker', 'trail shoe'],
    price: [4999, 19999],
    words: ['sneaker', 'boots', 'running'],
  },
  phones: {
    brands: ['Orbit', 'Nova'],
    items: ['phone 12', 'phone mini', 'phone pro max', 'phone lite'],
    price: [29999, 129999],
    words: ['phone', 'smartphone', '5g'],
  },
  phone_accessories: {
    brands: ['Orbit', 'Volt'],
    items: ['power bank 20000mAh', 'drop-proof case', 'fast charger', 'usb-c cable'],
    price: [999, 7999],
    words: ['power bank', 'case', 'charger', 'battery'],
  },
  coffee_machines: {
    brands: ['Barista', 'Crema'],
    items: ['espresso machine', 'drip brewer', 'bean grinder', 'milk frother'],
    price: [4999, 89999],
    words: ['espresso', 'coffee machine', 'grinder'],
  },
  coffee_beans: {
    brands: ['Highland', 'Crema'],
    items: ['ethiopia light roast', 'colombia medium roast', 'italian dark roast', 'decaf blend'],
    price: [899, 3499],
    words: ['beans', 'roast', 'arabica'],
  },
  beauty: {
    brands: ['Bloom', 'Pure'],
    items: ['face serum', 'moisturizer', 'sunscreen spf50', 'lip balm'],
    price: [799, 8999],
    words: ['serum', 'skincare', 'sunscreen'],
  },
  home: {
    brands: ['Nest', 'Oak'],
    items: ['throw blanket', 'table lamp', 'ceramic vase', 'storage basket'],
    price: [1499, 14999],
    words: ['lamp', 'blanket', 'decor'],
  },
};

export const CATEGORY_NAMES = Object.keys(CATEGORIES);

export function buildCatalog(seed: number): CatalogProduct[] {
  const rnd = mulberry32(seed);
  const out: CatalogProduct[] = [];
  for (const [category, c] of Object.entries(CATEGORIES)) {
    for (const item of c.items) {
      for (const brand of c.brands) {
        for (const variant of ['', ' plus']) {
          const [lo, hi] = c.price;
          const priceMinor = Math.round((lo + rnd() * (hi - lo)) / 100) * 100 - 1;
          out.push({
            sku: `${category.slice(0, 3).toUpperCase()}-${String(out.length + 1).padStart(4, '0')}`,
            name: `${brand} ${item}${variant}`,
            category,
            brand,
            priceMinor,
            words: [...c.words, item.split(' ')[0]!],
          });
        }
      }
    }
  }
  return out;
}

export function productsIn(catalog: CatalogProduct[], category: string): CatalogProduct[] {
  return catalog.filter((p) => p.category === category);
}

export { pick };
