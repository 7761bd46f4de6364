// A hand-made catalog for unit tests of the interest model: small enough to reason about.
import type { Catalog, CatalogProduct, SparseVector } from '../../catalog/types';

const products: CatalogProduct[] = [
  {
    sku: 'PH-1',
    nameEn: 'Orbit phone',
    nameZh: 'Orbit 手机',
    category: 'phones',
    brand: 'Orbit',
    priceMinor: 49900,
    currency: 'USD',
    attributes: { battery: 'long' },
    addedAt: '2026-01-01',
  },
  {
    sku: 'PH-2',
    nameEn: 'Nova phone',
    nameZh: 'Nova 手机',
    category: 'phones',
    brand: 'Nova',
    priceMinor: 29900,
    currency: 'USD',
    attributes: { battery: 'standard' },
    addedAt: '2026-01-01',
  },
  {
    sku: 'PB-1',
    nameEn: 'Volt power bank',
    nameZh: 'Volt 充电宝',
    category: 'phone_accessories',
    brand: 'Volt',
    priceMinor: 3900,
    currency: 'USD',
    attributes: { battery: 'long' },
    addedAt: '2026-01-01',
  },
  {
    sku: 'CS-1',
    nameEn: 'Rugged case',
    nameZh: '防摔手机壳',
    category: 'phone_accessories',
    brand: 'Volt',
    priceMinor: 1900,
    currency: 'USD',
    attributes: { durability: 'rugged' },
    addedAt: '2026-01-01',
  },
  {
    sku: 'CM-1',
    nameEn: 'Crema espresso machine',
    nameZh: 'Crema 咖啡机',
    category: 'coffee_machines',
    brand: 'Crema',
    priceMinor: 39900,
    currency: 'USD',
    attributes: {},
    addedAt: '2026-01-01',
  },
  {
    sku: 'CB-1',
    nameEn: 'Crema dark roast',
    nameZh: 'Crema 深烘咖啡豆',
    category: 'coffee_beans',
    brand: 'Crema',
    priceMinor: 1500,
    currency: 'USD',
    attributes: { roast: 'dark' },
    addedAt: '2026-01-01',
  },
];

const names = [
  'attr:battery:long',
  'attr:battery:standard',
  'attr:durability:rugged',
  'attr:roast:dark',
  'brand:crema',
  'brand:nova',
  'brand:orbit',
  'brand:volt',
  'category:coffee_beans',
  'category:coffee_machines',
  'category:phone_accessories',
  'category:phones',
];
const index = new Map(names.map((n, i) => [n, i]));
const vocabulary: Record<string, string[]> = {
  'power bank': ['attr:battery:long', 'category:phone_accessories'],
  充电宝: ['attr:battery:long', 'category:phone_accessories'],
  battery: ['attr:battery:long'],
  'drop-proof': ['attr:durability:rugged'],
  防摔: ['attr:durability:rugged'],
  coffee: ['category:coffee_machines', 'category:coffee_beans'],
};

function productFeatures(sku: string): SparseVector {
  const p = products.find((x) => x.sku === sku);
  const out = new Map<number, number>();
  if (!p) return out;
  out.set(index.get(`category:${p.category}`)!, 1);
  out.set(index.get(`brand:${p.brand.toLowerCase()}`)!, 0.5);
  for (const [k, v] of Object.entries(p.attributes)) out.set(index.get(`attr:${k}:${v}`)!, 0.8);
  return out;
}

function textFeatures(text: string): SparseVector {
  const out = new Map<number, number>();
  const t = text.toLowerCase();
  for (const [term, features] of Object.entries(vocabulary)) {
    if (t.includes(term)) for (const f of features) out.set(index.get(f)!, 1);
  }
  return out;
}

export const tinyCatalog: Catalog = {
  products,
  bySku: new Map(products.map((p) => [p.sku, p])),
  categories: [...new Set(products.map((p) => p.category))],
  features: { names, index, size: names.length },
  productFeatures,
  textFeatures,
};
