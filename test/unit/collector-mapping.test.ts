import {
  MAX_EVENT_DEPTH,
  depthOver,
  mapIncomingEvent,
  toMinorUnits,
  type MapResult,
  type MappingContext,
} from '../../streams/collector/mapping';
import type { EnvelopeInit } from '../../schemas/events';
import { isUlid, newEventId, ulidTime } from '../../schemas/ulid';

const RECEIVED_AT = Date.UTC(2024, 4, 1, 12, 0, 0);
const ctx: MappingContext = {
  shopId: 'shop-1',
  receivedAt: RECEIVED_AT,
  producerId: 'collector-test',
  sequence: 7,
};

function ok(result: MapResult): EnvelopeInit {
  if (!result.ok) throw new Error(`expected a valid envelope, got ${JSON.stringify(result.issues)}`);
  return result.envelope;
}

function rejected(result: MapResult): Extract<MapResult, { ok: false }> {
  if (result.ok) throw new Error('expected the event to be rejected');
  return result;
}

const native = (
  type: string,
  properties: unknown,
  extra: Record<string, unknown> = {},
): Record<string, unknown> => ({
  type,
  user_id: 'u-1',
  channel: 'web',
  properties,
  ...extra,
});

const track = (
  event: string,
  properties: unknown,
  extra: Record<string, unknown> = {},
): Record<string, unknown> => ({
  type: 'track',
  event,
  userId: 'u-1',
  messageId: 'msg-1',
  timestamp: '2024-05-01T10:00:00.000Z',
  properties,
  ...extra,
});

describe('native events', () => {
  const product = {
    sku: 'SKU-1',
    product_id: 'p-1',
    name: 'Mug',
    category: 'Kitchen',
    brand: 'Acme',
    price_minor: 1999,
    quantity: 2,
    variant: 'red',
  };
  const mapped = {
    sku: 'SKU-1',
    productId: 'p-1',
    name: 'Mug',
    category: 'Kitchen',
    brand: 'Acme',
    priceMinor: 1999,
    quantity: 2,
    variant: 'red',
  };

  it.each([
    ['product_viewed', 'productViewed', { product, currency: 'USD' }, { product: mapped, currency: 'USD' }],
    [
      'product_list_filtered',
      'productListFiltered',
      {
        list_id: 'l-1',
        category: 'Kitchen',
        filters: [{ type: 'color', value: 'red' }],
        sorts: [{ type: 'price', value: 'asc' }],
        result_count: 12,
      },
      {
        listId: 'l-1',
        category: 'Kitchen',
        filters: [{ type: 'color', value: 'red' }],
        sorts: [{ type: 'price', value: 'asc' }],
        resultCount: 12,
      },
    ],
    [
      'products_searched',
      'productsSearched',
      { query: 'mug', result_count: 3 },
      { query: 'mug', resultCount: 3 },
    ],
    [
      'cart_item_added',
      'cartItemAdded',
      { cart_id: 'c-1', product, cart_total_minor: 3998, currency: 'USD' },
      { cartId: 'c-1', product: mapped, cartTotalMinor: 3998, currency: 'USD' },
    ],
    ['cart_item_removed', 'cartItemRemoved', { cart_id: 'c-1', product }, { cartId: 'c-1', product: mapped }],
    [
      'cart_item_quantity_changed',
      'cartItemQuantityChanged',
      { cart_id: 'c-1', product, previous_quantity: 1 },
      { cartId: 'c-1', product: mapped, previousQuantity: 1 },
    ],
    [
      'checkout_started',
      'checkoutStarted',
      { cart_id: 'c-1', products: [product], total_minor: 3998, currency: 'USD' },
      { cartId: 'c-1', products: [mapped], totalMinor: 3998, currency: 'USD' },
    ],
    [
      'order_placed',
      'orderPlaced',
      {
        order_id: 'o-1',
        cart_id: 'c-1',
        products: [product],
        total_minor: 3498,
        discount_minor: 500,
        coupon_code: 'SAVE5',
        currency: 'USD',
      },
      {
        orderId: 'o-1',
        cartId: 'c-1',
        products: [mapped],
        totalMinor: 3498,
        discountMinor: 500,
        couponCode: 'SAVE5',
        currency: 'USD',
      },
    ],
    [
      'order_refunded',
      'orderRefunded',
      { order_id: 'o-1', products: [product], total_minor: 1999 },
      { orderId: 'o-1', products: [mapped], totalMinor: 1999 },
    ],
    [
      'order_paid',
      'orderPaid',
      { order_id: 'o-1', total_minor: 1999, currency: 'CNY', payment_method: 'alipay' },
      { orderId: 'o-1', totalMinor: 1999, currency: 'CNY', paymentMethod: 'alipay' },
    ],
    [
      'order_shipped',
      'orderShipped',
      {
        order_id: 'o-1',
        carrier: 'SF',
        tracking_number: 'SF1234567890',
        estimated_delivery_at: 1_781_000_000_000,
      },
      {
        orderId: 'o-1',
        carrier: 'SF',
        trackingNumber: 'SF1234567890',
        estimatedDeliveryAt: 1_781_000_000_000,
      },
    ],
    ['order_delivered', 'orderDelivered', { order_id: 'o-1' }, { orderId: 'o-1' }],
    [
      'chat_turn',
      'chatTurn',
      { conversation_id: 'conv-1', role: 'user', text: 'hello', channel: 'app', turn_index: 0 },
      { conversationId: 'conv-1', role: 1, text: 'hello', channel: 2, turnIndex: 0 },
    ],
  ])('maps %s to the %s payload', (type, field, properties, payload) => {
    const e = ok(mapIncomingEvent(native(type, properties), ctx));
    expect(e[field as keyof EnvelopeInit]).toEqual(payload);
    expect(e).toMatchObject({
      schemaVersion: 1,
      shopId: 'shop-1',
      userId: 'u-1',
      channel: 1,
      sequence: 7,
      producerId: 'collector-test',
    });
  });

  it('sets the envelope fields and ignores a shop_id in the body', () => {
    const e = ok(
      mapIncomingEvent(
        native(
          'products_searched',
          { query: 'mug' },
          {
            user_id: undefined,
            anonymous_id: 'a-1',
            session_id: 's-1',
            channel: 'mini_program',
            shop_id: 'other',
          },
        ),
        ctx,
      ),
    );
    expect(e).toMatchObject({
      shopId: 'shop-1',
      userId: '',
      anonymousId: 'a-1',
      sessionId: 's-1',
      channel: 3,
    });
  });

  it('reads occurred_at as ISO 8601 or epoch ms, and uses receivedAt when absent', () => {
    const at = (occurred_at: unknown): number | null | undefined =>
      ok(mapIncomingEvent(native('products_searched', { query: 'q' }, { occurred_at }), ctx)).occurredAt;
    expect(at('2024-05-01T10:00:00.250Z')).toBe(Date.UTC(2024, 4, 1, 10, 0, 0, 250));
    expect(at('2024-05-01T12:00:00+02:00')).toBe(Date.UTC(2024, 4, 1, 10, 0, 0));
    expect(at(1714557600000)).toBe(1714557600000);
    expect(at(undefined)).toBe(RECEIVED_AT);
  });

  it('rejects an occurred_at without a time zone or in seconds', () => {
    const noZone = rejected(
      mapIncomingEvent(native('products_searched', { query: 'q' }, { occurred_at: '2024-05-01 10:00' }), ctx),
    );
    expect(noZone.issues).toEqual([expect.objectContaining({ path: 'occurred_at', code: 'format' })]);
    const seconds = rejected(
      mapIncomingEvent(native('products_searched', { query: 'q' }, { occurred_at: 1714557600 }), ctx),
    );
    expect(seconds.issues).toEqual([expect.objectContaining({ path: 'occurred_at', code: 'min' })]);
  });

  it("scopes the client's ULID event_id by shop, derives one from another id, or makes a new one", () => {
    const ulid = newEventId();
    const withUlid = (c: MappingContext): string =>
      ok(mapIncomingEvent(native('products_searched', { query: 'q' }, { event_id: ulid }), c)).eventId!;
    // the same client ULID from two shops: two events, each stable, keeping the ULID's time
    expect(withUlid(ctx)).toBe(withUlid({ ...ctx, sequence: 9 }));
    expect(withUlid(ctx)).not.toBe(withUlid({ ...ctx, shopId: 'shop-2' }));
    expect(ulidTime(withUlid(ctx))).toBe(ulidTime(ulid));
    const a = ok(
      mapIncomingEvent(native('products_searched', { query: 'q' }, { event_id: 'client-42' }), ctx),
    ).eventId!;
    const b = ok(
      mapIncomingEvent(native('products_searched', { query: 'q' }, { event_id: 'client-42' }), ctx),
    ).eventId!;
    expect(isUlid(a)).toBe(true);
    expect(a).toBe(b);
    const fresh = ok(mapIncomingEvent(native('products_searched', { query: 'q' }), ctx)).eventId!;
    expect(isUlid(fresh)).toBe(true);
    expect(fresh).not.toBe(ok(mapIncomingEvent(native('products_searched', { query: 'q' }), ctx)).eventId);
  });

  it('names a missing sku with its snake_case path', () => {
    const r = rejected(
      mapIncomingEvent(native('cart_item_added', { cart_id: 'c-1', product: { price_minor: 100 } }), ctx),
    );
    expect(r.reason).toBe('invalid_event');
    expect(r.issues).toEqual([
      { path: 'cart_item_added.product.sku', code: 'required', message: 'is required' },
    ]);
    expect(r.envelope?.eventId).toBeDefined();
  });

  it('explains a bad channel and a bad chat role, once each', () => {
    const r = rejected(
      mapIncomingEvent(native('chat_turn', { conversation_id: 'c', role: 'robot' }, { channel: 'tv' }), ctx),
    );
    expect(r.issues).toEqual([
      {
        path: 'channel',
        code: 'enum',
        message: expect.stringContaining('use one of web, app, mini_program') as string,
      },
      {
        path: 'chat_turn.role',
        code: 'enum',
        message: expect.stringContaining('user, bot, agent') as string,
      },
    ]);
  });

  it('requires a channel and properties', () => {
    const r = rejected(mapIncomingEvent({ type: 'cart_item_added', user_id: 'u-1' }, ctx));
    expect(r.issues.map((i) => [i.path, i.code])).toEqual([
      ['channel', 'required'],
      ['cart_item_added', 'required'],
    ]);
  });

  it('reports wrong value types through validation', () => {
    const r = rejected(
      mapIncomingEvent(
        native('cart_item_added', { cart_id: 'c', product: { sku: 'A', quantity: 'two' } }),
        ctx,
      ),
    );
    expect(r.issues).toEqual([
      { path: 'cart_item_added.product.quantity', code: 'type', message: 'must be a number' },
    ]);
  });

  it('refuses event types only shopstream itself emits', () => {
    const r = rejected(
      mapIncomingEvent(native('coupon_issued', { campaign_id: 'c', coupon_code: 'X' }), ctx),
    );
    expect(r.reason).toBe('unmappable');
    expect(r.issues[0]).toMatchObject({ path: 'type', code: 'type' });
  });
});

describe('Segment track events', () => {
  it('maps Product Viewed with the price in minor units', () => {
    const e = ok(
      mapIncomingEvent(
        track('Product Viewed', {
          product_id: 'p-1',
          sku: 'SKU-1',
          name: 'Mug',
          category: 'Kitchen',
          brand: 'Acme',
          variant: 'red',
          price: 19.99,
          currency: 'USD',
          url: 'https://x',
        }),
        ctx,
      ),
    );
    expect(e.productViewed).toEqual({
      product: {
        sku: 'SKU-1',
        productId: 'p-1',
        name: 'Mug',
        category: 'Kitchen',
        brand: 'Acme',
        variant: 'red',
        priceMinor: 1999,
      },
      currency: 'USD',
    });
    expect(e).toMatchObject({ userId: 'u-1', channel: 1, occurredAt: Date.UTC(2024, 4, 1, 10) });
  });

  it('maps Product Added with a quantity to cart_item_added', () => {
    const e = ok(
      mapIncomingEvent(
        track('Product Added', { cart_id: 'c-1', sku: 'SKU-1', price: 5, quantity: 3, currency: 'eur' }),
        ctx,
      ),
    );
    expect(e.cartItemAdded).toEqual({
      cartId: 'c-1',
      product: { sku: 'SKU-1', priceMinor: 500, quantity: 3 },
      currency: 'EUR',
    });
  });

  it('maps Product Removed to cart_item_removed', () => {
    const e = ok(
      mapIncomingEvent(track('Product Removed', { cart_id: 'c-1', sku: 'SKU-1', quantity: 1 }), ctx),
    );
    expect(e.cartItemRemoved).toEqual({ cartId: 'c-1', product: { sku: 'SKU-1', quantity: 1 } });
  });

  it('maps Order Completed with products, total, discount and coupon', () => {
    const e = ok(
      mapIncomingEvent(
        track('Order Completed', {
          order_id: 'o-1',
          checkout_id: 'chk-1',
          total: 30.97,
          revenue: 25.0,
          discount: 2.5,
          coupon: 'SAVE',
          currency: 'USD',
          products: [
            { product_id: 'p-1', sku: 'SKU-1', name: 'Mug', price: 19.99, quantity: 1 },
            { product_id: 'p-2', sku: 'SKU-2', price: '5.49', quantity: 2 },
          ],
        }),
        ctx,
      ),
    );
    expect(e.orderPlaced).toEqual({
      orderId: 'o-1',
      products: [
        { sku: 'SKU-1', productId: 'p-1', name: 'Mug', priceMinor: 1999, quantity: 1 },
        { sku: 'SKU-2', productId: 'p-2', priceMinor: 549, quantity: 2 },
      ],
      totalMinor: 3097,
      discountMinor: 250,
      couponCode: 'SAVE',
      currency: 'USD',
    });
  });

  it('uses revenue when there is no total, and currency exponents', () => {
    const jpy = ok(
      mapIncomingEvent(
        track('Order Completed', {
          order_id: 'o',
          revenue: 1500,
          currency: 'JPY',
          products: [{ sku: 'A', price: 1500 }],
        }),
        ctx,
      ),
    );
    expect(jpy.orderPlaced).toMatchObject({ totalMinor: 1500, products: [{ priceMinor: 1500 }] });
    const kwd = ok(
      mapIncomingEvent(track('Order Refunded', { order_id: 'o', total: 1.234, currency: 'KWD' }), ctx),
    );
    expect(kwd.orderRefunded).toEqual({ orderId: 'o', totalMinor: 1234, currency: 'KWD' });
  });

  it('maps Products Searched, Product List Filtered and Checkout Started', () => {
    expect(
      ok(mapIncomingEvent(track('Products Searched', { query: 'blue mug' }), ctx)).productsSearched,
    ).toEqual({ query: 'blue mug' });
    const filtered = ok(
      mapIncomingEvent(
        track('Product List Filtered', {
          list_id: 'l',
          category: 'Kitchen',
          filters: [{ type: 'size', value: 10 }],
          sorts: [{ type: 'price', value: 'desc' }],
        }),
        ctx,
      ),
    );
    expect(filtered.productListFiltered).toEqual({
      listId: 'l',
      category: 'Kitchen',
      filters: [{ type: 'size', value: '10' }],
      sorts: [{ type: 'price', value: 'desc' }],
    });
    const checkout = ok(
      mapIncomingEvent(
        track('Checkout Started', { cart_id: 'c', value: 12.5, products: [{ sku: 'A' }] }),
        ctx,
      ),
    );
    expect(checkout.checkoutStarted).toEqual({ cartId: 'c', products: [{ sku: 'A' }], totalMinor: 1250 });
  });

  it('matches event names case-insensitively', () => {
    expect(ok(mapIncomingEvent(track('products searched', { query: 'q' }), ctx)).productsSearched).toEqual({
      query: 'q',
    });
  });

  it('derives the same event_id for the same messageId and a different one for another', () => {
    const id = (extra: Record<string, unknown>, c: MappingContext = ctx): string =>
      ok(mapIncomingEvent(track('Products Searched', { query: 'q' }, extra), c)).eventId!;
    const first = id({ messageId: 'm-1' });
    expect(isUlid(first)).toBe(true);
    // a retry arrives later and gets another sequence: still the same id
    expect(id({ messageId: 'm-1' }, { ...ctx, receivedAt: RECEIVED_AT + 5000, sequence: 99 })).toBe(first);
    // Segment deduplicates on messageId alone: another timestamp (or sentAt) is still the same event
    expect(id({ messageId: 'm-1', timestamp: '2024-05-01T11:30:00Z' })).toBe(first);
    expect(id({ messageId: 'm-1', sentAt: '2024-05-01T11:59:00Z' })).toBe(first);
    expect(id({ messageId: 'm-2' })).not.toBe(first);
    expect(id({ messageId: 'm-1' }, { ...ctx, shopId: 'shop-2' })).not.toBe(first);
  });

  it('defaults the channel to web and understands Segment channel names', () => {
    expect(ok(mapIncomingEvent(track('Products Searched', { query: 'q' }), ctx)).channel).toBe(1);
    expect(
      ok(
        mapIncomingEvent(track('Products Searched', { query: 'q' }, { context: { channel: 'mobile' } }), ctx),
      ).channel,
    ).toBe(2);
    expect(
      ok(
        mapIncomingEvent(track('Products Searched', { query: 'q' }, { context: { channel: 'social' } }), ctx),
      ).channel,
    ).toBe(4);
  });

  it('explains a bad channel', () => {
    const r = rejected(
      mapIncomingEvent(track('Products Searched', { query: 'q' }, { context: { channel: 'tv' } }), ctx),
    );
    expect(r.issues).toEqual([
      {
        path: 'channel',
        code: 'enum',
        message: expect.stringMatching(/^context\.channel "tv" is not known: use one of web, app/) as string,
      },
    ]);
  });

  it('names a missing sku in an order', () => {
    const r = rejected(
      mapIncomingEvent(
        track('Order Completed', {
          order_id: 'o',
          products: [{ sku: 'A' }, { name: 'no id', price: 3 }],
        }),
        ctx,
      ),
    );
    expect(r.issues).toEqual([
      { path: 'order_placed.products[1].sku', code: 'required', message: 'is required' },
    ]);
  });

  it('names an unreadable price by its Segment property', () => {
    const r = rejected(
      mapIncomingEvent(track('Product Added', { cart_id: 'c', sku: 'A', price: 'cheap' }), ctx),
    );
    expect(r.issues).toEqual([{ path: 'properties.price', code: 'type', message: 'must be a number' }]);
  });

  it('requires a user', () => {
    const r = rejected(
      mapIncomingEvent(track('Products Searched', { query: 'q' }, { userId: undefined }), ctx),
    );
    expect(r.issues).toEqual([expect.objectContaining({ path: 'user_id', code: 'required' })]);
  });

  it('lists the supported names for an unknown event', () => {
    const r = rejected(mapIncomingEvent(track('Cart Viewed', {}), ctx));
    expect(r.reason).toBe('unmappable');
    expect(r.issues).toEqual([
      {
        path: 'event',
        code: 'type',
        message: expect.stringContaining('Product Viewed, Product List Filtered') as string,
      },
    ]);
  });

  it('accepts a product without a sku, the product_id standing in (Segment: every property optional)', () => {
    const e = ok(mapIncomingEvent(track('Product Viewed', { product_id: 'P-1', name: 'Mug' }), ctx));
    expect(e.productViewed!.product).toEqual({ sku: 'P-1', productId: 'P-1', name: 'Mug' });
    const added = ok(mapIncomingEvent(track('Product Added', { cart_id: 'c', product_id: 'P-2' }), ctx));
    expect(added.cartItemAdded!.product!.sku).toBe('P-2');
    // neither a sku nor a product_id: nothing says which product it was
    expect(rejected(mapIncomingEvent(track('Product Viewed', { name: 'Mug' }), ctx)).issues).toEqual([
      { path: 'product_viewed.product.sku', code: 'required', message: 'is required' },
    ]);
  });

  it('corrects the client clock by receivedAt - sentAt (per event, else per batch)', () => {
    const at = (extra: Record<string, unknown>, c: MappingContext = ctx): number =>
      Number(ok(mapIncomingEvent(track('Products Searched', { query: 'q' }, extra), c)).occurredAt);
    // the phone is an hour behind: it sent at 11:00 by its clock, the server received at 12:00
    expect(at({ sentAt: '2024-05-01T11:00:00Z' })).toBe(Date.UTC(2024, 4, 1, 11));
    expect(at({}, { ...ctx, sentAt: '2024-05-01T11:00:00Z' })).toBe(Date.UTC(2024, 4, 1, 11));
    expect(
      at({ originalTimestamp: '2024-05-01T10:00:00Z', timestamp: undefined, sentAt: '2024-05-01T12:00:00Z' }),
    ).toBe(Date.UTC(2024, 4, 1, 10));
    expect(at({})).toBe(Date.UTC(2024, 4, 1, 10));
    expect(
      rejected(mapIncomingEvent(track('Products Searched', { query: 'q' }, { sentAt: 'yesterday' }), ctx))
        .issues,
    ).toEqual([expect.objectContaining({ path: 'sent_at', code: 'format' })]);
  });

  it('maps page, screen, identify, group and alias calls to events', () => {
    const call = (type: string, extra: Record<string, unknown>): EnvelopeInit =>
      ok(mapIncomingEvent({ type, userId: 'u-1', messageId: `m-${type}`, ...extra }, ctx));
    expect(
      call('page', {
        name: 'Phones',
        properties: { url: 'https://s.example/phones?q=1', title: 'Phones' },
        context: { page: { path: '/phones', referrer: 'https://search.example' } },
      }).pageViewed,
    ).toEqual({
      name: 'Phones',
      url: 'https://s.example/phones?q=1',
      title: 'Phones',
      path: '/phones',
      referrer: 'https://search.example',
    });
    expect(call('screen', { name: 'Cart', properties: { category: 'checkout' } }).screenViewed).toEqual({
      name: 'Cart',
      category: 'checkout',
    });
    expect(
      call('identify', { traits: { plan: 'gold', age: 42, address: { city: 'Oslo' } } }).userIdentified,
    ).toEqual({
      traits: [
        { name: 'plan', value: '"gold"' },
        { name: 'age', value: '42' },
        { name: 'address', value: '{"city":"Oslo"}' },
      ],
    });
    // analytics-node (RudderStack) copies the traits into context.traits
    expect(call('identify', { context: { traits: { plan: 'gold' } } }).userIdentified).toEqual({
      traits: [{ name: 'plan', value: '"gold"' }],
    });
    expect(call('group', { groupId: 'acme', traits: { size: 3 } }).groupJoined).toEqual({
      groupId: 'acme',
      traits: [{ name: 'size', value: '3' }],
    });
    expect(call('alias', { previousId: 'anon-7' }).userAliased).toEqual({ previousId: 'anon-7' });
  });

  it('bounds traits: at most 64, each value at most 1024 characters of JSON', () => {
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`t${i}`, i]));
    const r = rejected(mapIncomingEvent({ type: 'identify', userId: 'u-1', traits: many }, ctx));
    expect(r.issues).toEqual([expect.objectContaining({ path: 'traits', code: 'max_len' })]);
    const big = rejected(
      mapIncomingEvent({ type: 'identify', userId: 'u-1', traits: { bio: 'x'.repeat(2000) } }, ctx),
    );
    expect(big.issues).toEqual([
      expect.objectContaining({ path: 'user_identified.traits[0].value', code: 'max_len' }),
    ]);
    expect(rejected(mapIncomingEvent({ type: 'group', userId: 'u-1' }, ctx)).issues).toEqual([
      expect.objectContaining({ path: 'group_joined.group_id', code: 'required' }),
    ]);
  });
});

describe('time zone', () => {
  const search = { query: 'q' };

  it("maps Segment's context.timezone and a native time_zone to time_zone", () => {
    const segment = (timezone: unknown): EnvelopeInit =>
      ok(mapIncomingEvent(track('Products Searched', search, { context: { timezone } }), ctx));
    expect(segment('Asia/Shanghai').timeZone).toBe('Asia/Shanghai');
    expect(segment('America/New_York').timeZone).toBe('America/New_York');
    expect(segment(' Europe/Berlin ').timeZone).toBe('Europe/Berlin');
    expect(segment('+08:00').timeZone).toBe('+08:00');
    expect(segment('UTC').timeZone).toBe('UTC');
    const native_ = (time_zone: unknown): EnvelopeInit =>
      ok(mapIncomingEvent(native('products_searched', search, { time_zone }), ctx));
    expect(native_('-05:30').timeZone).toBe('-05:30');
    expect(native_('Asia/Kolkata').timeZone).toBe('Asia/Kolkata');
  });

  it('leaves time_zone empty when the client sends none', () => {
    expect(ok(mapIncomingEvent(track('Products Searched', search), ctx)).timeZone).toBe('');
    expect(ok(mapIncomingEvent(track('Products Searched', search, { context: {} }), ctx)).timeZone).toBe('');
    expect(ok(mapIncomingEvent(native('products_searched', search), ctx)).timeZone).toBe('');
  });

  it('rejects an unusable zone as an invalid event, naming the field the client sent', () => {
    for (const timezone of ['Mars/Olympus_Mons', '+8', 'GMT+8', '+15:00', 'x'.repeat(100)]) {
      const r = rejected(
        mapIncomingEvent(track('Products Searched', search, { context: { timezone } }), ctx),
      );
      expect(r.reason).toBe('invalid_event'); // kept in the dead-letter stream with this reason
      expect(r.issues).toEqual([
        {
          path: 'time_zone',
          code: 'format',
          message: expect.stringMatching(
            /^context\.timezone ".+" is not a time zone: use an IANA name such as Asia\/Shanghai, UTC, or an offset such as \+08:00$/,
          ) as string,
        },
      ]);
      expect(r.envelope).toBeDefined(); // to fix and replay
    }
    const n = rejected(mapIncomingEvent(native('products_searched', search, { time_zone: 'Nowhere' }), ctx));
    expect(n.issues).toEqual([
      expect.objectContaining({
        path: 'time_zone',
        code: 'format',
        message: expect.stringMatching(/^time_zone "Nowhere"/) as string,
      }),
    ]);
  });

  it('rejects a zone that is not a string', () => {
    const r = rejected(
      mapIncomingEvent(track('Products Searched', search, { context: { timezone: { name: 'UTC' } } }), ctx),
    );
    expect(r.issues).toEqual([{ path: 'time_zone', code: 'type', message: 'timezone must be a string' }]);
  });
});

describe('inputs that are not events', () => {
  it.each([null, 'text', 42, [1, 2]])('rejects %p as unmappable', (raw) => {
    expect(rejected(mapIncomingEvent(raw, ctx))).toEqual({
      ok: false,
      reason: 'unmappable',
      issues: [{ path: '', code: 'type', message: 'an event must be a JSON object' }],
    });
  });

  it('rejects a missing or unknown type', () => {
    expect(rejected(mapIncomingEvent({ properties: {} }, ctx)).issues[0]).toMatchObject({
      path: 'type',
      code: 'required',
    });
    expect(rejected(mapIncomingEvent({ type: 'clicked' }, ctx)).issues[0]).toMatchObject({
      path: 'type',
      code: 'type',
    });
  });
});

describe('toMinorUnits', () => {
  it.each([
    [19.99, 'USD', 1999],
    [1.005, 'USD', 101],
    [0.1 + 0.2, 'EUR', 30],
    [10, undefined, 1000],
    [1500, 'JPY', 1500],
    [1500.4, 'krw', 1500],
    [1.2345, 'BHD', 1235],
    [-2.5, 'USD', -250],
  ])('%p %s -> %p', (amount, currency, minor) => {
    expect(toMinorUnits(amount, currency)).toBe(minor);
  });
});

describe('bounds', () => {
  const deep = (depth: number): unknown => {
    let v: unknown = 'leaf';
    for (let i = 0; i < depth; i++) v = { a: v };
    return v;
  };

  it('rejects an event nested deeper than MAX_EVENT_DEPTH without recursing into it', () => {
    // 10,000 levels: JSON.stringify of it throws a RangeError, the depth check does not
    const raw = track('Products Searched', { query: 'q', extra: deep(10_000) });
    expect(() => JSON.stringify(raw)).toThrow(RangeError);
    const r = rejected(mapIncomingEvent(raw, ctx));
    expect(r).toMatchObject({
      reason: 'invalid_event',
      issues: [
        { path: '', code: 'format', message: expect.stringContaining(`${MAX_EVENT_DEPTH} levels`) as string },
      ],
    });
    // the limit itself is fine
    expect(depthOver(deep(MAX_EVENT_DEPTH), MAX_EVENT_DEPTH)).toBe(false);
    expect(depthOver(deep(MAX_EVENT_DEPTH + 1), MAX_EVENT_DEPTH)).toBe(true);
    expect(depthOver([[[]]], 2)).toBe(true);
  });

  it.each([
    ['a /', 'shop/u-1'],
    ['a :', 'anon:u-1'],
    ['a space', 'u 1'],
    ['a control character', 'u\n1'],
    ['129 characters', 'u'.repeat(129)],
  ])('rejects a user_id or anonymous_id with %s', (_name, id) => {
    for (const [field, path] of [
      ['userId', 'user_id'],
      ['anonymousId', 'anonymous_id'],
    ] as const) {
      const r = rejected(
        mapIncomingEvent(track('Products Searched', { query: 'q' }, { userId: undefined, [field]: id }), ctx),
      );
      expect(r.issues).toEqual([
        expect.objectContaining({ path, code: expect.stringMatching(/format|max_len/) as string }),
      ]);
    }
  });

  it('accepts ids that are emails, UUIDs and provider ids', () => {
    for (const id of ['ada@example.com', '3f1c0a52-8a2e-4b8e-9f7e-0c1d2e3f4a5b', 'auth0|abc.def_1+x=']) {
      expect(
        ok(mapIncomingEvent(track('Products Searched', { query: 'q' }, { userId: id }), ctx)).userId,
      ).toBe(id);
    }
  });
});
