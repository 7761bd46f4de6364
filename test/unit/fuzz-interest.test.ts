// Property-based fuzzing of the interest processor's input: any sequence of events the decoder and
// validation let through (mapped from good and hostile client events), applied in any order with
// redeliveries, arrival times and far-future dates, never throws, keeps every vector finite, keeps
// the stored state under its size bound, and applies each message once. FUZZ_RUNS sequences.
import fc from 'fast-check';
import { decodeEnvelope, encodeEnvelope } from '../../schemas/codec';
import type { Envelope, EventType } from '../../schemas/events';
import { validateEnvelope } from '../../schemas/validate';
import { mapIncomingEvent } from '../../streams/collector/mapping';
import { applyEvent, emptyState } from '../../streams/processors/interest/model';
import {
  encodeStateBounded,
  MAX_STATE_BYTES,
  StateTooLargeError,
} from '../../streams/processors/interest/state-codec';
import { FUZZ_NOW, fuzzParams, hostileString, hostileTime } from '../../chaos/fuzz';
import { tinyCatalog as catalog } from '../helpers/tiny-catalog';

const HOUR = 3_600_000;
const halfLives = { shortMs: HOUR / 2, longMs: 14 * 24 * HOUR };
const ctx = { shopId: 'shop-1', receivedAt: FUZZ_NOW, producerId: 'fuzz', sequence: 1 };

const text = fc.oneof(fc.constantFrom('PH-1', 'PH-2', 'phones', 'long battery 大容量'), hostileString);
const product = fc.record({ sku: text, category: text, price_minor: fc.integer({ min: 0, max: 1e9 }) });
const properties: Record<string, fc.Arbitrary<Record<string, unknown>>> = {
  product_viewed: fc.record({ product }),
  products_searched: fc.record({ query: text }),
  cart_item_added: fc.record({ cart_id: text, product }),
  cart_item_removed: fc.record({ cart_id: text, product }),
  checkout_started: fc.record({ cart_id: text, products: fc.array(product, { maxLength: 5 }) }),
  order_placed: fc.record({
    order_id: fc.oneof(fc.constantFrom('o-1', 'o-2'), text),
    products: fc.array(product, { maxLength: 5 }),
    total_minor: fc.integer({ min: 0, max: 1e9 }),
  }),
  order_refunded: fc.record({ order_id: text, total_minor: fc.integer({ min: 0, max: 1e9 }) }),
  chat_turn: fc.record({ conversation_id: text, role: fc.constant('user'), text }),
  user_identified: fc.record({ traits: fc.array(fc.record({ name: text, value: text }), { maxLength: 80 }) }),
};

/** A native client event of one user, as the collector would map it; undefined when it is refused. */
const event: fc.Arbitrary<{ e: Envelope; type: EventType } | undefined> = fc
  .constantFrom(...Object.keys(properties))
  .chain((type) =>
    fc.record({
      type: fc.constant(type),
      occurred_at: fc.oneof(hostileTime, fc.integer({ min: FUZZ_NOW - 40 * 86_400_000, max: FUZZ_NOW })),
      properties: properties[type]!,
    }),
  )
  .map((raw) => {
    const m = mapIncomingEvent({ ...raw, user_id: 'u-1', channel: 'web' }, ctx);
    if (!m.ok) return undefined;
    const d = decodeEnvelope(encodeEnvelope(m.envelope));
    return d.ok && validateEnvelope(d.envelope).length === 0 ? { e: d.envelope, type: d.type } : undefined;
  });

const finite = (xs: number[]): boolean => xs.every((x) => Number.isFinite(x));

it('fuzz: any sequence of accepted events keeps a profile finite, bounded and applied once', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(event, fc.integer({ min: -3 * 86_400_000, max: 3 * 86_400_000 })), {
        maxLength: 60,
      }),
      (items) => {
        const s = emptyState('shop-1', 'u-1', catalog.features.size);
        const accepted = items.filter(([x]) => x !== undefined) as [
          { e: Envelope; type: EventType },
          number,
        ][];
        accepted.forEach(([{ e, type }, skew], i) =>
          applyEvent(s, e, type, i + 1, catalog, halfLives, FUZZ_NOW + skew),
        );
        expect(finite(s.short.row.to1DArray())).toBe(true);
        expect(finite(s.long.row.to1DArray())).toBe(true);
        let first: Uint8Array;
        try {
          first = encodeStateBounded(s, catalog.features).bytes;
        } catch (err) {
          expect(err).toBeInstanceOf(StateTooLargeError); // the processor dead-letters that user alone
          return;
        }
        expect(first.length).toBeLessThanOrEqual(MAX_STATE_BYTES);
        // every message redelivered: nothing changes
        accepted.forEach(([{ e, type }, skew], i) =>
          expect(applyEvent(s, e, type, i + 1, catalog, halfLives, FUZZ_NOW + skew).applied).toBe(false),
        );
        expect(Buffer.from(encodeStateBounded(s, catalog.features).bytes)).toEqual(Buffer.from(first));
      },
    ),
    fuzzParams(Math.ceil(fuzzParams().numRuns! / 10)),
  );
});
