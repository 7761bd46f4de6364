import { EVENT_TYPES } from '../../schemas/events';
import { EventValidationError, assertValidEnvelope, validateEnvelope } from '../../schemas/validate';
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
});
