// What can go wrong in the interest processor, and which of it retrying can fix: the NATS errors that
// mean "not now" (the batch is retried), the errors of a profile that cannot be stored (its events are
// dead-lettered) and the dead-letter id of such an event. Pure.
import type { JsMsg } from 'nats';
import type { Envelope, EventType } from '../../../schemas/events';

export interface Item {
  m: JsMsg;
  e: Envelope;
  type: EventType;
  /** When the message reached JetStream (epoch ms): bounds the event's time (model.ts). */
  arrivedAt: number;
}

/** NATS error codes that say "not now" rather than "never": the batch is retried. */
const TRANSIENT_CODES = new Set<string>([
  'TIMEOUT',
  '503',
  '408',
  'CONNECTION_CLOSED',
  'CONNECTION_DRAINING',
  'CONNECTION_REFUSED',
  'CONNECTION_TIMEOUT',
  'DISCONNECT',
  'AUTHORIZATION_VIOLATION',
  'PERMISSIONS_VIOLATION',
  'INTEREST_WRITE_CONFLICT',
]);

/**
 * Whether retrying later can fix an error: NATS unavailable, slow or misconfigured for everyone,
 * a JetStream 5xx, compare-and-set lost too often. Anything else (a value too large, a state that
 * does not decode, a 4xx from JetStream) is about the one user's data.
 */
export function isTransientError(err: unknown): boolean {
  const e = err as { code?: unknown; api_error?: { code?: number }; cause?: unknown } | undefined;
  if (TRANSIENT_CODES.has(String(e?.code))) return true;
  if ((e?.api_error?.code ?? 0) >= 500) return true;
  return e?.cause !== undefined && e.cause !== err ? isTransientError(e.cause) : false;
}

/** The dead-letter message id of a message the interest processor gave up on: one per stream sequence. */
export const interestDeadLetterId = (seq: number): string => `interest-processor:${seq}`;

export class ProcessorError extends Error {
  override readonly name = 'ProcessorError';
  readonly code = 'INTEREST_WRITE_CONFLICT';
}

/** A user's profile write failed for a reason retrying will not fix (the cause says which). */
export class UnstorableProfileError extends Error {
  override readonly name = 'UnstorableProfileError';
  readonly code = 'INTEREST_PROFILE_UNSTORABLE';
  constructor(
    /** The events the write would have applied: to dead-letter. */
    readonly pending: Item[],
    /** Events of the batch that were already applied (stored before). */
    readonly alreadyApplied: number,
    cause: unknown,
  ) {
    super(`profile could not be stored: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
}
