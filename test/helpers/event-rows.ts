// Events as the ClickHouse sink stores them, for report tests: built as envelopes, encoded and
// decoded (so only what the wire carries reaches the row), then mapped by the sink's own toEventRow.
import { decodeEnvelope, encodeEnvelope } from '../../schemas/codec';
import { channelValue, type EventType, type PayloadMap } from '../../schemas/events';
import { toEventRow, type EventRow } from '../../streams/sinks/clickhouse/rows';
import { buildEnvelope, sampleProduct } from './events';

export type Product = NonNullable<PayloadMap['product_viewed']['product']>;

export const product = (sku: string, priceMinor: number): Product => ({
  ...sampleProduct,
  sku,
  productId: sku,
  priceMinor,
});

/** A row maker for events at `t0 + atSeconds` (fractions allowed). */
export function eventRows(t0: number, producerId = 'test') {
  let seq = 0;
  return function ev<T extends EventType>(
    type: T,
    atSeconds: number,
    userId: string,
    payload: PayloadMap[T],
    opts: { channel?: string; producerId?: string; sessionId?: string } = {},
  ): EventRow {
    const init = buildEnvelope(
      type,
      {
        occurredAt: Math.round(t0 + atSeconds * 1000),
        producerId: opts.producerId ?? producerId,
        userId,
        ...(opts.channel ? { channel: channelValue(opts.channel) } : {}),
        ...(opts.sessionId ? { sessionId: opts.sessionId } : {}),
      },
      payload,
    );
    const decoded = decodeEnvelope(encodeEnvelope(init));
    if (!decoded.ok) throw new Error(`bad test envelope: ${decoded.detail}`);
    return toEventRow(decoded.envelope, decoded.type, ++seq);
  };
}
