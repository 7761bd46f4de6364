// Recommendations on the shipped catalog: interest similarity with reasons, complements from
// association rules, exclusions, k, determinism.
import { loadCatalog } from '../../catalog';
import { decodeEnvelope, encodeEnvelope } from '../../schemas/codec';
import type { EnvelopeInit, EventType } from '../../schemas/events';
import { applyEvent, emptyState, type ProfileState } from '../../streams/processors/interest/model';
import {
  createRecommender,
  DEFAULT_WEIGHTS,
  ruleStrength,
  type RecommendInput,
} from '../../streams/processors/recommend/recommend';
import { mineRules, type RuleSet } from '../../streams/processors/recommend/rules';
import { buildEnvelope } from '../helpers/events';

const catalog = loadCatalog();
const recommender = createRecommender(catalog);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const halfLives = { shortMs: HOUR / 2, longMs: 14 * DAY };
const T0 = Date.UTC(2026, 11, 1, 10);

const product = (sku: string) => {
  const p = catalog.bySku.get(sku)!;
  return {
    sku,
    productId: sku,
    name: p.nameEn,
    category: p.category,
    brand: p.brand,
    priceMinor: p.priceMinor,
  };
};
const attrs = (sku: string) => catalog.bySku.get(sku)!.attributes;
const category = (sku: string) => catalog.bySku.get(sku)!.category;

/** An event: type, payload, and optionally its time (default: one minute after the previous one). */
type Step = [EventType, Record<string, unknown>, number?];
const view = (sku: string): Step => ['product_viewed', { product: product(sku), currency: 'USD' }];
const search = (query: string): Step => ['products_searched', { query, resultCount: 5 }];
const cartAdd = (sku: string): Step => [
  'cart_item_added',
  { cartId: 'c1', product: product(sku), currency: 'USD' },
];
const order = (...skus: string[]): Step => [
  'order_placed',
  {
    orderId: `o-${skus.join('-')}`,
    cartId: 'c1',
    products: skus.map(product),
    totalMinor: 1,
    currency: 'USD',
  },
];

/** A profile from events one minute apart starting at `t0`, through encode/decode as on the wire. */
function profileOf(steps: Step[], t0 = T0): ProfileState {
  const s = emptyState('shop-1', 'u1', catalog.features.size);
  let t = t0 - 60_000;
  steps.forEach(([type, payload, at], i) => {
    t = at ?? t + 60_000;
    const init: EnvelopeInit = buildEnvelope(type, { userId: 'u1', occurredAt: t }, payload as never);
    const d = decodeEnvelope(encodeEnvelope(init));
    if (!d.ok) throw new Error(d.detail);
    applyEvent(s, d.envelope, d.type, i + 1, catalog, halfLives);
  });
  return s;
}

/** Order baskets: espresso machine CMA-0001 with dark-roast beans, phones with cases, and noise. */
function baskets(): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < 30; i++) out.push(['CMA-0001', i % 3 === 0 ? 'CBE-0025' : 'CBE-0021']);
  for (let i = 0; i < 10; i++) out.push(['CMA-0017', 'CBE-0009']);
  for (let i = 0; i < 20; i++) out.push(['PHO-0003', 'ACC-0001']);
  for (let i = 0; i < 40; i++) out.push([`APP-${String((i % 30) + 1).padStart(4, '0')}`]);
  for (let i = 0; i < 20; i++) out.push(['CBE-0001']);
  return out;
}
function ruleSets(): { sku: RuleSet; category: RuleSet } {
  const b = baskets();
  const opts = { minSupport: 0.02, minConfidence: 0.1 };
  return {
    sku: mineRules(b, opts),
    category: mineRules(
      b.map((x) => [...new Set(x.map(category))]),
      opts,
    ),
  };
}

const base = (over: Partial<RecommendInput> = {}): RecommendInput => ({ now: T0 + HOUR, halfLives, ...over });

describe('recommend: interest', () => {
  const steps: Step[] = [
    search('large power bank'),
    search('long battery phone'),
    view('PHO-0003'),
    view('PHO-0015'),
    view('PHO-0022'),
    view('ACC-0012'),
    cartAdd('ACC-0013'),
    view('PHO-0018'),
  ];

  it('gives a battery-minded phone shopper long-battery phones and accessories first, with an interest reason', () => {
    const profile = profileOf(steps);
    const recs = recommender.recommend(base({ profile, now: T0 + 10 * 60_000 }));
    expect(recs).toHaveLength(10);
    for (const r of recs.slice(0, 8)) {
      expect(['phones', 'phone_accessories']).toContain(category(r.sku));
      expect(attrs(r.sku)['battery']).toBe('long');
    }
    expect(recs.some((r) => category(r.sku) === 'phones')).toBe(true);
    expect(recs.some((r) => category(r.sku) === 'phone_accessories')).toBe(true);
    const top = recs[0]!;
    expect(top.reasons[0]).toMatch(/^interest: /);
    expect(top.reasons[0]).toContain('attr:battery:long');
    // scores descending
    for (let i = 1; i < recs.length; i++) expect(recs[i]!.score).toBeLessThanOrEqual(recs[i - 1]!.score);
  });

  it('lets what is being discussed steer an anonymous shopper (text context)', () => {
    // the shop has four rugged cases
    const recs = recommender.recommend(base({ context: { text: '防摔手机壳' }, k: 4 }));
    for (const r of recs) {
      expect(attrs(r.sku)['type']).toBe('case');
      expect(attrs(r.sku)['durability']).toBe('rugged');
      expect(r.reasons[0]).toMatch(/^interest: .*attr:durability:rugged/);
    }
  });

  it('recommends products like the one on the screen, not that product', () => {
    const recs = recommender.recommend(base({ context: { viewingSkus: ['CBE-0021'] }, k: 5 }));
    expect(recs.map((r) => r.sku)).not.toContain('CBE-0021');
    for (const r of recs) {
      expect(category(r.sku)).toBe('coffee_beans');
      expect(attrs(r.sku)['roast']).toBe('dark');
    }
  });

  it('lets the session fade: hours later the long-term taste leads', () => {
    // long-term: dark-roast coffee beans over the last days; just now: a short phone session
    const coffee: Step[] = Array.from({ length: 12 }, (_, i): Step => {
      const [type, payload] = view(`CBE-00${String(21 + (i % 9))}`);
      return [type, payload, T0 - (12 - i) * 6 * HOUR];
    });
    const profile = profileOf([...coffee, view('PHO-0003'), view('PHO-0015'), view('PHO-0018')]);
    const last = profile.lastEventAt;
    const during = recommender.recommend(base({ profile, now: last + 60_000, k: 3 }));
    const later = recommender.recommend(base({ profile, now: last + 6 * HOUR, k: 3 }));
    expect(during.map((r) => category(r.sku))).toContain('phones');
    expect(later.map((r) => category(r.sku))).toEqual(['coffee_beans', 'coffee_beans', 'coffee_beans']);
  });
});

describe('recommend: complements from association rules', () => {
  const rules = ruleSets();

  it('recommends beans for a cart with a coffee machine, saying they are bought together', () => {
    const recs = recommender.recommend(base({ rules, context: { cartSkus: ['CMA-0001'] }, k: 5 }));
    expect(recs[0]!.sku).toBe('CBE-0021');
    expect(recs[1]!.sku).toBe('CBE-0025');
    expect(recs[0]!.reasons[0]).toMatch(
      /^bought together with CMA-0001 \(confidence 0\.67, lift \d+\.\d\d\)$/,
    );
    expect(recs.map((r) => r.sku)).not.toContain('CMA-0001');
    // the category rule lifts other beans too
    const other = recs.slice(2).filter((r) => category(r.sku) === 'coffee_beans');
    expect(other.length).toBeGreaterThan(0);
    expect(other[0]!.reasons.join('; ')).toMatch(/bought together with coffee_machines \(confidence/);
  });

  it('uses the category level for a machine no basket had, and the rule strength is confidence minus base rate', () => {
    const recs = recommender.recommend(base({ rules, context: { cartSkus: ['CMA-0005'] }, k: 3 }));
    for (const r of recs) {
      expect(category(r.sku)).toBe('coffee_beans');
      expect(r.reasons.join('; ')).toContain('bought together with coffee_machines');
    }
    const rule = rules.category.rules.find(
      (r) => r.antecedent.join() === 'coffee_machines' && r.consequent.join() === 'coffee_beans',
    )!;
    expect(ruleStrength(rule)).toBeCloseTo(rule.confidence - rule.confidence / rule.lift, 12);
  });

  it('recommends complements of recent purchases, less strongly than of the cart', () => {
    // a dark-roast fan (so CBE-0021 is in the top 100 either way) who bought the machine
    const profile = profileOf([view('CBE-0022'), view('CBE-0024'), view('CMA-0001'), order('CMA-0001')]);
    const now = T0 + 2 * DAY;
    const scoreOf = (input: RecommendInput, sku: string) => {
      const r = recommender.recommend({ ...input, k: 100 }).find((x) => x.sku === sku)!;
      return { score: r.score, reasons: r.reasons.join('; ') };
    };
    const withRules = scoreOf(base({ profile, rules, now }), 'CBE-0021');
    const withoutRules = scoreOf(
      base({ profile, rules: { sku: { ...rules.sku, rules: [] } }, now }),
      'CBE-0021',
    );
    expect(withRules.reasons).toContain('bought together with CMA-0001 (confidence 0.67');
    expect(withoutRules.reasons).not.toContain('bought together');
    const fromCart = recommender.recommend(base({ rules, context: { cartSkus: ['CMA-0001'] }, now }));
    expect(fromCart[0]!.sku).toBe('CBE-0021');
    const rule = rules.sku.rules.find(
      (r) => r.antecedent.join() === 'CMA-0001' && r.consequent.join() === 'CBE-0021',
    )!;
    const cartPart = DEFAULT_WEIGHTS.complement * ruleStrength(rule);
    // popularity comes from the sku rules too; compare the complement part only
    const pop =
      scoreOf(base({ rules, now }), 'CBE-0021').score - scoreOf(base({ rules: {}, now }), 'CBE-0021').score;
    expect(withRules.score - withoutRules.score - pop).toBeCloseTo(
      cartPart * DEFAULT_WEIGHTS.purchaseComplement,
      3,
    );
    // and not after recentPurchaseDays
    const old = recommender.recommend(base({ profile, rules, now: T0 + 60 * DAY, k: 100 }));
    expect(old.flatMap((r) => r.reasons).join('; ')).not.toContain('bought together with CMA-0001');
  });

  it('explains popular products from the sku rules (a popularity prior)', () => {
    const recs = recommender.recommend(base({ rules, k: 20 }));
    const popular = recs.find((r) => r.reasons.some((x) => x.startsWith('popular (in ')));
    expect(popular).toBeDefined();
  });
});

describe('recommend: exclusions, k, determinism', () => {
  const rules = ruleSets();
  const profile = profileOf([
    view('PHO-0003'),
    view('PHO-0015'),
    cartAdd('PHO-0015'),
    order('PHO-0003', 'PHO-0015'),
    view('CMA-0001'),
    view('PHO-0018'),
  ]);

  it('never recommends what the user bought or has in the cart, whatever k', () => {
    const cart = ['PHO-0018', 'CMA-0001', 'ACC-0001'];
    for (const k of [1, 5, 10, 50, 100]) {
      const recs = recommender.recommend(base({ profile, rules, context: { cartSkus: cart }, k }));
      const skus = recs.map((r) => r.sku);
      for (const sku of [...profile.purchased, ...cart]) expect(skus).not.toContain(sku);
    }
    expect(profile.purchased).toEqual(['PHO-0003', 'PHO-0015']);
  });

  it('respects k (default 10, at most 100, 0 gives none)', () => {
    expect(recommender.recommend(base({ profile, rules }))).toHaveLength(10);
    expect(recommender.recommend(base({ profile, rules, k: 3 }))).toHaveLength(3);
    expect(recommender.recommend(base({ profile, rules, k: 0 }))).toEqual([]);
    expect(recommender.recommend(base({ profile, rules, k: 1000 }))).toHaveLength(100);
    expect(recommender.recommend(base({ profile, rules, k: Number.NaN }))).toHaveLength(10);
    const all = createRecommender(catalog).recommend(base({ k: 100 }));
    expect(new Set(all.map((r) => r.sku)).size).toBe(100);
  });

  it('is deterministic: same input, same list; ties go to the sku', () => {
    const input = base({ profile, rules, context: { cartSkus: ['CMA-0001'], text: 'dark roast' }, k: 20 });
    const a = recommender.recommend(input);
    expect(recommender.recommend(input)).toEqual(a);
    expect(createRecommender(catalog).recommend(input)).toEqual(a);

    // no profile, no rules, no context: only freshness; equal dates tie and go by sku
    const flat = createRecommender(catalog, { freshness: 0 }).recommend(base({ k: 5 }));
    expect(flat.map((r) => r.sku)).toEqual(
      catalog.products
        .map((p) => p.sku)
        .sort()
        .slice(0, 5),
    );
    expect(
      flat.every((r) => r.score === 0 && r.reasons.length === 1 && r.reasons[0]!.startsWith('added ')),
    ).toBe(true);
  });

  it('gives an anonymous shopper without context the freshest products, new arrivals explained', () => {
    const newest = [...catalog.products].sort((a, b) => (a.addedAt < b.addedAt ? 1 : -1))[0]!;
    const now = Date.parse(newest.addedAt) + 2 * DAY;
    const recs = recommender.recommend(base({ now, k: 3 }));
    expect(recs[0]!.sku).toBe(
      catalog.products
        .filter((p) => p.addedAt === newest.addedAt)
        .map((p) => p.sku)
        .sort()[0],
    );
    expect(recs[0]!.reasons).toEqual(['new arrival']);
    expect(DEFAULT_WEIGHTS.freshness).toBeLessThan(DEFAULT_WEIGHTS.interest / 10);
  });
});
