import { EVENT_TYPES } from '../../schemas/events';
import {
  EventValidationError,
  MAX_FUTURE_SKEW_MS,
  MAX_REPEATED,
  OCCURRED_AT_LATEST_MS,
  assertValidEnvelope,
  validateEnvelope,
} from '../../schemas/validate';
import { toClickHouseTime, toEventRow } from '../../streams/sinks/clickhouse/rows';
import { decodeEnvelope, encodeEnvelope } from '../../schemas/codec';
import { buildEnvelope, sampleProduct } from '../helpers/events';

const paths = (issues: { path: string }[]): string[] => issues.map((i) => i.path);

describe('validateEnvelope', () => {
  it.each(EVENT_TYPES)('accepts a well-formed %s', (type) => {
    expect(validateEnvelope(buildEnvelope(type))).toEqual([]);
  });

  it('names the missing nested field', () => {
    const issues = validateEnvelope(
      buildEnvelope('cart_item_added', {}, { cartId: 'c1', product: { ...sampleProduct, sku: '' } }),
    );
    expect(issues).toEqual([
      { path: 'cart_item_added.product.sku', code: 'required', message: 'is required' },
    ]);
  });

  it('requires what tracks a shipment: the order, the carrier and the tracking number, within bounds', () => {
    const issues = validateEnvelope(
      buildEnvelope('order_shipped', {}, { orderId: '', carrier: 'X'.repeat(33), estimatedDeliveryAt: -1 }),
    );
    expect(issues.map((i) => [i.path, i.code])).toEqual(
      expect.arrayContaining([
        ['order_shipped.order_id', 'required'],
        ['order_shipped.carrier', 'max_len'],
        ['order_shipped.tracking_number', 'required'],
        ['order_shipped.estimated_delivery_at', 'min'],
      ]),
    );
  });

  it('requires an event id that is a ULID, a shop, a channel and a time', () => {
    const issues = validateEnvelope(
      buildEnvelope('product_viewed', { eventId: 'not-a-ulid', shopId: '', channel: 0, occurredAt: 0 }),
    );
    expect(paths(issues)).toEqual(expect.arrayContaining(['event_id', 'shop_id', 'channel', 'occurred_at']));
    expect(issues.find((i) => i.path === 'event_id')?.code).toBe('format');
  });

  it('requires user_id or anonymous_id', () => {
    expect(paths(validateEnvelope(buildEnvelope('product_viewed', { userId: '' })))).toEqual(['user_id']);
    expect(validateEnvelope(buildEnvelope('product_viewed', { userId: '', anonymousId: 'a-1' }))).toEqual([]);
  });

  it('requires exactly one payload', () => {
    const none = buildEnvelope('product_viewed');
    delete none.productViewed;
    expect(validateEnvelope(none)).toEqual([
      { path: 'payload', code: 'required', message: 'exactly one payload is required' },
    ]);
    const two = buildEnvelope('product_viewed', { productsSearched: { query: 'x' } });
    expect(validateEnvelope(two)[0]).toMatchObject({ path: 'payload', code: 'type' });
  });

  it('rejects negative money, an unknown enum, an overlong string and a bad currency', () => {
    const issues = validateEnvelope(
      buildEnvelope(
        'order_placed',
        {},
        {
          orderId: 'o'.repeat(129),
          products: [{ ...sampleProduct, priceMinor: -1 }],
          totalMinor: 5,
          currency: 'usd',
        },
      ),
    );
    expect(issues.map((i) => `${i.path}:${i.code}`)).toEqual(
      expect.arrayContaining([
        'order_placed.order_id:max_len',
        'order_placed.products[0].price_minor:min',
        'order_placed.currency:format',
      ]),
    );
    const role = validateEnvelope(buildEnvelope('chat_turn', {}, { conversationId: 'c', role: 9 as never }));
    expect(role).toEqual([expect.objectContaining({ path: 'chat_turn.role', code: 'enum' })]);
  });

  it('requires a non-empty product list on orders', () => {
    expect(
      paths(validateEnvelope(buildEnvelope('order_placed', {}, { orderId: 'o', products: [] }))),
    ).toEqual(['order_placed.products']);
  });

  it('throws a typed error listing every issue', () => {
    const bad = buildEnvelope('products_searched', { shopId: '' }, { query: '' });
    expect(() => assertValidEnvelope(bad)).toThrow(EventValidationError);
    try {
      assertValidEnvelope(bad);
    } catch (err) {
      expect((err as EventValidationError).code).toBe('EVENT_INVALID');
      expect(paths((err as EventValidationError).issues)).toEqual(['shop_id', 'products_searched.query']);
    }
  });

  describe('bounds every field (issue 8, finding 1)', () => {
    const codes = (issues: { path: string; code: string }[]): string[] =>
      issues.map((i) => `${i.path}:${i.code}`);

    it.each([
      ['year 10000', Date.UTC(10000, 0, 1)],
      ['beyond what a Date holds', 8.64e15 + 1],
      ['the largest safe integer', Number.MAX_SAFE_INTEGER],
      ['2100-01-01', OCCURRED_AT_LATEST_MS],
    ])('rejects occurred_at %s', (_, ms) => {
      expect(codes(validateEnvelope(buildEnvelope('product_viewed', { occurredAt: ms })))).toEqual([
        'occurred_at:max',
      ]);
    });

    it('rejects an event dated more than a day after it arrived, when the arrival is known', () => {
      const arrived = Date.UTC(2026, 5, 1);
      const at = (occurredAt: number) =>
        codes(validateEnvelope(buildEnvelope('product_viewed', { occurredAt }), { receivedAt: arrived }));
      expect(at(arrived + MAX_FUTURE_SKEW_MS)).toEqual([]);
      expect(at(arrived + MAX_FUTURE_SKEW_MS + 1)).toEqual(['occurred_at:max']);
      expect(at(arrived - 30 * MAX_FUTURE_SKEW_MS)).toEqual([]); // late events are fine
    });

    it("shop and user ids cannot hold the separators of keys and workflow ids ('/', ':', spaces)", () => {
      for (const [over, path] of [
        [{ shopId: 'shop/a' }, 'shop_id'],
        [{ userId: 'a/b' }, 'user_id'],
        [{ userId: 'anon:x' }, 'user_id'],
        [{ userId: 'u 1' }, 'user_id'],
        [{ userId: '', anonymousId: 'a:b' }, 'anonymous_id'],
      ] as const)
        expect(codes(validateEnvelope(buildEnvelope('product_viewed', over)))).toEqual([`${path}:format`]);
      expect(validateEnvelope(buildEnvelope('product_viewed', { userId: 'user.42@shop+x=1|2' }))).toEqual([]);
    });

    it('rejects a lone surrogate in any string, top level or nested, and keeps real pairs', () => {
      expect(codes(validateEnvelope(buildEnvelope('product_viewed', { sessionId: 's\ud800' })))).toEqual([
        'session_id:format',
      ]);
      const nested = buildEnvelope(
        'product_list_filtered',
        {},
        { category: 'x', filters: [{ type: 'brand', value: '\udfff' }] },
      );
      expect(codes(validateEnvelope(nested))).toEqual(['product_list_filtered.filters[0].value:format']);
      expect(validateEnvelope(buildEnvelope('products_searched', {}, { query: '充电宝 😀' }))).toEqual([]);
    });

    it('caps repeated fields and numbers at what their proto type and column hold', () => {
      const many = buildEnvelope(
        'checkout_started',
        {},
        { cartId: 'c', products: Array.from({ length: MAX_REPEATED + 1 }, () => sampleProduct) },
      );
      expect(codes(validateEnvelope(many))).toEqual(['checkout_started.products:max_count']);
      const big = buildEnvelope('products_searched', {}, { query: 'q', resultCount: 2 ** 32 });
      expect(codes(validateEnvelope(big))).toEqual(['products_searched.result_count:max']);
      const conf = buildEnvelope(
        'handoff_requested',
        {},
        { conversationId: 'c', reason: 'r', confidence: 1e39 },
      );
      expect(codes(validateEnvelope(conf))).toEqual(['handoff_requested.confidence:max']);
    });

    it('makes a row of any decodable event without throwing, even one dated beyond a Date', () => {
      expect(toClickHouseTime(Number.MAX_SAFE_INTEGER)).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/);
      expect(toClickHouseTime(Number.NaN)).toBe('1970-01-01 00:00:00.000');
      const d = decodeEnvelope(encodeEnvelope(buildEnvelope('product_viewed', { occurredAt: 9e18 })));
      if (!d.ok) throw new Error(d.detail);
      expect(() => toEventRow(d.envelope, d.type, 1)).not.toThrow();
    });
  });
});
