// Behaviour tags and value tiers, Given/When/Then: given these events, when segmented at this time,
// then these tags with these reasons.
import { loadConfig } from '../../infra/config';
import { decodeEnvelope, encodeEnvelope } from '../../schemas/codec';
import type { EventType } from '../../schemas/events';
import { applyEvent, emptyState, type ProfileState } from '../../streams/processors/interest/model';
import { segment } from '../../streams/processors/interest/tags';
import { buildEnvelope } from '../helpers/events';
import { tinyCatalog as catalog } from '../helpers/tiny-catalog';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 10, 1);
const tiers = loadConfig({}).tiers;

type Given = [EventType, number, unknown];
function given(events: Given[]): ProfileState {
  const s = emptyState('shop', 'u', catalog.features.size);
  events.forEach(([type, at, payload], i) => {
    const d = decodeEnvelope(encodeEnvelope(buildEnvelope(type, { occurredAt: at }, payload as never)));
    if (!d.ok) throw new Error(d.detail);
    applyEvent(s, d.envelope, type, i + 1, catalog, { shortMs: HOUR, longMs: 14 * DAY });
  });
  return s;
}
const tagsOf = (s: ProfileState, now: number): string[] => segment(s, now, tiers).tags.map((t) => t.tag);
const order = (at: number, totalMinor: number, extra: Record<string, unknown> = {}): Given => [
  'order_placed',
  at,
  { orderId: `o${at}`, products: [{ sku: 'PH-2' }], totalMinor, ...extra },
];

describe('behaviour tags', () => {
  it('price_sensitive: given price filters, when segmented, then tagged with the reason', () => {
    const s = given([
      ['product_list_filtered', T0, { category: 'phones', filters: [{ type: 'price', value: '0-300' }] }],
      ['product_list_filtered', T0 + 1, { category: 'phones', sorts: [{ type: 'price', value: 'asc' }] }],
    ]);
    const seg = segment(s, T0 + 2, tiers);
    expect(seg.tags).toEqual([{ tag: 'price_sensitive', reason: 'filtered or sorted by price 2 times' }]);
  });

  it('price_sensitive: given most orders with a coupon', () => {
    const s = given([
      order(T0, 1000, { couponCode: 'SAVE' }),
      order(T0 + 1, 1000, { discountMinor: 100 }),
      order(T0 + 2, 1000),
    ]);
    expect(tagsOf(s, T0 + 3)).toContain('price_sensitive');
  });

  it('not price_sensitive: given views and full-price orders only', () => {
    const s = given([['product_viewed', T0, { product: { sku: 'PH-1' } }], order(T0 + 1, 49900)]);
    expect(tagsOf(s, T0 + 2)).not.toContain('price_sensitive');
  });

  it('style_hesitant: given the same product viewed and carted again and again, never ordered', () => {
    const s = given([
      ['product_viewed', T0, { product: { sku: 'PH-1' } }],
      ['cart_item_added', T0 + 1, { cartId: 'c', product: { sku: 'PH-1' } }],
      ['cart_item_removed', T0 + 2, { cartId: 'c', product: { sku: 'PH-1' } }],
      ['product_viewed', T0 + 3, { product: { sku: 'PH-1' } }],
      ['product_viewed', T0 + 4, { product: { sku: 'PH-1' } }],
    ]);
    const tag = segment(s, T0 + 5, tiers).tags.find((t) => t.tag === 'style_hesitant');
    expect(tag?.reason).toBe('viewed PH-1 3 times, carted 1, removed 1, never ordered');
  });

  it('not style_hesitant once the product is ordered', () => {
    const s = given([
      ['product_viewed', T0, { product: { sku: 'PH-1' } }],
      ['product_viewed', T0 + 1, { product: { sku: 'PH-1' } }],
      ['product_viewed', T0 + 2, { product: { sku: 'PH-1' } }],
      ['order_placed', T0 + 3, { orderId: 'o', products: [{ sku: 'PH-1' }] }],
    ]);
    expect(tagsOf(s, T0 + 4)).not.toContain('style_hesitant');
  });

  it('high_intent: given a checkout without an order, within a day; gone after the order or a day later', () => {
    const s = given([['checkout_started', T0, { cartId: 'c', products: [{ sku: 'PH-1' }] }]]);
    expect(tagsOf(s, T0 + HOUR)).toContain('high_intent');
    expect(tagsOf(s, T0 + 2 * DAY)).not.toContain('high_intent');
    const bought = given([
      ['checkout_started', T0, { cartId: 'c', products: [{ sku: 'PH-1' }] }],
      order(T0 + 60_000, 100),
    ]);
    expect(tagsOf(bought, T0 + HOUR)).not.toContain('high_intent');
  });

  it('churn_risk: given a customer silent for longer than the configured time', () => {
    const s = given([order(T0, 5000)]);
    expect(tagsOf(s, T0 + 10 * DAY)).not.toContain('churn_risk');
    expect(segment(s, T0 + 45 * DAY, tiers).tags).toContainEqual({
      tag: 'churn_risk',
      reason: 'a customer with 1 orders, inactive for 45 days',
    });
    expect(
      tagsOf(given([['product_viewed', T0, { product: { sku: 'PH-1' } }]]), T0 + 45 * DAY),
    ).not.toContain('churn_risk');
  });
});

describe('value tiers', () => {
  it('new, then repeat, then high_value by orders or by spend; refunds count against', () => {
    expect(segment(given([['product_viewed', T0, { product: { sku: 'PH-1' } }]]), T0, tiers).tier).toBe(
      'new',
    );
    expect(segment(given([order(T0, 1000)]), T0, tiers).tier).toBe('new');
    expect(segment(given([order(T0, 1000), order(T0 + 1, 1000)]), T0, tiers).tier).toBe('repeat');
    expect(segment(given([1, 2, 3, 4, 5].map((i) => order(T0 + i, 1000))), T0, tiers).tier).toBe(
      'high_value',
    );
    expect(segment(given([order(T0, 60_000), order(T0 + 1, 60_000)]), T0, tiers)).toMatchObject({
      tier: 'high_value',
    });
    const refunded = given([
      order(T0, 1000),
      order(T0 + 1, 1000),
      ['order_refunded', T0 + 2, { orderId: 'o1', totalMinor: 1000 }],
    ]);
    expect(segment(refunded, T0 + 3, tiers).tier).toBe('new');
  });

  it('read their thresholds from configuration', () => {
    const strict = loadConfig({ TIER_REPEAT_ORDERS: '3' }).tiers;
    expect(segment(given([order(T0, 1000), order(T0 + 1, 1000)]), T0, strict).tier).toBe('new');
  });
});
