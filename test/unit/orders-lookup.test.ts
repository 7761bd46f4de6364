// Reading the order view for the bot: matching what the user typed, choosing the order, and the
// status sentence in Chinese and English (no server).
import { chooseOrder, describeOrder, matchOrder } from '../../streams/processors/orders/lookup';
import type { OrderView } from '../../streams/processors/orders/model';

const at = (month: number, day: number, hour = 10): number => Date.UTC(2026, month - 1, day, hour);

const base: OrderView = {
  orderId: 'A123',
  status: 'placed',
  at: { placed: at(6, 10) },
  items: [{ sku: 'PHO-0001', name: 'Orbit phone 12', quantity: 1, priceMinor: 129900 }],
  itemCount: 1,
  totalMinor: 129900,
  currency: 'CNY',
};
const shipped: OrderView = {
  ...base,
  status: 'shipped',
  at: { placed: at(6, 10), paid: at(6, 10, 11), shipped: at(6, 11) },
  shipment: {
    carrier: 'SF',
    trackingNumber: 'SF1234567890',
    shippedAt: at(6, 11),
    estimatedDeliveryAt: at(6, 13),
  },
};

describe('matchOrder', () => {
  const orders = [shipped, { ...base, orderId: 'o-77' }];
  it.each([
    ['the order id', 'A123'],
    ['the order id in lower case with a #', '#a123'],
    ['the tracking number', 'SF1234567890'],
    ['the tracking number in lower case with spaces', ' sf 1234 5678 90 '],
  ])('finds an order by %s', (_what, typed) => {
    expect(matchOrder(orders, typed)?.orderId).toBe('A123');
  });

  it('finds nothing for another number or empty text', () => {
    expect(matchOrder(orders, 'SF0000000000')).toBeUndefined();
    expect(matchOrder(orders, '  ')).toBeUndefined();
  });
});

describe('chooseOrder', () => {
  it('asks for the order only when none is named and there are several', () => {
    expect(chooseOrder([shipped, base])).toMatchObject({ kind: 'ask' });
    expect(chooseOrder([shipped])).toMatchObject({ kind: 'found', order: { orderId: 'A123' } });
    expect(chooseOrder([shipped, base], 'sf1234567890')).toMatchObject({ kind: 'found' });
    expect(chooseOrder([shipped], 'B9')).toEqual({ kind: 'not_found', reference: 'B9' });
    expect(chooseOrder([])).toEqual({ kind: 'no_orders' });
  });
});

describe('describeOrder', () => {
  it('says where a shipped order is, in Chinese and in English', () => {
    expect(describeOrder(shipped, 'zh')).toBe(
      '您的订单 A123 已于 6月11日 由顺丰速运发出，运单号 SF1234567890，预计 6月13日 送达。',
    );
    expect(describeOrder(shipped, 'en')).toBe(
      'Your order A123 shipped with SF Express on Jun 11, tracking SF1234567890, expected Jun 13.',
    );
  });

  it("reads dates on the user's calendar", () => {
    const late = { ...shipped, at: { ...shipped.at, shipped: at(6, 11, 20) } };
    expect(describeOrder(late, 'en', { timeZone: 'Asia/Shanghai' })).toContain('on Jun 12');
    expect(describeOrder({ ...late, timeZone: '+08:00' }, 'zh')).toContain('已于 6月12日');
  });

  it.each([
    [
      'placed',
      base,
      '您的订单 A123 已于 6月10日 下单，尚未付款。',
      'Your order A123 was placed on Jun 10 and is awaiting payment.',
    ],
    [
      'paid',
      { ...base, status: 'paid', at: { ...base.at, paid: at(6, 10, 11) } },
      '您的订单 A123 已于 6月10日 付款，正在备货，发货后会告诉您运单号。',
      'Your order A123 was paid on Jun 10 and is being prepared; we will share the tracking number once it ships.',
    ],
    [
      'delivered',
      { ...shipped, status: 'delivered', at: { ...shipped.at, delivered: at(6, 12) } },
      '您的订单 A123 已于 6月12日 送达（顺丰速运，运单号 SF1234567890）。',
      'Your order A123 was delivered on Jun 12 (SF Express, tracking SF1234567890).',
    ],
    [
      'refunded',
      { ...base, status: 'refunded', at: { ...base.at, refunded: at(6, 14) }, refundedMinor: 129900 },
      '您的订单 A123 已于 6月14日 退款 ¥1,299.00。',
      'Your order A123 was refunded CN¥1,299.00 on Jun 14.',
    ],
  ] as [string, OrderView, string, string][])('describes a %s order', (_s, view, zh, en) => {
    expect(describeOrder(view, 'zh')).toBe(zh);
    expect(describeOrder(view, 'en')).toBe(en);
  });

  it('shows an unknown carrier by its code, and no estimate when there is none', () => {
    const v = { ...shipped, shipment: { carrier: 'ACME', trackingNumber: 'AC123456', shippedAt: at(6, 11) } };
    expect(describeOrder(v, 'en')).toBe('Your order A123 shipped with ACME on Jun 11, tracking AC123456.');
    expect(describeOrder(v, 'zh')).toBe('您的订单 A123 已于 6月11日 由ACME发出，运单号 AC123456。');
  });
});
