// Hostile traffic for the chaos scenarios, published straight to the events stream (what a buggy or
// malicious producer could send, past the collector's checks): bytes that are not protobuf, valid
// envelopes whose event breaks a schema rule (a 500-character sku), and good events among them.
// Deterministic for a seed. Afterwards the good ones must be stored and every bad one dead-lettered.
import { encodeEnvelope } from '../schemas/codec';
import { channelValue, SCHEMA_VERSION } from '../schemas/events';
import { newEventId } from '../schemas/ulid';
import { mulberry32 } from '../demo/random';
import { eventSubject, partitionOf } from '../streams/topology';

export interface HostileMessage {
  subject: string;
  data: Uint8Array;
  msgId: string;
  /** It should be stored (a good event); otherwise dead-lettered. */
  good: boolean;
}

export const HOSTILE_SHOP = 'chaos-fuzz';
export const HOSTILE_PRODUCER = 'chaos-fuzz';

export function hostileMessages(
  n: number,
  seed: number,
  prefix: string,
  partitions: number,
): HostileMessage[] {
  const rnd = mulberry32(seed);
  const out: HostileMessage[] = [];
  for (let i = 0; i < n; i++) {
    const userId = `f${i % 211}`;
    const partition = partitionOf(HOSTILE_SHOP, userId, partitions);
    const subject = eventSubject(prefix, partition, 'product_viewed');
    const kind = rnd();
    if (kind < 0.4) {
      const bytes = new Uint8Array(1 + Math.floor(rnd() * 200));
      for (let b = 0; b < bytes.length; b++) bytes[b] = Math.floor(rnd() * 256);
      out.push({ subject, data: bytes, msgId: `garbage-${seed}-${i}`, good: false });
      continue;
    }
    const good = kind >= 0.7;
    const eventId = newEventId();
    const data = encodeEnvelope({
      eventId,
      schemaVersion: SCHEMA_VERSION,
      shopId: HOSTILE_SHOP,
      userId,
      sessionId: `s-${userId}`,
      channel: channelValue('web'),
      occurredAt: Date.now() - 60_000,
      sequence: i + 1,
      producerId: HOSTILE_PRODUCER,
      productViewed: {
        product: { sku: good ? `SKU-${i % 50}` : 'X'.repeat(500), priceMinor: 100 + i },
        currency: 'USD',
      },
    });
    out.push({ subject, data, msgId: eventId, good });
  }
  return out;
}
