// Property-based fuzzing of the order view's input: any sequence of order events the collector maps and
// validation lets through, applied in any order and again (redeliveries), never throws, gives the same
// orders whatever the order of arrival, changes nothing the second time, and stays under its size bound.
import fc from 'fast-check';
import { decodeEnvelope, encodeEnvelope } from '../../schemas/codec';
import { validateEnvelope } from '../../schemas/validate';
import { mapIncomingEvent } from '../../streams/collector/mapping';
import {
  applyFact,
  emptyOrders,
  encodeOrders,
  MAX_STATE_BYTES,
  orderFactOf,
  type OrderFact,
  type OrdersState,
} from '../../streams/processors/orders/model';
import { FUZZ_NOW, fuzzParams, orderLifecycleEvent } from '../../chaos/fuzz';

const ctx = { shopId: 'shop-1', receivedAt: FUZZ_NOW, producerId: 'fuzz', sequence: 1 };

/** The order fact of an event as the processor would see it; undefined when refused or invalid. */
const fact: fc.Arbitrary<OrderFact | undefined> = orderLifecycleEvent.map((raw) => {
  const m = mapIncomingEvent(raw, ctx);
  if (!m.ok) return undefined;
  const d = decodeEnvelope(encodeEnvelope(m.envelope));
  if (!d.ok || validateEnvelope(d.envelope, { receivedAt: FUZZ_NOW }).length > 0) return undefined;
  const f = orderFactOf(d.envelope, d.type);
  return f.kind === 'ok' ? f.value : undefined;
});

function applyAll(facts: OrderFact[]): OrdersState {
  let s = emptyOrders('shop-1', 'u-1');
  for (const f of facts) {
    const out = applyFact(s, f);
    if (out.kind === 'applied') s = out.state;
  }
  return s;
}

it('fuzz: order events in any order, redelivered, give one bounded view', () => {
  fc.assert(
    fc.property(
      fc.array(fact, { maxLength: 40 }).chain((xs) => {
        const facts = xs.filter((x): x is OrderFact => x !== undefined);
        return fc.tuple(fc.constant(facts), fc.shuffledSubarray(facts, { minLength: facts.length }));
      }),
      ([facts, shuffled]) => {
        const s = applyAll(facts);
        expect(applyAll(shuffled).orders).toEqual(s.orders);
        for (const f of facts) expect(applyFact(s, f).kind).not.toBe('applied');
        expect(encodeOrders(s).length).toBeLessThanOrEqual(MAX_STATE_BYTES);
        for (const o of s.orders) {
          expect(Object.keys(o.at).length).toBeGreaterThan(0);
          if (o.status === 'delivered') expect(o.at.delivered).toBeDefined();
        }
      },
    ),
    fuzzParams(Math.ceil(fuzzParams().numRuns! / 4)),
  );
});
