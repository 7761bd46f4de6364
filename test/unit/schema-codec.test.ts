import { decodeEnvelope, encodeEnvelope, envelopeToJson } from '../../schemas/codec';
import { EVENT_TYPES } from '../../schemas/events';
import { buildEnvelope } from '../helpers/events';

describe('codec', () => {
  it.each(EVENT_TYPES)('round-trips %s', (type) => {
    const env = buildEnvelope(type);
    const d = decodeEnvelope(encodeEnvelope(env));
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(d.type).toBe(type);
    expect(d.envelope.eventId).toBe(env.eventId);
    expect(d.envelope.occurredAt).toBe(env.occurredAt);
  });

  it('keeps int64 money and times as exact numbers', () => {
    const env = buildEnvelope(
      'order_placed',
      { occurredAt: 1_795_521_600_123 },
      {
        orderId: 'o',
        products: [{ sku: 's', priceMinor: 9_007_199_254_740_991 }],
        totalMinor: 123_456_789_012,
      },
    );
    const d = decodeEnvelope(encodeEnvelope(env));
    if (!d.ok) throw new Error(d.detail);
    expect(d.envelope.occurredAt).toBe(1_795_521_600_123);
    expect(d.envelope.orderPlaced?.totalMinor).toBe(123_456_789_012);
    expect(d.envelope.orderPlaced?.products?.[0]?.priceMinor).toBe(9_007_199_254_740_991);
  });

  it('says decode_failed for bytes that are not protobuf', () => {
    const d = decodeEnvelope(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]));
    expect(d).toMatchObject({ ok: false, reason: 'decode_failed' });
  });

  it('says invalid_event for an envelope without a payload', () => {
    const env = buildEnvelope('product_viewed');
    delete env.productViewed;
    expect(decodeEnvelope(encodeEnvelope(env))).toMatchObject({ ok: false, reason: 'invalid_event' });
    expect(decodeEnvelope(new Uint8Array(0))).toMatchObject({ ok: false, reason: 'invalid_event' });
  });

  it('renders enums by name in JSON', () => {
    const d = decodeEnvelope(encodeEnvelope(buildEnvelope('chat_turn')));
    if (!d.ok) throw new Error(d.detail);
    expect(envelopeToJson(d.envelope)).toMatchObject({
      channel: 'CHANNEL_WEB',
      chatTurn: { role: 'CHAT_ROLE_USER' },
    });
  });
});
