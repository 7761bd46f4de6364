// The shipped catalog (catalog/products.json + vocabulary.json): it loads and validates, its price
// bands and feature space make sense, text in English and Chinese maps onto features, a bad catalog
// file fails with a message naming the product and field; and the simulator uses it.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CatalogError,
  KNOWN_CATEGORIES,
  PRICE_BANDS,
  SHIPPED_PRODUCTS_FILE,
  buildCatalog,
  loadCatalog,
  validateCatalog,
  type CatalogProduct,
  type LoadedCatalog,
} from '../../catalog';
import { generateProducts } from '../../catalog/generate';
import { preferenceAttributes } from '../../demo/catalog';
import { planSimulation } from '../../demo/simulator';

let catalog: LoadedCatalog;
beforeAll(() => {
  catalog = loadCatalog();
});

const named = (text: string): Record<string, number> => catalog.named(catalog.textFeatures(text));
const powerBank = (): CatalogProduct => catalog.products.find((p) => p.attributes['type'] === 'power_bank')!;
const good = (over: Partial<CatalogProduct> = {}): CatalogProduct => ({
  sku: 'PHO-9001',
  nameEn: 'Test Phone',
  nameZh: '测试手机',
  category: 'phones',
  brand: 'Orbit',
  priceMinor: 19999,
  currency: 'USD',
  attributes: { battery: 'long' },
  addedAt: '2026-01-31',
  ...over,
});

describe('the shipped catalog', () => {
  it('loads, validates, and is cached', () => {
    expect(validateCatalog(catalog.products)).toEqual([]);
    expect(catalog.warnings).toEqual([]);
    expect(loadCatalog()).toBe(catalog);
    expect(catalog.source.products).toBe(SHIPPED_PRODUCTS_FILE);
  });

  it('has a few hundred products across the eight categories, each with both names', () => {
    expect(catalog.products.length).toBeGreaterThanOrEqual(250);
    expect(catalog.products.length).toBeLessThanOrEqual(400);
    expect([...catalog.categories].sort()).toEqual([...KNOWN_CATEGORIES].sort());
    for (const c of catalog.categories) expect(catalog.productsIn(c).length).toBeGreaterThanOrEqual(30);
    expect(catalog.bySku.size).toBe(catalog.products.length);
    for (const p of catalog.products) {
      expect(p.nameZh).toMatch(/[\u4e00-\u9fff]/);
      expect(p.currency).toBe('USD');
    }
    // 2-4 brands per category, and some brands span categories
    const brands = new Map<string, Set<string>>();
    for (const p of catalog.products) brands.set(p.brand, (brands.get(p.brand) ?? new Set()).add(p.category));
    for (const c of catalog.categories) {
      const n = new Set(catalog.productsIn(c).map((p) => p.brand)).size;
      expect(n).toBeGreaterThanOrEqual(2);
      expect(n).toBeLessThanOrEqual(4);
    }
    expect([...brands.values()].filter((cs) => cs.size > 1).length).toBeGreaterThanOrEqual(3);
  });

  it('is what catalog/generate.ts generates (the committed file is in sync with its generator)', () => {
    const committed = JSON.parse(fs.readFileSync(SHIPPED_PRODUCTS_FILE, 'utf8')) as unknown;
    expect(committed).toEqual(generateProducts());
  });

  it('gives every category products in all three price bands, cheap to dear', () => {
    for (const c of catalog.categories) {
      const products = catalog.productsIn(c);
      for (const band of PRICE_BANDS) {
        const inBand = products.filter((p) => catalog.priceBand(p.sku) === band);
        expect(inBand.length).toBeGreaterThanOrEqual(products.length / 5);
      }
      const budget = catalog.priceRange(c, 'budget')!;
      const mid = catalog.priceRange(c, 'mid')!;
      const premium = catalog.priceRange(c, 'premium')!;
      expect(budget.maxMinor).toBeLessThan(mid.minMinor);
      expect(mid.maxMinor).toBeLessThan(premium.minMinor);
    }
  });

  it('defines a sorted feature space of categories, brands, price bands and attributes', () => {
    const { names, index, size } = catalog.features;
    expect(size).toBe(names.length);
    expect([...names].sort()).toEqual(names);
    names.forEach((n, i) => expect(index.get(n)).toBe(i));
    for (const c of KNOWN_CATEGORIES) expect(index.has(`category:${c}`)).toBe(true);
    for (const f of [
      'price:budget',
      'price:mid',
      'price:premium',
      'brand:orbit',
      'brand:ember_roasters',
      'attr:battery:long',
      'attr:durability:rugged',
      'attr:material:leather',
      'attr:roast:dark',
      'attr:skin_type:sensitive',
      'attr:room:kitchen',
    ])
      expect(index.has(f)).toBe(true);
    expect(names.every((n) => /^(category|brand|price|attr):/.test(n))).toBe(true);
  });

  it('weighs product features: category 1, brand 0.5, price band 0.5, attributes 0.8', () => {
    const p = powerBank();
    const v = catalog.named(catalog.productFeatures(p.sku));
    expect(v['category:phone_accessories']).toBe(1);
    expect(v['attr:battery:long']).toBe(0.8);
    expect(v['attr:type:power_bank']).toBe(0.8);
    expect(v[`brand:${p.brand.toLowerCase()}`]).toBe(0.5);
    expect(v[`price:${catalog.priceBand(p.sku)!}`]).toBe(0.5);
    expect(Object.keys(v)).toHaveLength(3 + Object.keys(p.attributes).length);
    expect(catalog.productFeatures('NO-SUCH-SKU').size).toBe(0);
  });
});

describe('textFeatures', () => {
  it('maps a power bank search in English and in Chinese to long battery life', () => {
    expect(named('large power bank')['attr:battery:long']).toBe(1);
    expect(named('大容量充电宝')['attr:battery:long']).toBe(1);
    expect(named('移动电源')['category:phone_accessories']).toBeGreaterThan(0);
  });

  it('maps drop-proof cases to rugged durability, in both languages', () => {
    for (const text of ['drop-proof case', 'drop proof case', '防摔手机壳']) {
      const v = named(text);
      expect(v['attr:durability:rugged']).toBe(1);
      expect(v['attr:type:case']).toBe(1);
    }
  });

  it('reads mixed-language text and chat lines', () => {
    const v = named('Looking for a 防摔 phone with long battery life, 预算不多');
    expect(v).toMatchObject({
      'attr:durability:rugged': 1,
      'category:phones': 1,
      'attr:battery:long': 1,
      'price:budget': 1,
    });
    expect(named('这个充电宝续航怎么样?')['attr:battery:long']).toBe(1);
    expect(named('cheap 意式咖啡机')).toMatchObject({
      'price:budget': 1,
      'attr:type:espresso': 1,
      'category:coffee_machines': 1,
    });
  });

  it('prefers the longest term: "手机壳" is a case, not a phone; "coffee machine" is not beans', () => {
    const v = named('手机壳');
    expect(v['attr:type:case']).toBe(1);
    expect(v['category:phones']).toBeUndefined();
    expect(named('coffee machine')).toEqual({ 'category:coffee_machines': 1 });
    // "防摔手机" (a rugged phone) is a term too; the split that covers the whole text wins
    expect(named('防摔手机')).toMatchObject({ 'attr:durability:rugged': 1, 'category:phones': 0.8 });
    expect(named('防摔手机壳')['category:phones']).toBeUndefined();
  });

  it('matches English terms on word boundaries, case-insensitively, with plurals', () => {
    expect(named('iphone')).toEqual({}); // no "phone" inside a word
    expect(named('showcase')).toEqual({});
    expect(named('POWER BANKS')['attr:type:power_bank']).toBe(1);
    expect(named('phone cases')['attr:type:case']).toBe(1);
    expect(named('20000mAh')['attr:battery:long']).toBe(1); // letters after digits: a boundary
    expect(named('ＳＰＦ50 防晒霜')['attr:type:sunscreen']).toBe(1); // full-width letters
  });

  it('adds category ids, Chinese category names and brands, and caps each feature at 1', () => {
    expect(named('phone_accessories')).toEqual({ 'category:phone_accessories': 1 });
    expect(named('咖啡豆')['category:coffee_beans']).toBe(1);
    expect(named('Ember Roasters dark roast')).toMatchObject({
      'brand:ember_roasters': 1,
      'attr:roast:dark': 1,
    });
    const v = named('coffee coffee coffee coffee');
    expect(v['category:coffee_beans']).toBe(1);
    expect(Math.max(...Object.values(named('cheap affordable budget 便宜 实惠 phone phone')))).toBe(1);
  });

  it('gives an empty vector for text it does not know', () => {
    expect(catalog.textFeatures('xyzzy qwerty').size).toBe(0);
    expect(catalog.textFeatures('').size).toBe(0);
    expect(catalog.textFeatures('今天天气不错').size).toBe(0);
  });

  it('has a vocabulary of well over 100 terms in both languages', () => {
    const vocab = catalog.terms.filter((t) => t.origin === 'vocabulary');
    expect(vocab.filter((t) => t.lang === 'en').length).toBeGreaterThan(100);
    expect(vocab.filter((t) => t.lang === 'zh').length).toBeGreaterThan(100);
    expect(catalog.termsFor('attr:battery:long').map((t) => t.term)).toEqual(
      expect.arrayContaining(['power bank', '充电宝', '续航', 'battery life']),
    );
  });
});

describe('validateCatalog', () => {
  it('accepts a good product', () => {
    expect(validateCatalog([good()])).toEqual([]);
  });

  it.each([
    ['duplicate sku', [good(), good({ nameEn: 'Other' })], 'sku', /PHO-9001.*sku.*duplicate/],
    ['unknown category', [good({ category: 'toys' })], 'category', /PHO-9001.*category.*'toys'.*not a known/],
    ['negative price', [good({ priceMinor: -100 })], 'priceMinor', /PHO-9001.*priceMinor.*negative/],
    ['missing Chinese name', [good({ nameZh: '' })], 'nameZh', /PHO-9001.*nameZh.*missing/],
    ['missing sku', [good({ sku: '' })], 'sku', /product #0: sku.*missing/],
    ['upper-case attribute', [good({ attributes: { battery: 'Long' } })], 'attributes.battery', /PHO-9001/],
    ['bad date', [good({ addedAt: 'yesterday' })], 'addedAt', /PHO-9001.*addedAt/],
  ])('catches a %s, naming the product and field', (_what, products, field, message) => {
    const issues = validateCatalog(products);
    expect(issues).toHaveLength(1);
    expect(issues[0]!.field).toBe(field);
    expect(issues[0]!.message).toContain(field);
    expect(issues[0]!.message).toMatch(message);
  });

  it('reports a missing Chinese name on a product without one at all', () => {
    const { nameZh: _omit, ...rest } = good();
    const [issue] = validateCatalog([rest]);
    expect(issue!.message).toBe('product PHO-9001 (#0): nameZh is missing (the Chinese name)');
  });
});

describe('loadCatalog on another file (a real catalog)', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'catalog-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, data: unknown): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, JSON.stringify(data));
    return file;
  };

  it('loads a file in the same format, with the shipped vocabulary', () => {
    const file = write('real.json', {
      products: [
        good(),
        good({ sku: 'PHO-9002', priceMinor: 49999, attributes: { battery: 'standard' } }),
        good({ sku: 'ACC-9003', category: 'phone_accessories', priceMinor: 2999, attributes: {} }),
      ],
    });
    const real = loadCatalog(file);
    expect(real.products).toHaveLength(3);
    expect(real.categories).toEqual(['phone_accessories', 'phones']);
    expect(real.features.names).toContain('attr:battery:long');
    expect(real.named(real.textFeatures('long battery phone'))).toMatchObject({
      'attr:battery:long': 1,
      'category:phones': expect.any(Number) as number,
    });
    // the shipped vocabulary names features this small catalog does not have: dropped, with a note
    expect(real.warnings.some((w) => w.includes('attr:roast:dark'))).toBe(true);
  });

  it('fails on a bad product with a message naming the product and field', () => {
    const file = write('bad.json', [good(), good({ sku: 'PHO-9002', priceMinor: -5, nameZh: '' })]);
    expect(() => loadCatalog(file)).toThrow(CatalogError);
    expect(() => loadCatalog(file)).toThrow(/PHO-9002.*priceMinor is negative/);
    expect(() => loadCatalog(file)).toThrow(/PHO-9002.*nameZh is missing/);
  });

  it('fails clearly on a missing file or malformed JSON', () => {
    expect(() => loadCatalog(path.join(dir, 'nope.json'))).toThrow(/cannot read the catalog file/);
    fs.writeFileSync(path.join(dir, 'broken.json'), '[{');
    expect(() => loadCatalog(path.join(dir, 'broken.json'))).toThrow(/not valid JSON/);
  });

  it('rejects vocabulary weights outside (0, 1]', () => {
    expect(() =>
      buildCatalog([good()], { entries: [{ terms: ['x'], features: { 'category:phones': 2 } }] }),
    ).toThrow(/weight of category:phones must be in \(0, 1\]/);
  });
});

describe('the simulator on the shipped catalog', () => {
  const users = planSimulation({ users: 300, seed: 7, t0: Date.UTC(2026, 0, 1) });
  const props = (e: { input: { properties: unknown } }): Record<string, unknown> =>
    e.input.properties as Record<string, unknown>;

  it('gives each user a hidden category and attribute preference the catalog can express', () => {
    for (const u of users) {
      expect(loadCatalog().categories).toContain(u.preferredCategory);
      expect(preferenceAttributes(loadCatalog(), u.preferredCategory)).toContain(u.preferredAttribute);
    }
    expect(new Set(users.map((u) => u.language))).toEqual(new Set(['en', 'zh', 'mixed']));
  });

  it('sends catalog products, mostly from the preferred category and attribute', () => {
    let views = 0;
    let inCategory = 0;
    let withAttribute = 0;
    for (const u of users)
      for (const e of u.events) {
        if (e.type !== 'product_viewed') continue;
        const p = props(e)['product'] as Record<string, unknown>;
        const product = catalog.bySku.get(p['sku'] as string)!;
        expect(p).toMatchObject({
          sku: product.sku,
          productId: product.sku,
          name: product.nameEn,
          category: product.category,
          brand: product.brand,
          priceMinor: product.priceMinor,
        });
        views++;
        if (product.category === u.preferredCategory) {
          inCategory++;
          const [, key, value] = u.preferredAttribute.split(':');
          if (product.attributes[key!] === value) withAttribute++;
        }
      }
    expect(inCategory / views).toBeGreaterThan(0.7);
    expect(withAttribute / inCategory).toBeGreaterThan(0.6);
  });

  it('searches in the words of the user preferences, in English and Chinese', () => {
    const queries = users.flatMap((u) =>
      u.events
        .filter((e) => e.type === 'products_searched')
        .map((e) => ({ u, q: props(e)['query'] as string })),
    );
    expect(queries.length).toBeGreaterThan(50);
    expect(queries.some(({ q }) => /[\u4e00-\u9fff]/.test(q))).toBe(true);
    expect(queries.some(({ q }) => /^[a-z0-9 '&]+$/.test(q))).toBe(true);
    const namesPreference = queries.filter(({ u, q }) => {
      const v = named(q);
      return v[u.preferredAttribute] !== undefined || v[`category:${u.preferredCategory}`] !== undefined;
    });
    expect(namesPreference.length).toBe(queries.length);
  });

  it('is deterministic for a seed', () => {
    const again = planSimulation({ users: 300, seed: 7, t0: Date.UTC(2026, 0, 1) });
    expect(again).toEqual(users);
  });
});
