import { couponRef } from '../../coupons/coupon-ledger';
import { decodeEnvelope, encodeEnvelope } from '../../schemas/codec';
import { toEventRow } from '../../streams/sinks/clickhouse/rows';
import { buildEnvelope, samplePayloads } from '../helpers/events';

const CODE = 'K7QF-3M9T-XW2P';
const SECRET = 's'.repeat(32);

function rowOf(type: 'order_placed' | 'coupon_redeemed', couponCode: string, view?: (c: string) => string) {
  const d = decodeEnvelope(encodeEnvelope(buildEnvelope(type, {}, { ...samplePayloads[type], couponCode })));
  if (!d.ok) throw new Error(d.detail);
  return toEventRow(d.envelope, d.type, 1, view);
}

describe('coupon codes in the events table', () => {
  it("an order's code is stored as its keyed ref, in the column and in properties", () => {
    const row = rowOf('order_placed', CODE, (c) => couponRef(SECRET, c));
    expect(row.coupon_code).toBe(couponRef(SECRET, CODE));
    expect(row.coupon_code).toMatch(/^cr_[0-9a-z]{20}$/);
    expect(JSON.stringify(row)).not.toContain(CODE);
    expect(JSON.parse(row.properties)).toMatchObject({ coupon_code: couponRef(SECRET, CODE) });
  });

  it('without the secret the code is masked; a ref a flow already wrote is kept', () => {
    const masked = rowOf('order_placed', CODE);
    expect(masked.coupon_code).toBe('K7QF***');
    expect(masked.properties).not.toContain(CODE);
    const ref = couponRef(SECRET, CODE);
    expect(rowOf('coupon_redeemed', ref, () => 'changed').coupon_code).toBe(ref);
  });
});

describe('shipment events in the events table', () => {
  it('an order_shipped row carries the order id in its column, the carrier and tracking in properties', () => {
    const d = decodeEnvelope(encodeEnvelope(buildEnvelope('order_shipped')));
    if (!d.ok) throw new Error(d.detail);
    const row = toEventRow(d.envelope, d.type, 7);
    expect(row).toMatchObject({ event_type: 'order_shipped', order_id: 'o1', stream_seq: 7 });
    expect(JSON.parse(row.properties)).toMatchObject({ carrier: 'SF', tracking_number: 'SF1234567890' });
  });
});
