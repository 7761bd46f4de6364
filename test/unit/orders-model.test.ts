// The order view's model: each transition, any arrival order, duplicates and bounds (no server).
import { decodeEnvelope, encodeEnvelope } from '../../schemas/codec';
import type { Envelope, EnvelopeInit, EventType, PayloadMap, Product } from '../../schemas/events';
import {
  applyFact,
  emptyOrders,
  encodeOrders,
  MAX_ITEMS,
  MAX_NAME_CHARS,
  MAX_ORDERS,
  MAX_STATE_BYTES,
  orderFactOf,
  type OrderFact,
  type OrdersState,
} from '../../streams/processors/orders/model';
import { buildEnvelope, sampleProduct } from '../helpers/events';

const T0 = Date.UTC(2026, 5, 10, 4, 0, 0);
const HOUR = 3_600_000;

function envelope<T extends EventType>(
  type: T,
  payload: PayloadMap[T],
  over: Partial<EnvelopeInit> = {},
): Envelope {
  const d = decodeEnvelope(encodeEnvelope(buildEnvelope(type, over, payload)));
  if (!d.ok) throw new Error(d.detail);
  return d.envelope;
}

function fact<T extends EventType>(type: T, payload: PayloadMap[T], at: number): OrderFact {
  const r = orderFactOf(envelope(type, payload, { occurredAt: at }), type);
  if (r.kind !== 'ok') throw new Error(`no fact: ${JSON.stringify(r)}`);
  return r.value;
}

const placed = (orderId: string, at: number, products: Product[] = [sampleProduct]) =>
  fact('order_placed', { orderId, products, totalMinor: 129900, currency: 'CNY' }, at);
const paid = (orderId: string, at: number) => fact('order_paid', { orderId, paymentMethod: 'alipay' }, at);
const shipped = (orderId: string, at: number, trackingNumber = 'SF1234567890') =>
  fact('order_shipped', { orderId, carrier: 'SF', trackingNumber, estimatedDeliveryAt: at + 48 * HOUR }, at);
const delivered = (orderId: string, at: number) => fact('order_delivered', { orderId }, at);
const refunded = (orderId: string, at: number, totalMinor = 129900) =>
  fact('order_refunded', { orderId, totalMinor, currency: 'CNY' }, at);

/** Applies facts in order; returns the state after the last one that changed it. */
function applyAll(facts: OrderFact[], s: OrdersState = emptyOrders('shop-1', 'user-1')): OrdersState {
  for (const f of facts) {
    const out = applyFact(s, f);
    if (out.kind === 'applied') s = out.state;
  }
  return s;
}

const lifecycle = (id = 'A123') => [
  placed(id, T0),
  paid(id, T0 + 60_000),
  shipped(id, T0 + 26 * HOUR),
  delivered(id, T0 + 70 * HOUR),
];

describe('order view: transitions', () => {
  it('placed holds the items, total and currency', () => {
    const [o] = applyAll([placed('A123', T0)]).orders;
    expect(o).toMatchObject({
      orderId: 'A123',
      status: 'placed',
      at: { placed: T0 },
      totalMinor: 129900,
      currency: 'CNY',
      itemCount: 1,
      items: [{ sku: 'PHO-0001', name: 'Orbit phone 12', quantity: 1, priceMinor: 49999 }],
    });
  });

  it.each([
    ['paid', 2, { paid: T0 + 60_000 }],
    ['shipped', 3, { shipped: T0 + 26 * HOUR }],
    ['delivered', 4, { delivered: T0 + 70 * HOUR }],
  ] as const)('moves to %s with its time', (status, n, at) => {
    const [o] = applyAll(lifecycle().slice(0, n)).orders;
    expect(o!.status).toBe(status);
    expect(o!.at).toMatchObject({ placed: T0, ...at });
  });

  it('shipped keeps the carrier, the tracking number (spaces removed, upper case) and the estimate', () => {
    const f = fact('order_shipped', { orderId: 'A1', carrier: 'sf', trackingNumber: 'sf 1234 5678 90' }, T0);
    const [o] = applyAll([placed('A1', T0 - HOUR), f]).orders;
    expect(o!.shipment).toEqual({ carrier: 'SF', trackingNumber: 'SF1234567890', shippedAt: T0 });
  });

  it('refunded adds up distinct refunds once each, and ends the order refunded', () => {
    const s = applyAll([
      ...lifecycle(),
      refunded('A123', T0 + 100 * HOUR, 1000),
      refunded('A123', T0 + 101 * HOUR, 500),
    ]);
    expect(s.orders[0]).toMatchObject({ status: 'refunded', refundedMinor: 1500 });
    // the same refund re-published under a new event id counts once
    const again = applyFact(s, refunded('A123', T0 + 101 * HOUR, 500));
    expect(again.kind).toBe('unchanged');
  });

  it('a payment fills the total only while no order_placed was seen', () => {
    const p = fact('order_paid', { orderId: 'B', totalMinor: 500, currency: 'USD' }, T0 + 1);
    expect(applyAll([p]).orders[0]).toMatchObject({ status: 'paid', totalMinor: 500, currency: 'USD' });
    expect(applyAll([placed('B', T0), p]).orders[0]).toMatchObject({ totalMinor: 129900, currency: 'CNY' });
    expect(applyAll([p, placed('B', T0)]).orders[0]).toMatchObject({ totalMinor: 129900, currency: 'CNY' });
  });
});

describe('order view: arrival order and duplicates', () => {
  const permutations = <T>(xs: T[]): T[][] =>
    xs.length <= 1
      ? [xs]
      : xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));

  it('every arrival order of a lifecycle gives the same view, ending delivered', () => {
    const facts = lifecycle();
    const views = permutations(facts).map((p) => applyAll(p).orders);
    expect(views).toHaveLength(24);
    for (const v of views) expect(v).toEqual(views[0]);
    expect(applyAll(facts.slice().reverse()).orders[0]).toMatchObject({
      status: 'delivered',
      shipment: { trackingNumber: 'SF1234567890' },
    });
  });

  it('a status never goes backwards: a late shipped after delivered, a late paid after shipped', () => {
    const [a] = applyAll([delivered('A', T0 + 2 * HOUR), shipped('A', T0 + HOUR)]).orders;
    expect(a!.status).toBe('delivered');
    const [b] = applyAll([shipped('B', T0 + HOUR), paid('B', T0)]).orders;
    expect(b!.status).toBe('shipped');
  });

  it('a redelivered event is a duplicate; a re-published one (new event id) changes nothing', () => {
    const s = applyAll([placed('A123', T0)]);
    const f = shipped('A123', T0 + 26 * HOUR);
    const first = applyFact(s, f);
    expect(first.kind).toBe('applied');
    if (first.kind !== 'applied') return;
    expect(applyFact(first.state, f)).toEqual({ kind: 'duplicate' });
    expect(applyFact(first.state, { ...f, eventId: 'another-id' })).toEqual({ kind: 'unchanged' });
  });

  it('a re-shipment with a later waybill replaces the shown shipment; the first shipped time stays', () => {
    const [o] = applyAll([shipped('A', T0 + 2 * HOUR, 'SF2222222222'), shipped('A', T0 + HOUR)]).orders;
    expect(o!.shipment?.trackingNumber).toBe('SF2222222222');
    expect(o!.at.shipped).toBe(T0 + HOUR);
  });
});

describe('order view: bounds', () => {
  it(`keeps the newest ${MAX_ORDERS} orders, dropping the oldest; an older one then changes nothing`, () => {
    const facts = Array.from({ length: MAX_ORDERS + 5 }, (_, i) => placed(`o-${i}`, T0 + i * HOUR));
    const s = applyAll(facts);
    expect(s.orders).toHaveLength(MAX_ORDERS);
    expect(s.orders[0]!.orderId).toBe(`o-${MAX_ORDERS + 4}`);
    expect(s.orders.at(-1)!.orderId).toBe('o-5');
    expect(applyFact(s, placed('ancient', T0 - HOUR)).kind).toBe('unchanged');
    // an event of a kept order still applies
    expect(applyFact(s, shipped('o-5', T0 + 50 * HOUR)).kind).toBe('applied');
  });

  it(`keeps ${MAX_ITEMS} items per order with the true count, names cut at ${MAX_NAME_CHARS}`, () => {
    const products = Array.from({ length: 30 }, (_, i) => ({
      ...sampleProduct,
      sku: `S-${i}`,
      name: 'n'.repeat(512),
    }));
    const [o] = applyAll([placed('big', T0, products)]).orders;
    expect(o!.items).toHaveLength(MAX_ITEMS);
    expect(o!.itemCount).toBe(30);
    expect(o!.items[0]!.name).toHaveLength(MAX_NAME_CHARS);
  });

  it('a state with every field at its bound stays under MAX_STATE_BYTES', () => {
    const long = (c: string, n: number) => c.repeat(n);
    const products = Array.from({ length: 50 }, (_, i) => ({
      sku: `${i}${long('s', 126)}`,
      productId: long('p', 128),
      name: long('名', 512),
      priceMinor: 9e15,
      quantity: 4e9,
    }));
    const facts = Array.from({ length: MAX_ORDERS }, (_, i) => {
      const id = `${i}${long('o', 127)}`;
      return [
        placed(id, T0 + i, products),
        shipped(id, T0 + i + 1, `${i}`.padStart(64, '9')),
        ...Array.from({ length: 12 }, (_, k) => refunded(id, T0 + i + k, k + 1)),
      ];
    }).flat();
    const bytes = encodeOrders(applyAll(facts)).length;
    expect(bytes).toBeLessThan(MAX_STATE_BYTES);
  });
});

describe('order view: what it refuses', () => {
  it.each([
    ['a tracking number with markup', { trackingNumber: '<script>alert(1)</script>' }, /tracking_number/],
    ['a tracking number too short', { trackingNumber: 'SF1' }, /tracking_number/],
    ['a carrier with punctuation', { carrier: 'S.F!' }, /carrier/],
  ])('dead-letters an order_shipped with %s', (_what, over, detail) => {
    const e = envelope('order_shipped', {
      orderId: 'A',
      carrier: 'SF',
      trackingNumber: 'SF1234567890',
      ...over,
    });
    expect(orderFactOf(e, 'order_shipped')).toMatchObject({
      kind: 'dlq',
      reason: 'processing_failed',
      detail: expect.stringMatching(detail) as string,
    });
  });

  it('drops events that are not order events', () => {
    expect(orderFactOf(envelope('product_viewed', { product: sampleProduct }), 'product_viewed').kind).toBe(
      'drop',
    );
  });
});
