// The interest model: decay on event time, order independence (replay = live), idempotence, weights.
import { decodeEnvelope, encodeEnvelope } from '../../schemas/codec';
import type { Envelope, EventType, EnvelopeInit } from '../../schemas/events';
import {
  advanceFloor,
  applyEvent,
  emptyState,
  topCategory,
  topInterests,
  valueAt,
  type ProfileState,
} from '../../streams/processors/interest/model';
import { decodeState, encodeState } from '../../streams/processors/interest/state-codec';
import { buildEnvelope } from '../helpers/events';
import { tinyCatalog as catalog } from '../helpers/tiny-catalog';

const HOUR = 3_600_000;
const halfLives = { shortMs: HOUR / 2, longMs: 14 * 24 * HOUR };
const T0 = Date.UTC(2026, 10, 1);
const f = (name: string): number => catalog.features.index.get(name)!;

function ev(
  type: EventType,
  at: number,
  payload: EnvelopeInit[keyof EnvelopeInit] | undefined = undefined,
): Envelope {
  const d = decodeEnvelope(
    encodeEnvelope(buildEnvelope(type, { occurredAt: at, userId: 'u1' }, payload as never)),
  );
  if (!d.ok) throw new Error(d.detail);
  return d.envelope;
}
const view = (sku: string, at: number): Envelope => ev('product_viewed', at, { product: { sku } });

function run(events: Envelope[], seqs = events.map((_, i) => i + 1)): ProfileState {
  const s = emptyState('shop-1', 'u1', catalog.features.size);
  events.forEach((e, i) => applyEvent(s, e, typeOf(e), seqs[i]!, catalog, halfLives));
  return s;
}
function typeOf(e: Envelope): EventType {
  return e.payload!.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) as EventType;
}

describe('interest vectors', () => {
  it('decay with the half-life on event time', () => {
    const s = run([view('PH-1', T0)]);
    const cat = f('category:phones');
    expect(valueAt(s.short, T0, halfLives.shortMs).get(0, cat)).toBeCloseTo(1, 12);
    expect(valueAt(s.short, T0 + HOUR / 2, halfLives.shortMs).get(0, cat)).toBeCloseTo(0.5, 12);
    expect(valueAt(s.long, T0 + 14 * 24 * HOUR, halfLives.longMs).get(0, cat)).toBeCloseTo(0.5, 12);
    // a second view one half-life later: old one counts half
    const s2 = run([view('PH-1', T0), view('PH-1', T0 + HOUR / 2)]);
    expect(valueAt(s2.short, T0 + HOUR / 2, halfLives.shortMs).get(0, cat)).toBeCloseTo(1.5, 12);
  });

  it('give the same vector for a replay in any order, and for late events (event time, not arrival)', () => {
    const events = [
      view('PH-1', T0),
      ev('products_searched', T0 + 60_000, { query: 'large power bank' }),
      ev('cart_item_added', T0 + 120_000, { cartId: 'c', product: { sku: 'PB-1' } }),
      view('CS-1', T0 + 3 * HOUR),
      ev('cart_item_removed', T0 + 4 * HOUR, { cartId: 'c', product: { sku: 'PB-1' } }),
      ev('order_placed', T0 + 5 * HOUR, { orderId: 'o', products: [{ sku: 'PH-1', quantity: 1 }] }),
    ];
    const live = run(events);
    const shuffled = [3, 0, 5, 1, 4, 2];
    // arriving in another order (late events): they reach the stream, and get sequences, in that order
    const replay = run(shuffled.map((i) => events[i]!));
    const at = T0 + 6 * HOUR;
    for (const h of ['short', 'long'] as const) {
      const a = valueAt(live[h], at, halfLives[`${h}Ms`]).getRow(0);
      const b = valueAt(replay[h], at, halfLives[`${h}Ms`]).getRow(0);
      b.forEach((x, i) => expect(x).toBeCloseTo(a[i]!, 9));
    }
    expect(replay.counters).toEqual(live.counters);
    expect(replay.purchased).toEqual(live.purchased);
  });

  it('survive storage: encode then decode changes nothing', () => {
    const s = run([view('PH-1', T0), ev('products_searched', T0 + 1, { query: '防摔 case' })]);
    const back = decodeState(encodeState(s, catalog.features), catalog.features);
    expect(back.long.row.getRow(0)).toEqual(s.long.row.getRow(0));
    expect({ ...back, short: 0, long: 0 }).toEqual({ ...s, short: 0, long: 0 });
  });

  it('never count a redelivered or re-published event twice', () => {
    const e = view('PH-1', T0);
    const s = emptyState('shop-1', 'u1', catalog.features.size);
    expect(applyEvent(s, e, 'product_viewed', 5, catalog, halfLives).applied).toBe(true);
    expect(applyEvent(s, e, 'product_viewed', 5, catalog, halfLives).applied).toBe(false); // redelivery
    expect(applyEvent(s, e, 'product_viewed', 9, catalog, halfLives).applied).toBe(false); // re-published
    // out of order (another instance is behind): a lower sequence not yet applied still counts
    expect(applyEvent(s, view('PH-2', T0), 'product_viewed', 3, catalog, halfLives).applied).toBe(true);
    expect(applyEvent(s, view('PH-2', T0 + 1), 'product_viewed', 3, catalog, halfLives).applied).toBe(false);
    expect(s.counters.views).toBe(2);
    // once the partition's ack floor passes them, the floor alone remembers them
    advanceFloor(s, 5);
    expect(s.appliedSeqs).toEqual([]);
    expect(applyEvent(s, view('PH-1', T0 + 2), 'product_viewed', 4, catalog, halfLives).applied).toBe(false);
    expect(applyEvent(s, view('PH-1', T0 + 2), 'product_viewed', 6, catalog, halfLives).applied).toBe(true);
  });

  it('weigh signals by strength: view < search < cart add < order; removal and refund push down', () => {
    const battery = f('attr:battery:long');
    const at = T0 + 1;
    const weightOf = (events: Envelope[]): number =>
      valueAt(run(events).long, at, halfLives.longMs).get(0, battery);
    const viewed = weightOf([view('PB-1', T0)]);
    const searched = weightOf([ev('products_searched', T0, { query: 'power bank' })]);
    const carted = weightOf([ev('cart_item_added', T0, { cartId: 'c', product: { sku: 'PB-1' } })]);
    const ordered = weightOf([ev('order_placed', T0, { orderId: 'o', products: [{ sku: 'PB-1' }] })]);
    expect(viewed).toBeLessThan(searched);
    expect(searched).toBeLessThan(carted);
    expect(carted).toBeLessThan(ordered);
    const addThenRemove = weightOf([
      ev('cart_item_added', T0, { cartId: 'c', product: { sku: 'PB-1' } }),
      ev('cart_item_removed', T0, { cartId: 'c', product: { sku: 'PB-1' } }),
    ]);
    expect(addThenRemove).toBeLessThan(carted);
    const refunded = weightOf([
      ev('order_placed', T0, { orderId: 'o', products: [{ sku: 'PB-1' }] }),
      ev('order_refunded', T0, { orderId: 'o', products: [{ sku: 'PB-1' }] }),
    ]);
    expect(refunded).toBeLessThan(ordered);
  });

  it('map search and chat text (English and Chinese) to features', () => {
    const s = run([
      ev('products_searched', T0, { query: '大容量充电宝' }),
      ev('chat_turn', T0 + 1, { conversationId: 'c', role: 1, text: 'is it drop-proof?' }),
    ]);
    const top = topInterests(s.short, T0 + 1, halfLives.shortMs, catalog, 3).map((x) => x.feature);
    expect(top).toEqual(expect.arrayContaining(['attr:battery:long', 'attr:durability:rugged']));
    // the bot's own words are not the customer's interest
    const bot = run([ev('chat_turn', T0, { conversationId: 'c', role: 2, text: 'our power bank is great' })]);
    expect(topInterests(bot.short, T0, halfLives.shortMs, catalog)).toEqual([]);
  });

  it('name the top long-term category', () => {
    const s = run([view('CM-1', T0), view('CB-1', T0 + 1), view('CM-1', T0 + 2), view('PH-1', T0 + 3)]);
    expect(topCategory(s, T0 + 4, halfLives, catalog)).toBe('coffee_machines');
  });
});

describe('time zone', () => {
  const zoned = (at: number, timeZone: string, seq?: number): [Envelope, number | undefined] => {
    const d = decodeEnvelope(
      encodeEnvelope(
        buildEnvelope(
          'product_viewed',
          { occurredAt: at, userId: 'u1', timeZone },
          { product: { sku: 'PH-1' } },
        ),
      ),
    );
    if (!d.ok) throw new Error(d.detail);
    return [d.envelope, seq];
  };
  const zoneAfter = (events: [Envelope, number | undefined][]): string | undefined =>
    run(
      events.map(([e]) => e),
      events.map(([, q], i) => q ?? i + 1),
    ).timeZone;

  it('given events with zones, then the zone of the latest by event time, whatever the arrival order', () => {
    const berlin = zoned(T0, 'Europe/Berlin');
    const shanghai = zoned(T0 + HOUR, 'Asia/Shanghai');
    expect(zoneAfter([berlin, shanghai])).toBe('Asia/Shanghai');
    expect(zoneAfter([shanghai, berlin])).toBe('Asia/Shanghai'); // the late Berlin event is older
    const s = run([shanghai[0], berlin[0]]);
    expect(s.timeZoneAt).toBe(T0 + HOUR);
    // a tie on event time is broken by the zone itself: still order independent
    expect(zoneAfter([zoned(T0, '+08:00'), zoned(T0, 'Asia/Tokyo')])).toBe(
      zoneAfter([zoned(T0, 'Asia/Tokyo'), zoned(T0, '+08:00')]),
    );
  });

  it('is kept by events without a zone, and never replaced by an unusable one', () => {
    expect(zoneAfter([zoned(T0, 'Asia/Shanghai'), zoned(T0 + HOUR, '')])).toBe('Asia/Shanghai');
    expect(zoneAfter([zoned(T0, '+08:00'), zoned(T0 + HOUR, 'Mars/Olympus_Mons')])).toBe('+08:00');
    expect(zoneAfter([zoned(T0, '')])).toBeUndefined();
  });

  it('is not taken from a redelivered event', () => {
    const s = emptyState('shop-1', 'u1', catalog.features.size);
    const [first] = zoned(T0, 'Asia/Shanghai');
    const [later] = zoned(T0 + HOUR, 'America/New_York');
    applyEvent(s, first, 'product_viewed', 1, catalog, halfLives);
    applyEvent(s, later, 'product_viewed', 2, catalog, halfLives);
    applyEvent(s, first, 'product_viewed', 1, catalog, halfLives); // redelivered: skipped
    expect(s.timeZone).toBe('America/New_York');
  });

  it('survives storage, and a state stored before zones existed decodes without one', () => {
    const s = run([zoned(T0, 'Europe/Berlin')[0]]);
    const back = decodeState(encodeState(s, catalog.features), catalog.features);
    expect(back.timeZone).toBe('Europe/Berlin');
    expect(back.timeZoneAt).toBe(T0);
    // written by the previous release: no timeZone, timeZoneAt or pendingTierChanges
    const old = {
      format: 1,
      shopId: 'shop-1',
      userKey: 'u1',
      short: { at: T0, values: { 'category:phones': 1 } },
      long: { at: T0, values: { 'category:phones': 1 } },
      counters: { ...s.counters },
      skus: {},
      compared: {},
      purchased: [],
      firstEventAt: T0,
      lastEventAt: T0,
      lastOrderAt: 0,
      lastCartAt: 0,
      lastCheckoutAt: 0,
      floor: 3,
      appliedSeqs: [5],
      recent: ['01KA0000000000000000000000'],
    };
    const decoded = decodeState(Buffer.from(JSON.stringify(old)), catalog.features);
    expect(decoded.timeZone).toBeUndefined();
    expect(decoded.timeZoneAt).toBeUndefined();
    expect(decoded.pendingTierChanges).toEqual([]);
    expect(decoded.floor).toBe(3);
    expect(valueAt(decoded.long, T0, halfLives.longMs).get(0, f('category:phones'))).toBe(1);
    // and takes a zone from the next event
    applyEvent(decoded, zoned(T0 + 1, 'Asia/Shanghai')[0], 'product_viewed', 6, catalog, halfLives);
    expect(decoded.timeZone).toBe('Asia/Shanghai');
  });
});

describe("the processor's own events", () => {
  it('ignores tier_changed: not applied, not counted, not remembered', () => {
    const s = run([view('PH-1', T0)]);
    const before = JSON.stringify(encodeState(s, catalog.features));
    const e = ev('tier_changed', T0 + 1, { tier: 'repeat', previousTier: 'new', reason: '2 orders' });
    expect(applyEvent(s, e, 'tier_changed', 7, catalog, halfLives)).toEqual({
      applied: false,
      ignored: true,
    });
    expect(JSON.stringify(encodeState(s, catalog.features))).toBe(before);
  });

  it("ignores the service's alert_changed (operators' events, no shopper's)", () => {
    const s = run([view('PH-1', T0)]);
    const before = JSON.stringify(encodeState(s, catalog.features));
    const e = ev('alert_changed', T0 + 1, { alert: 'NoEvents', state: 'firing', value: 6, threshold: 5 });
    expect(applyEvent(s, e, 'alert_changed', 8, catalog, halfLives)).toEqual({
      applied: false,
      ignored: true,
    });
    expect(JSON.stringify(encodeState(s, catalog.features))).toBe(before);
  });
});
