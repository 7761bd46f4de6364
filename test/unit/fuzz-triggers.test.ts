// Property-based fuzzing of the triggers' input: any event the decoder and validation let through
// gives each trigger a decision without throwing, and a conversation record built from any turns stays
// under what a KV value may hold (the server's 1 MiB max_payload). FUZZ_RUNS cases.
import fc from 'fast-check';
import { decodeEnvelope, encodeEnvelope } from '../../schemas/codec';
import { validateEnvelope } from '../../schemas/validate';
import { mapIncomingEvent } from '../../streams/collector/mapping';
import { triggerFor as cartTriggerFor } from '../../streams/triggers/cart-triggers';
import { couponTriggerFor } from '../../streams/triggers/coupon-triggers';
import {
  addTurn,
  emptyConversation,
  encodeConversation,
  MAX_TURNS,
  triggerFor as chatTriggerFor,
} from '../../streams/triggers/escalation-triggers';
import { FUZZ_NOW, fuzzParams, hostileString, hostileTime } from '../../chaos/fuzz';

const ctx = { shopId: 'shop-1', receivedAt: FUZZ_NOW, producerId: 'fuzz', sequence: 1 };
const KV_MAX_VALUE = 1024 * 1024;

const text = fc.oneof(fc.constantFrom('c-1', 'conv-1', 'o-1', 'PH-1'), hostileString);
const chatText = fc.oneof(
  hostileString,
  fc.constantFrom('\u0000', '"', '💥', '\u2028').map((c) => c.repeat(8192 / c.length)),
);
const native = fc.oneof(
  fc.record({
    type: fc.constant('cart_item_added'),
    properties: fc.record({ cart_id: text, product: fc.record({ sku: text }) }),
  }),
  fc.record({
    type: fc.constant('cart_item_removed'),
    properties: fc.record({ cart_id: text, product: fc.record({ sku: text }), cart_total_minor: fc.nat() }),
  }),
  fc.record({ type: fc.constant('checkout_started'), properties: fc.record({ cart_id: text }) }),
  fc.record({
    type: fc.constant('order_placed'),
    properties: fc.record({ order_id: text, cart_id: text, coupon_code: text, total_minor: fc.nat() }),
  }),
  fc.record({
    type: fc.constant('chat_turn'),
    properties: fc.record({
      conversation_id: text,
      role: fc.constantFrom('user', 'bot', 'agent'),
      text: chatText,
      turn_index: fc.nat({ max: 1000 }),
    }),
  }),
  fc.record({
    type: fc.constant('handoff_requested'),
    properties: fc.record({ conversation_id: text, reason: text }),
  }),
  fc.record({
    type: fc.constant('agent_accepted'),
    properties: fc.record({ conversation_id: text, agent_id: text }),
  }),
  fc.record({
    type: fc.constant('conversation_closed'),
    properties: fc.record({ conversation_id: text, reason: text }),
  }),
);

const chatTurn = fc.record({
  type: fc.constant('chat_turn'),
  properties: fc.record({
    conversation_id: fc.constant('conv-1'),
    role: fc.constantFrom('user', 'bot', 'agent'),
    text: chatText,
    turn_index: fc.nat({ max: 1000 }),
  }),
});

const acceptedOf = (raws: fc.Arbitrary<Record<string, unknown>>, times: fc.Arbitrary<unknown>) =>
  fc.tuple(raws, times).map(([raw, occurred_at]) => {
    const m = mapIncomingEvent({ ...raw, occurred_at, user_id: 'u-1', channel: 'web' }, ctx);
    if (!m.ok) return undefined;
    const d = decodeEnvelope(encodeEnvelope(m.envelope));
    return d.ok && validateEnvelope(d.envelope).length === 0 ? d : undefined;
  });
const accepted = acceptedOf(native, hostileTime);
const acceptedTurn = acceptedOf(chatTurn, fc.integer({ min: FUZZ_NOW - 86_400_000, max: FUZZ_NOW }));

it('fuzz: every trigger decides on any accepted event without throwing', () => {
  fc.assert(
    fc.property(accepted, (d) => {
      if (!d) return;
      expect(cartTriggerFor(d.envelope, d.type).kind).toEqual(expect.any(String));
      expect(couponTriggerFor(d.envelope, d.type, { streamTime: FUZZ_NOW }).kind).toEqual(expect.any(String));
      expect(chatTriggerFor(d.envelope, d.type).kind).toEqual(expect.any(String));
    }),
    fuzzParams(),
  );
});

it('fuzz: a conversation record of any turns fits in a KV value', () => {
  fc.assert(
    fc.property(fc.array(acceptedTurn, { minLength: MAX_TURNS, maxLength: MAX_TURNS + 10 }), (ds) => {
      let record = emptyConversation('shop-1', 'conv-1', 'u-1');
      for (const d of ds) {
        if (!d) continue;
        const a = chatTriggerFor(d.envelope, d.type);
        if (a.kind === 'turn') record = addTurn(record, a.turn) ?? record;
      }
      expect(encodeConversation(record).length).toBeLessThan(KV_MAX_VALUE);
    }),
    fuzzParams(Math.ceil(fuzzParams().numRuns! / 20)),
  );
});
