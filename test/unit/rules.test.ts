import { mulberry32 as prng } from '../../demo/random';
// Association rules are exact: mineRules (FP-growth) gives the same rules, with the same support,
// confidence and lift, as a brute force that counts every subset of every basket.
import {
  compareRules,
  mineRules,
  rulesFor,
  truncateBaskets,
  type Rule,
  type RuleSet,
} from '../../streams/processors/recommend/rules';

// ---- brute force, written independently of the implementation ----

const setKey = (items: readonly string[]): string => items.join('\u0000');

/** Dedupes each basket and, when larger than `max`, keeps its `max` globally most frequent items. */
function bruteTruncate(baskets: readonly (readonly string[])[], max: number): string[][] {
  const unique = baskets.map((b) => [...new Set(b)].sort());
  const freq = new Map<string, number>();
  for (const b of unique) for (const x of b) freq.set(x, (freq.get(x) ?? 0) + 1);
  return unique.map((b) =>
    b.length <= max
      ? b
      : [...b]
          .sort((x, y) => freq.get(y)! - freq.get(x)! || (x < y ? -1 : 1))
          .slice(0, max)
          .sort(),
  );
}

function bruteForce(
  rawBaskets: readonly (readonly string[])[],
  o: { minSupport: number; minConfidence: number; maxItemsetLength: number; maxBasketSize?: number },
): Rule[] {
  const baskets = bruteTruncate(rawBaskets, o.maxBasketSize ?? 20);
  const n = baskets.length;
  const counts = new Map<string, { items: string[]; count: number }>();
  for (const b of baskets) {
    const walk = (start: number, cur: string[]): void => {
      if (cur.length > 0) {
        const k = setKey(cur);
        const e = counts.get(k);
        if (e) e.count++;
        else counts.set(k, { items: [...cur], count: 1 });
      }
      if (cur.length === o.maxItemsetLength) return;
      for (let i = start; i < b.length; i++) walk(i + 1, [...cur, b[i]!]);
    };
    walk(0, []);
  }
  const rules: Rule[] = [];
  for (const { items, count } of counts.values()) {
    if (items.length < 2 || count / n < o.minSupport) continue;
    for (let mask = 1; mask < (1 << items.length) - 1; mask++) {
      const a = items.filter((_, i) => mask & (1 << i));
      const c = items.filter((_, i) => !(mask & (1 << i)));
      const confidence = count / counts.get(setKey(a))!.count;
      if (confidence < o.minConfidence) continue;
      const lift = confidence / (counts.get(setKey(c))!.count / n);
      rules.push({ antecedent: a, consequent: c, support: count / n, confidence, lift, count });
    }
  }
  const lex = (x: string[], y: string[]): number => {
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
    return x.length - y.length;
  };
  return rules.sort(
    (x, y) =>
      y.lift - x.lift ||
      y.confidence - x.confidence ||
      y.support - x.support ||
      lex(x.antecedent, y.antecedent) ||
      lex(x.consequent, y.consequent),
  );
}

const ruleName = (r: Rule): string => `${r.antecedent.join('+')} -> ${r.consequent.join('+')}`;

/** Same rules in the same order; counts equal; support, confidence and lift equal to 1e-12. */
function expectSameRules(actual: Rule[], expected: Rule[]): void {
  expect(actual.map(ruleName)).toEqual(expected.map(ruleName));
  actual.forEach((r, i) => {
    const e = expected[i]!;
    expect(r.count).toBe(e.count);
    expect(Math.abs(r.support - e.support)).toBeLessThanOrEqual(1e-12);
    expect(Math.abs(r.confidence - e.confidence)).toBeLessThanOrEqual(1e-12);
    expect(Math.abs(r.lift - e.lift)).toBeLessThanOrEqual(1e-12);
  });
}

function shuffled<T>(xs: readonly T[], rand: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

// ---- fixture: 44 orders by category ----

const repeat = (times: number, items: string[]): string[][] => Array.from({ length: times }, () => items);

const FIXTURE: string[][] = [
  // coffee
  ...repeat(4, ['coffee_machines', 'coffee_beans', 'grinders']),
  ...repeat(3, ['coffee_machines', 'coffee_beans']),
  ...repeat(1, ['coffee_beans', 'grinders']),
  ...repeat(2, ['coffee_machines', 'coffee_beans', 'milk_frothers']),
  ...repeat(2, ['coffee_beans']),
  ['coffee_machines', 'coffee_beans', 'coffee_beans', 'grinders'], // beans twice: counts once
  // phones
  ...repeat(4, ['phones', 'phone_cases', 'power_banks']),
  ...repeat(3, ['phones', 'phone_cases']),
  ...repeat(2, ['phones', 'screen_protectors', 'phone_cases']),
  ...repeat(2, ['phones', 'power_banks']),
  ['power_banks'],
  ['phones', 'phones'],
  // apparel
  ...repeat(3, ['tshirts', 'jeans']),
  ...repeat(2, ['tshirts', 'jeans', 'sneakers']),
  ...repeat(2, ['sneakers', 'socks']),
  ...repeat(2, ['tshirts', 'socks']),
  ['jeans'],
  // across groups
  ['phones', 'phone_cases', 'coffee_beans'],
  ['coffee_machines', 'coffee_beans', 'phones'],
  // noise
  ['books'],
  ['candles', 'books'],
  ['home_decor'],
  ['candles'],
  ['books', 'tshirts'],
  ['tshirts', 'coffee_beans', 'phone_cases', 'candles', 'books'],
];

const FIXTURE_OPTS = { minSupport: 0.04, minConfidence: 0.3, maxItemsetLength: 3 };

describe('mineRules on the fixture', () => {
  const rs = mineRules(FIXTURE, FIXTURE_OPTS);

  it('equals the brute force: same rules, support, confidence and lift', () => {
    expect(FIXTURE.length).toBe(44);
    const expected = bruteForce(FIXTURE, FIXTURE_OPTS);
    expect(expected.length).toBeGreaterThan(20);
    expectSameRules(rs.rules, expected);
  });

  it('finds the cross-category rules with their exact figures', () => {
    const find = (a: string[], c: string[]): Rule | undefined =>
      rs.rules.find((r) => ruleName(r) === ruleName({ antecedent: a, consequent: c } as Rule));
    // coffee_machines in 11 baskets, all with beans; beans in 16 of 44
    const r = find(['coffee_machines'], ['coffee_beans'])!;
    expect(r).toMatchObject({ count: 11, support: 11 / 44, confidence: 1 });
    expect(r.lift).toBeCloseTo(44 / 16, 12);
    // machines + grinders (5 baskets) -> beans
    const r3 = find(['coffee_machines', 'grinders'], ['coffee_beans'])!;
    expect(r3).toMatchObject({ count: 5, confidence: 1 });
    expect(find(['phones'], ['phone_cases'])).toBeDefined();
    expect(find(['phones'], ['coffee_beans'])).toBeUndefined(); // support 2/44 but confidence 2/14
  });

  it('counts a duplicate item in a basket once', () => {
    const one = mineRules([['a', 'a', 'b'], ['a']], { minSupport: 0, minConfidence: 0 });
    const ab = one.rules.find((r) => ruleName(r) === 'a -> b')!;
    expect(ab).toMatchObject({ count: 1, support: 0.5, confidence: 0.5, lift: 1 });
    expect(one.items).toBe(2);
  });

  it('reports the basket and item counts', () => {
    expect(rs).toMatchObject({
      baskets: 44,
      items: new Set(FIXTURE.flat()).size,
      truncatedBaskets: 0,
      minSupport: 0.04,
      minConfidence: 0.3,
    });
    expect(rs.itemsets).toBeGreaterThan(0);
  });

  it('orders rules by lift, confidence, support, then names', () => {
    for (let i = 1; i < rs.rules.length; i++)
      expect(compareRules(rs.rules[i - 1]!, rs.rules[i]!)).toBeLessThan(0);
    for (const r of rs.rules) {
      expect(r.antecedent).toEqual([...r.antecedent].sort());
      expect(r.consequent).toEqual([...r.consequent].sort());
    }
  });

  it('is deterministic: shuffled baskets and shuffled items give the same result', () => {
    const rand = prng(7);
    for (let t = 0; t < 5; t++) {
      const again = mineRules(
        shuffled(FIXTURE, rand).map((b) => shuffled(b, rand)),
        FIXTURE_OPTS,
      );
      expect(again).toEqual(rs);
    }
  });

  it('caps the rules at maxRules, keeping the best', () => {
    const capped = mineRules(FIXTURE, { ...FIXTURE_OPTS, maxRules: 5 });
    expect(capped.rules).toEqual(rs.rules.slice(0, 5));
    expect(mineRules(FIXTURE, { ...FIXTURE_OPTS, maxRules: 0 }).rules).toEqual([]);
  });

  it('respects maxItemsetLength', () => {
    const longest = (s: RuleSet): number =>
      Math.max(0, ...s.rules.map((r) => r.antecedent.length + r.consequent.length));
    expect(longest(rs)).toBe(3);
    const two = mineRules(FIXTURE, { ...FIXTURE_OPTS, maxItemsetLength: 2 });
    expect(longest(two)).toBe(2);
    expectSameRules(two.rules, bruteForce(FIXTURE, { ...FIXTURE_OPTS, maxItemsetLength: 2 }));
    const one = mineRules(FIXTURE, { ...FIXTURE_OPTS, maxItemsetLength: 1 });
    expect(one.rules).toEqual([]);
    expect(one.itemsets).toBeGreaterThan(0); // frequent single items, but no rule
    const four = { ...FIXTURE_OPTS, minSupport: 0, minConfidence: 0, maxItemsetLength: 4 };
    const all = mineRules(FIXTURE, four);
    expect(longest(all)).toBe(4);
    expectSameRules(all.rules, bruteForce(FIXTURE, four));
  });

  it('handles no baskets and rejects invalid options', () => {
    expect(mineRules([], FIXTURE_OPTS)).toMatchObject({ rules: [], baskets: 0, items: 0 });
    expect(() => mineRules(FIXTURE, { minSupport: 1.5, minConfidence: 0.1 })).toThrow(RangeError);
    expect(() => mineRules(FIXTURE, { minSupport: 0.1, minConfidence: -1 })).toThrow(RangeError);
    expect(() => mineRules(FIXTURE, { ...FIXTURE_OPTS, maxBasketSize: 0 })).toThrow(RangeError);
    expect(() => mineRules(FIXTURE, { ...FIXTURE_OPTS, maxItemsetLength: 2.5 })).toThrow(RangeError);
  });
});

describe('mineRules against brute force on random baskets', () => {
  it('equals brute force on 40 seeded random basket sets (up to 8 items, 12 distinct)', () => {
    const rand = prng(20261124);
    const items = Array.from({ length: 12 }, (_, i) => `item-${String.fromCharCode(97 + i)}`);
    let nonEmpty = 0;
    for (let trial = 0; trial < 40; trial++) {
      // skewed popularity so that longer itemsets are frequent too; duplicates happen
      const weights = items.map(() => rand() ** 2);
      const total = weights.reduce((a, b) => a + b, 0);
      const pick = (): string => {
        let u = rand() * total;
        for (let i = 0; i < items.length; i++) if ((u -= weights[i]!) <= 0) return items[i]!;
        return items[items.length - 1]!;
      };
      const baskets = Array.from({ length: 20 + Math.floor(rand() * 60) }, () =>
        Array.from({ length: 1 + Math.floor(rand() * 8) }, pick),
      );
      const opts = {
        minSupport: [0, 0.02, 0.05, 0.1, 0.2][trial % 5]!,
        minConfidence: Math.floor(rand() * 8) / 10,
        maxItemsetLength: 1 + (trial % 4),
        // every third trial also cuts baskets
        maxBasketSize: trial % 3 === 0 ? 2 + Math.floor(rand() * 4) : 20,
      };
      const expected = bruteForce(baskets, opts);
      const actual = mineRules(baskets, opts);
      expectSameRules(actual.rules, expected);
      if (expected.length > 0) nonEmpty++;
    }
    expect(nonEmpty).toBeGreaterThanOrEqual(25); // of the 30 trials allowing rules (length >= 2)
  });
});

describe('basket-size cap', () => {
  const huge = [
    'coffee_beans',
    'phones',
    ...Array.from({ length: 998 }, (_, i) => `X${String(i).padStart(4, '0')}`),
  ];
  const baskets = [...FIXTURE, huge];

  it('cuts a basket of 1000 items to its most frequent items, fast, and counts it', () => {
    const t0 = performance.now();
    const rs = mineRules(baskets, { minSupport: 0, minConfidence: 0, maxItemsetLength: 3 });
    const ms = performance.now() - t0;
    expect(ms).toBeLessThan(2000); // C(1000, 3) = 166 million itemsets without the cap
    expect(rs.truncatedBaskets).toBe(1);
    expect(rs.baskets).toBe(45);
    // the two frequent categories first, then the rarest by name
    const cut = truncateBaskets(baskets, 20);
    expect(cut.truncated).toBe(1);
    expect(cut.baskets[44]).toEqual(
      [
        'coffee_beans',
        'phones',
        ...Array.from({ length: 18 }, (_, i) => `X${String(i).padStart(4, '0')}`),
      ].sort(),
    );
    expect(rs.items).toBe(new Set(FIXTURE.flat()).size + 18);
  });

  it('equals brute force on the cut baskets', () => {
    const opts = { minSupport: 0, minConfidence: 0.5, maxItemsetLength: 3 };
    const rs = mineRules(baskets, opts);
    expectSameRules(rs.rules, bruteForce(baskets, { ...opts, maxBasketSize: 20 }));
    const small = { minSupport: 0.03, minConfidence: 0.2, maxItemsetLength: 3, maxBasketSize: 2 };
    expectSameRules(mineRules(baskets, small).rules, bruteForce(baskets, small));
    expect(mineRules(baskets, small).truncatedBaskets).toBe(
      baskets.filter((b) => new Set(b).size > 2).length,
    );
  });
});

describe('rulesFor', () => {
  const rs = mineRules(FIXTURE, { minSupport: 0.04, minConfidence: 0.2, maxItemsetLength: 3 });

  it('recommends complements of the cart, never what is in it', () => {
    const recs = rulesFor(rs, ['coffee_machines']);
    expect(recs.map((r) => r.item).slice(0, 2)).toEqual(expect.arrayContaining(['coffee_beans', 'grinders']));
    expect(recs.map((r) => r.item)).not.toContain('coffee_machines');
    expect(recs.map((r) => r.item)).not.toContain('phone_cases');
    for (const r of recs) {
      expect(r.rule.antecedent.every((x) => x === 'coffee_machines')).toBe(true);
      expect(r.rule.consequent).toContain(r.item);
      expect(r.score).toBe(r.rule.lift * r.rule.confidence);
    }
    const phone = rulesFor(rs, ['phones', 'phone_cases']).map((r) => r.item);
    expect(phone[0]).toBe('power_banks');
    expect(phone).not.toContain('phones');
    expect(phone).not.toContain('phone_cases');
  });

  it('uses only rules whose whole antecedent is in the items, the best rule per item', () => {
    const items = ['coffee_machines', 'grinders'];
    const recs = rulesFor(rs, items);
    for (const rec of recs) {
      const candidates = rs.rules.filter(
        (r) => r.lift > 1 && r.antecedent.every((x) => items.includes(x)) && r.consequent.includes(rec.item),
      );
      const bestScore = Math.max(...candidates.map((r) => r.lift * r.confidence));
      expect(rec.score).toBe(bestScore);
    }
    // {grinders} alone does not trigger a rule whose antecedent also needs coffee_machines
    for (const rec of rulesFor(rs, ['grinders'])) expect(rec.rule.antecedent).toEqual(['grinders']);
  });

  it('applies exclude, limit and minLift; orders by score then item', () => {
    const all = rulesFor(rs, ['coffee_machines']);
    const excluded = rulesFor(rs, ['coffee_machines'], { exclude: ['coffee_beans'] });
    expect(excluded.map((r) => r.item)).toEqual(all.map((r) => r.item).filter((x) => x !== 'coffee_beans'));
    expect(rulesFor(rs, ['coffee_machines'], { limit: 1 })).toEqual(all.slice(0, 1));
    for (let i = 1; i < all.length; i++) {
      const [a, b] = [all[i - 1]!, all[i]!];
      expect(a.score > b.score || (a.score === b.score && a.item < b.item)).toBe(true);
    }
    expect(rulesFor(rs, ['coffee_machines'], { minLift: 1e9 })).toEqual([]);
    expect(rulesFor(rs, [])).toEqual([]);
    expect(rulesFor(rs, ['unknown'])).toEqual([]);
    for (const r of rulesFor(rs, ['tshirts', 'books'])) expect(r.rule.lift).toBeGreaterThan(1);
  });
});
