// Tier changes, Given/When/Then: given these events, when this order (or refund) arrives, then this
// tier_changed event, or none.
import { loadConfig } from '../../infra/config';
import { decodeEnvelope, encodeEnvelope } from '../../schemas/codec';
import { channelValue, type Envelope, type EventType } from '../../schemas/events';
import { deriveEventId, isUlid } from '../../schemas/ulid';
import { validateEnvelope } from '../../schemas/validate';
import { advanceFloor, emptyState, type ProfileState } from '../../streams/processors/interest/model';
import { decodeState, encodeState } from '../../streams/processors/interest/state-codec';
import {
  applyAndTrackTier,
  INTEREST_PRODUCER_ID,
  tierChangedEnvelope,
  tierChangesFor,
} from '../../streams/processors/interest/tier-changes';
import { buildEnvelope } from '../helpers/events';
import { tinyCatalog as catalog } from '../helpers/tiny-catalog';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 1);
const halfLives = { shortMs: HOUR, longMs: 14 * 24 * HOUR };
const tiers = loadConfig({}).tiers; // repeat at 2 orders; high value at 5 orders or 1000.00

function event(type: EventType, at: number, payload: unknown): Envelope {
  const d = decodeEnvelope(
    encodeEnvelope(
      buildEnvelope(
        type,
        { shopId: 'shop-1', userId: 'u1', anonymousId: 'a1', occurredAt: at },
        payload as never,
      ),
    ),
  );
  if (!d.ok) throw new Error(d.detail);
  return d.envelope;
}
const order = (at: number, totalMinor = 1000): Envelope =>
  event('order_placed', at, { orderId: `o${at}`, products: [{ sku: 'PH-2' }], totalMinor });
const refund = (at: number, totalMinor = 1000): Envelope =>
  event('order_refunded', at, { orderId: `o${at}`, totalMinor });
const view = (at: number): Envelope => event('product_viewed', at, { product: { sku: 'PH-1' } });
const typeOf = (e: Envelope): EventType =>
  e.payload!.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) as EventType;

/** Applies events with stream sequences 1, 2, ...; returns the state and the changes, in order. */
function given(events: Envelope[]) {
  const s = emptyState('shop-1', 'u1', catalog.features.size);
  const changes = events.flatMap((e, i) => {
    const r = applyAndTrackTier(s, e, typeOf(e), i + 1, catalog, halfLives, tiers);
    return r.change ? [r.change] : [];
  });
  return { s, changes };
}
const when = (s: ProfileState, e: Envelope, seq: number) =>
  applyAndTrackTier(s, e, typeOf(e), seq, catalog, halfLives, tiers);

describe('tier_changed', () => {
  it('given one order, when the second arrives, then new -> repeat for that user, caused by that order', () => {
    const { s, changes } = given([view(T0), order(T0 + 1)]);
    expect(changes).toEqual([]); // the first tier, 'new', is not a change
    const second = order(T0 + 2);
    const r = when(s, second, 3);
    expect(r.change).toEqual({
      seq: 3,
      causeEventId: second.eventId,
      occurredAt: T0 + 2,
      userId: 'u1',
      anonymousId: 'a1',
      previousTier: 'new',
      tier: 'repeat',
      reason: '2 orders',
    });
    const e = tierChangedEnvelope('shop-1', r.change!);
    expect(e).toEqual({
      eventId: deriveEventId(T0 + 2, `shop-1:tier_changed:${second.eventId}`),
      schemaVersion: 1,
      shopId: 'shop-1',
      userId: 'u1',
      anonymousId: 'a1',
      channel: channelValue('server'),
      occurredAt: T0 + 2,
      sequence: 3,
      producerId: INTEREST_PRODUCER_ID,
      tierChanged: { tier: 'repeat', previousTier: 'new', reason: '2 orders' },
    });
    expect(isUlid(e.eventId!)).toBe(true);
    expect(validateEnvelope(e)).toEqual([]);
  });

  it('given four orders, when the fifth arrives, then repeat -> high_value with the thresholds in the reason', () => {
    const { s, changes } = given([1, 2, 3, 4].map((i) => order(T0 + i)));
    expect(changes.map((c) => `${c.previousTier}->${c.tier}`)).toEqual(['new->repeat']);
    const r = when(s, order(T0 + 5), 5);
    expect(r.change).toMatchObject({ previousTier: 'repeat', tier: 'high_value' });
    expect(r.change!.reason).toMatch(/^5 orders, 50\.00 spent \(thresholds: 5 orders or 1000\.00\)$/);
  });

  it('given no orders, when one big order arrives, then new -> high_value at once', () => {
    const { changes } = given([view(T0), order(T0 + 1, 150_000)]);
    expect(changes).toMatchObject([{ previousTier: 'new', tier: 'high_value' }]);
  });

  it('given a repeat customer, when a refund brings them back below, then repeat -> new', () => {
    const { s } = given([order(T0), order(T0 + 1)]);
    const r = when(s, refund(T0 + 2), 3);
    expect(r.change).toMatchObject({ previousTier: 'repeat', tier: 'new', reason: '1 order(s), below 2' });
  });

  it('nothing for events that keep the tier, nor for a redelivered order', () => {
    const { s } = given([order(T0)]);
    expect(when(s, view(T0 + 1), 2).change).toBeUndefined();
    const second = order(T0 + 2);
    expect(when(s, second, 3).change).toBeDefined();
    const again = when(s, second, 3);
    expect(again).toEqual({ applied: false }); // skipped by the watermark: no second change
    expect(s.pendingTierChanges).toHaveLength(1);
  });

  it('the same events give the same event, live or replayed (the clock plays no part)', () => {
    const events = [view(T0), order(T0 + 1), order(T0 + 2), view(T0 + 3)];
    const live = given(events).changes.map((c) => tierChangedEnvelope('shop-1', c));
    const replay = given(events).changes.map((c) => tierChangedEnvelope('shop-1', c));
    expect(replay).toEqual(live);
    expect(live).toHaveLength(1);
  });

  it('stays pending (stored with the state) until the ack floor passes its causing message', () => {
    const { s } = given([order(T0), order(T0 + 1)]); // the change is caused by seq 2
    const back = decodeState(encodeState(s, catalog.features), catalog.features);
    expect(tierChangesFor(back, new Set([2]))).toHaveLength(1); // redelivered: publish it again
    expect(tierChangesFor(back, new Set([1, 3]))).toEqual([]); // other messages: not theirs
    advanceFloor(back, 1);
    expect(back.pendingTierChanges).toHaveLength(1);
    advanceFloor(back, 2); // acked, hence published
    expect(back.pendingTierChanges).toEqual([]);
  });

  it('a tier_changed event coming back to the processor changes nothing', () => {
    const { s } = given([order(T0), order(T0 + 1)]);
    const echo = event('tier_changed', T0 + 1, { tier: 'repeat', previousTier: 'new', reason: '2 orders' });
    expect(when(s, echo, 3)).toEqual({ applied: false, ignored: true });
    expect(s.counters.events).toBe(2);
    expect(s.pendingTierChanges).toHaveLength(1);
  });
});
