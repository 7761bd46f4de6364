// The dead-letter copy of a rejected event (bounded, keyed so a resent batch keeps it once) and the
// timeout its publish gets.
import { createHash } from 'node:crypto';
import type { DeadLetter } from '../dlq';
import { boundedJson } from './bounded-json';

/** Longest dead-letter copy of a rejected event: well under NATS's 1 MiB max payload with headers. */
export const DEAD_LETTER_MAX_BYTES = 256 * 1024;

/** p, or a rejection after `ms` (p itself is left to settle on its own). */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The event's JSON as received (with a Segment batch-level context merged in, so it stands alone),
 * whatever its depth. A copy larger than DEAD_LETTER_MAX_BYTES is cut there, and the detail says so:
 * a dead letter must always fit in a NATS message, or the good events of its batch would be retried.
 */
export function deadLetterFor(raw: unknown, detail: string, shopId: string, position: string): DeadLetter {
  const { text, truncated } = boundedJson(raw, DEAD_LETTER_MAX_BYTES);
  const data = Buffer.from(text, 'utf8');
  const note = truncated
    ? ` [dead-letter copy truncated to its first ${data.length} bytes; the event was larger]`
    : '';
  // A resent batch dead-letters the same event once (within the DLQ duplicate window): keyed by its
  // JSON, or, for a cut copy, by the request body and the event's place in it.
  const id = createHash('sha256').update(shopId).update('\0');
  if (truncated) id.update('truncated\0').update(position);
  else id.update(data);
  return {
    reason: 'collector_rejected',
    detail: `${detail.slice(0, 800)}${note}`,
    data,
    contentType: 'application/json',
    shopId,
    sourceSubject: 'http:/v1/events',
    msgId: `collector:${id.digest('hex')}`,
  };
}
