// Hardening of the interest model (issue 8): every map and list in a profile is capped and the
// encoded state has a hard size bound (finding 6); an event from the far future never freezes a
// profile; an order re-published under a new event id counts once (finding 14); the watermark still
// skips every redelivery.
import { loadConfig } from '../../infra/config';
import { decodeEnvelope, encodeEnvelope } from '../../schemas/codec';
import type { Envelope, EventType } from '../../schemas/events';
import {
  applyEvent,
  CLOCK_SKEW_MS,
  emptyState,
  FUTURE_TOLERANCE_MS,
  isApplied,
  MAX_APPLIED_SEQS,
  MAX_COMPARED,
  MAX_COMPARED_CATEGORIES,
  MAX_SKUS,
  MAX_TRAITS,
  valueAt,
  type ProfileState,
} from '../../streams/processors/interest/model';
import {
  decodeState,
  encodeState,
  encodeStateBounded,
  MAX_STATE_BYTES,
  StateTooLargeError,
} from '../../streams/processors/interest/state-codec';
import { applyAndTrackTier } from '../../streams/processors/interest/tier-changes';
import { buildEnvelope } from '../helpers/events';
import { tinyCatalog as catalog } from '../helpers/tiny-catalog';

const HOUR = 3_600_000;
const halfLives = { shortMs: HOUR / 2, longMs: 14 * 24 * HOUR };
const tiers = loadConfig({}).tiers; // repeat at 2 orders
const T0 = Date.UTC(2026, 10, 1);
const phones = catalog.features.index.get('category:phones')!;

function ev(type: EventType, at: number, payload: unknown): Envelope {
  const d = decodeEnvelope(
    encodeEnvelope(buildEnvelope(type, { shopId: 'shop-1', userId: 'u1', occurredAt: at }, payload as never)),
  );
  if (!d.ok) throw new Error(d.detail);
  return d.envelope;
}
const view = (sku: string, at: number, category?: string): Envelope =>
  ev('product_viewed', at, { product: category ? { sku, category } : { sku } });
const fresh = (): ProfileState => emptyState('shop-1', 'u1', catalog.features.size);

describe('keys from clients are only keys', () => {
  it("a sku, category or trait named '__proto__' or 'constructor' never reaches Object.prototype", () => {
    const s = fresh();
    let seq = 0;
    for (const key of ['__proto__', 'constructor', 'toString']) {
      applyEvent(s, view(key, T0 + ++seq, key), 'product_viewed', seq, catalog, halfLives);
      applyEvent(
        s,
        ev('user_identified', T0 + ++seq, { traits: [{ name: key, value: 'x' }] }),
        'user_identified',
        seq,
        catalog,
        halfLives,
      );
    }
    expect(({} as Record<string, unknown>)['views']).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('views');
    expect(Object.keys(s.skus).sort()).toEqual(['__proto__', 'constructor', 'toString']);
    const back = decodeState(encodeState(s, catalog.features), catalog.features);
    expect(back.skus['__proto__']).toMatchObject({ views: 1 });
    expect(Object.keys(back.compared).sort()).toEqual(['__proto__', 'constructor', 'toString']);
    expect(back.traits!['__proto__']).toEqual(['x', T0 + 2]);
  });
});

describe('identify traits on the profile', () => {
  const identify = (at: number, traits: [string, string][]): Envelope =>
    ev('user_identified', at, { traits: traits.map(([name, value]) => ({ name, value })) });

  it('keeps the latest value of each trait by event time, in any order, and survives a round trip', () => {
    const s = fresh();
    applyEvent(s, identify(T0 + 2000, [['plan', 'gold']]), 'user_identified', 2, catalog, halfLives);
    applyEvent(
      s,
      identify(T0 + 1000, [
        ['plan', 'silver'],
        ['city', 'Hangzhou'],
      ]),
      'user_identified',
      1,
      catalog,
      halfLives,
    );
    expect(s.traits).toEqual({ plan: ['gold', T0 + 2000], city: ['Hangzhou', T0 + 1000] });
    expect(decodeState(encodeState(s, catalog.features), catalog.features).traits).toEqual(s.traits);
  });

  it(`keeps at most ${MAX_TRAITS} traits, the most recently set`, () => {
    const s = fresh();
    for (let i = 0; i < 200; i++)
      applyEvent(
        s,
        identify(T0 + i, [[`t${i}`, 'x'.repeat(1024)]]),
        'user_identified',
        i + 1,
        catalog,
        halfLives,
      );
    expect(Object.keys(s.traits!)).toHaveLength(MAX_TRAITS);
    expect(s.traits!['t199']).toBeDefined();
    expect(s.traits!['t0']).toBeUndefined();
  });
});

describe('a profile stays bounded (finding 6)', () => {
  it('one user viewing thousands of distinct products in distinct categories', () => {
    const s = fresh();
    const long = (i: number, c: string) => `${c}-${String(i).padStart(6, '0')}-`.padEnd(128, c);
    for (let i = 0; i < 3000; i++) {
      const e = view(long(i, 's'), T0 + i * 1000, long(i, 'c'));
      expect(applyEvent(s, e, 'product_viewed', i + 1, catalog, halfLives).applied).toBe(true);
    }
    expect(Object.keys(s.compared).length).toBeLessThanOrEqual(MAX_COMPARED_CATEGORIES);
    for (const skus of Object.values(s.compared)) expect(skus.length).toBeLessThanOrEqual(MAX_COMPARED);
    expect(Object.keys(s.skus).length).toBeLessThanOrEqual(MAX_SKUS);
    expect(encodeState(s, catalog.features).length).toBeLessThan(64 * 1024);
    expect(s.counters.views).toBe(3000);
  });

  it('keeps the categories where the user compared the most products', () => {
    const s = fresh();
    let seq = 0;
    for (let i = 0; i < 5; i++)
      applyEvent(s, view(`P-${i}`, T0 + i, 'phones'), 'product_viewed', ++seq, catalog, halfLives);
    for (let i = 0; i < 100; i++)
      applyEvent(s, view(`X-${i}`, T0 + 10 + i, `cat-${i}`), 'product_viewed', ++seq, catalog, halfLives);
    expect(s.compared['phones']).toHaveLength(5);
    expect(Object.keys(s.compared)).toHaveLength(MAX_COMPARED_CATEGORIES);
  });

  it('a state stored before the caps shrinks when it is read', () => {
    const s = fresh();
    for (let i = 0; i < 500; i++)
      s.compared[`cat-${i}`] = Array.from({ length: 30 }, (_, j) => `S-${i}-${j}`);
    for (let i = 0; i < 300; i++)
      s.skus[`S-${i}`] = { views: 1, carts: 0, removes: 0, orders: 0, lastAt: T0 + i };
    const back = decodeState(encodeState(s, catalog.features), catalog.features);
    expect(Object.keys(back.compared)).toHaveLength(MAX_COMPARED_CATEGORIES);
    expect(Object.keys(back.skus)).toHaveLength(MAX_SKUS);
    expect(back.skus['S-299']).toBeDefined(); // the most recent stay
  });

  it('the encoded state never passes its limit: trimmed, or refused with StateTooLargeError', () => {
    expect(MAX_STATE_BYTES).toBeLessThan(1024 * 1024); // the server's default max_payload
    const s = fresh();
    for (let i = 0; i < MAX_SKUS; i++)
      s.skus[`S-${i}`.padEnd(200, 'x')] = { views: 1, carts: 0, removes: 0, orders: 0, lastAt: T0 + i };
    const before = encodeState(s, catalog.features).length;
    const { bytes, trimmed } = encodeStateBounded(s, catalog.features, before - 500);
    expect(trimmed).toBe(true);
    expect(bytes.length).toBeLessThanOrEqual(before - 500);
    expect(decodeState(bytes, catalog.features)).toMatchObject({ skus: s.skus }); // what is stored is what we hold
    // watermark and vectors are never trimmed: a limit below them is refused
    expect(() => encodeStateBounded(fresh(), catalog.features, 100)).toThrow(StateTooLargeError);
  });

  it('applied sequences past their cap raise the floor; every applied event is still recognised', () => {
    const s = fresh();
    const n = MAX_APPLIED_SEQS + 100;
    for (let i = 1; i <= n; i++)
      applyEvent(s, view('PH-1', T0 + i), 'product_viewed', i * 2, catalog, halfLives);
    expect(s.appliedSeqs.length).toBeLessThanOrEqual(MAX_APPLIED_SEQS);
    for (let i = 1; i <= n; i++) expect(isApplied(s, i * 2, 'not-an-id')).toBe(true);
  });
});

describe('an event from the far future never freezes a profile', () => {
  it('after a year-3000 event, real events still change the vector', () => {
    const s = fresh();
    const arrived = T0;
    expect(applyEvent(s, view('PH-1', T0), 'product_viewed', 1, catalog, halfLives, arrived).applied).toBe(
      true,
    );
    const year3000 = applyEvent(
      s,
      view('PB-1', Date.UTC(3000, 0, 1)),
      'product_viewed',
      2,
      catalog,
      halfLives,
      arrived,
    );
    expect(year3000).toMatchObject({ applied: false, future: true });
    const before = valueAt(s.short, T0 + 60_000, halfLives.shortMs).get(0, phones);
    applyEvent(s, view('PH-2', T0 + 60_000), 'product_viewed', 3, catalog, halfLives, T0 + 60_000);
    const after = valueAt(s.short, T0 + 60_000, halfLives.shortMs).get(0, phones);
    expect(after - before).toBeCloseTo(1, 9); // the new view counts in full
    expect(s.short.at).toBe(T0 + 60_000);
    expect(s.lastEventAt).toBe(T0 + 60_000);
  });

  it('a state frozen before the fix thaws on the next real event', () => {
    const s = fresh();
    applyEvent(s, view('PB-1', Date.UTC(3000, 0, 1)), 'product_viewed', 1, catalog, halfLives); // no arrival: as stored before
    const stored = decodeState(encodeState(s, catalog.features), catalog.features);
    applyEvent(stored, view('PH-1', T0), 'product_viewed', 2, catalog, halfLives, T0);
    expect(stored.short.at).toBeLessThanOrEqual(T0 + CLOCK_SKEW_MS);
    expect(valueAt(stored.short, T0, halfLives.shortMs).get(0, phones)).toBeGreaterThan(0.8);
  });

  it('a fast client clock counts at most CLOCK_SKEW_MS ahead; up to FUTURE_TOLERANCE_MS it is still applied', () => {
    const s = fresh();
    const r = applyEvent(
      s,
      view('PH-1', T0 + FUTURE_TOLERANCE_MS - 1),
      'product_viewed',
      1,
      catalog,
      halfLives,
      T0,
    );
    expect(r.applied).toBe(true);
    expect(s.short.at).toBe(T0 + CLOCK_SKEW_MS);
    applyEvent(s, view('PH-2', T0 + 1000), 'product_viewed', 2, catalog, halfLives, T0 + 1000);
    expect(valueAt(s.short, T0 + CLOCK_SKEW_MS, halfLives.shortMs).get(0, phones)).toBeGreaterThan(1.8);
  });
});

describe('orders and refunds count once by order id (finding 14)', () => {
  const order = (at: number, orderId: string, totalMinor = 1000): Envelope =>
    ev('order_placed', at, { orderId, products: [{ sku: 'PH-2' }], totalMinor });
  const refund = (at: number, orderId: string, totalMinor = 1000): Envelope =>
    ev('order_refunded', at, { orderId, totalMinor });

  it('an order re-published with a new event id after the duplicate window (and 64+ events) counts once', () => {
    const s = fresh();
    let seq = 0;
    const apply = (e: Envelope, type: EventType) =>
      applyAndTrackTier(s, e, type, ++seq, catalog, halfLives, tiers, e.occurredAt);
    apply(order(T0, 'o-1'), 'order_placed');
    for (let i = 0; i < 100; i++) apply(view('PH-1', T0 + 1000 + i), 'product_viewed');
    const again = apply(order(T0 + 20 * 60_000, 'o-1'), 'order_placed'); // new event id, same order
    expect(again).toMatchObject({ applied: false, duplicateOrder: true });
    expect(again.change).toBeUndefined(); // no tier change: still one order
    expect(s.counters.orders).toBe(1);
    expect(s.counters.spendMinor).toBe(1000);
    expect(s.pendingTierChanges).toEqual([]);
    // a second, different order still counts (and moves the tier)
    expect(apply(order(T0 + HOUR, 'o-2'), 'order_placed').change?.tier).toBe('repeat');
    expect(s.counters.orders).toBe(2);
  });

  it('a refund re-published counts once; two partial refunds of one order add up but count one refund', () => {
    const s = fresh();
    let seq = 0;
    const apply = (e: Envelope, type: EventType) => applyEvent(s, e, type, ++seq, catalog, halfLives);
    apply(order(T0, 'o-1', 5000), 'order_placed');
    apply(refund(T0 + 1, 'o-1', 1000), 'order_refunded');
    expect(apply(refund(T0 + 2, 'o-1', 1000), 'order_refunded')).toMatchObject({ duplicateOrder: true });
    apply(refund(T0 + 3, 'o-1', 2000), 'order_refunded');
    expect(s.counters.refunds).toBe(1);
    expect(s.counters.refundedMinor).toBe(3000);
  });

  it('the order keys survive storage, and a state stored without them decodes', () => {
    const s = fresh();
    applyEvent(s, order(T0, 'o-1'), 'order_placed', 1, catalog, halfLives);
    const back = decodeState(encodeState(s, catalog.features), catalog.features);
    expect(applyEvent(back, order(T0 + 1, 'o-1'), 'order_placed', 2, catalog, halfLives).applied).toBe(false);
    const old = JSON.parse(Buffer.from(encodeState(fresh(), catalog.features)).toString('utf8')) as Record<
      string,
      unknown
    >;
    delete old['orderKeys'];
    expect(decodeState(Buffer.from(JSON.stringify(old)), catalog.features).orderKeys).toEqual([]);
  });
});

describe('the watermark under all of the above', () => {
  it('a redelivery of any applied message, skipped future event or duplicate order changes nothing', () => {
    const s = fresh();
    const events: [Envelope, EventType][] = [
      [view('PH-1', T0), 'product_viewed'],
      [view('PB-1', Date.UTC(3000, 0, 1)), 'product_viewed'],
      [
        ev('order_placed', T0 + 1, { orderId: 'o-1', products: [{ sku: 'PH-2' }], totalMinor: 1000 }),
        'order_placed',
      ],
      [
        ev('order_placed', T0 + 2, { orderId: 'o-1', products: [{ sku: 'PH-2' }], totalMinor: 1000 }),
        'order_placed',
      ],
    ];
    events.forEach(([e, type], i) => applyEvent(s, e, type, i + 1, catalog, halfLives, T0));
    const once = encodeState(s, catalog.features);
    events.forEach(([e, type], i) =>
      expect(applyEvent(s, e, type, i + 1, catalog, halfLives, T0).applied).toBe(false),
    );
    expect(encodeState(s, catalog.features)).toEqual(once);
    expect(s.counters).toMatchObject({ events: 2, views: 1, orders: 1 });
  });
});
