// The outcome of one batch: each event's result (accepted, duplicate, rejected with a typed reason),
// publishing the events in per-user order, and the HTTP status and body that answer the batch.
import type { EnvelopeInit } from '../../schemas/events';
import { EventValidationError, type ValidationIssue } from '../../schemas/validate';

export type EventStatus = 'accepted' | 'duplicate' | 'rejected';
export type RejectReason =
  | 'invalid_event'
  | 'unmappable'
  | 'publish_failed'
  /** A public write key sent an event only a server key may send. */
  | 'forbidden_event'
  /** The shop requires signed user tokens and this event's token is missing, wrong or expired. */
  | 'unauthenticated_user';

export interface EventResult {
  index: number;
  status: EventStatus;
  event_id?: string;
  reason?: RejectReason;
  errors?: ValidationIssue[];
  message?: string;
}

export interface BatchResponse {
  accepted: number;
  duplicates: number;
  rejected: number;
  results: EventResult[];
  /** Only on 503. */
  error?: 'publish_failed' | 'dead_letter_failed';
  message?: string;
}

/** Runs fn over items, at most `limit` at a time. fn must not throw. */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
}

/** Per-event results of one batch, and the rejected events still to dead-letter. */
export class Outcome {
  readonly results: EventResult[];
  readonly rejections: { index: number; detail: string }[] = [];
  constructor(size: number) {
    this.results = new Array<EventResult>(size);
  }

  settle(index: number, status: 'accepted' | 'duplicate', event_id: string): void {
    this.results[index] = { index, status, event_id };
  }

  reject(r: Omit<EventResult, 'status'> & { reason: RejectReason }, detail: string): void {
    this.results[r.index] = { ...r, status: 'rejected' };
    this.rejections.push({ index: r.index, detail: `${r.reason}: ${detail}` });
  }

  count(status: EventStatus): number {
    return this.results.filter((r) => r.status === status).length;
  }

  reasons(): Partial<Record<RejectReason, number>> {
    const out: Partial<Record<RejectReason, number>> = {};
    for (const r of this.results) if (r.reason) out[r.reason] = (out[r.reason] ?? 0) + 1;
    return out;
  }
}

export type UserQueue = { index: number; envelope: EnvelopeInit }[];

/**
 * Publishes each user's events one at a time in batch order, up to `concurrency` users at once. After a
 * publish failure no new publish starts in this batch (the stream is in trouble: the request is
 * answered within about one publish timeout rather than one per user), and that user's later events
 * are never sent ahead of the failed one. Returns the first publish error message, if any.
 */
export async function publishInOrder(
  queues: UserQueue[],
  publish: (envelope: EnvelopeInit) => Promise<{ duplicate: boolean }>,
  concurrency: number,
  outcome: Outcome,
): Promise<string | undefined> {
  let firstError: string | undefined;
  await forEachLimit(queues, concurrency, async (queue) => {
    let failed = false;
    for (const { index, envelope } of queue) {
      const event_id = envelope.eventId!;
      if (failed || firstError !== undefined) {
        const message = failed
          ? 'not sent: an earlier event of the same user in this batch failed to publish'
          : 'not sent: another event of this batch failed to publish; send it again later';
        outcome.reject(
          { index, event_id, reason: 'publish_failed', message },
          `${message}; event_id=${event_id}`,
        );
        continue;
      }
      try {
        const receipt = await publish(envelope);
        outcome.settle(index, receipt.duplicate ? 'duplicate' : 'accepted', event_id);
      } catch (err) {
        if (err instanceof EventValidationError) {
          outcome.reject(
            { index, event_id, reason: 'invalid_event', errors: err.issues },
            describe(err.issues),
          );
          continue;
        }
        failed = true;
        firstError ??= (err as Error).message;
        const message = 'the event could not be stored right now; send it again later';
        const detail = `${(err as Error).message}; event_id=${event_id}`;
        outcome.reject({ index, event_id, reason: 'publish_failed', message }, detail);
      }
    }
  });
  return firstError;
}

export function respond(outcome: Outcome, deadLetterErrors: number): { status: number; body: BatchResponse } {
  const body: BatchResponse = {
    accepted: outcome.count('accepted'),
    duplicates: outcome.count('duplicate'),
    rejected: outcome.count('rejected'),
    results: outcome.results,
  };
  if (deadLetterErrors > 0) {
    const message = `${deadLetterErrors} rejected event(s) could not be kept; send the batch again later`;
    return { status: 503, body: { ...body, error: 'dead_letter_failed', message } };
  }
  if ((outcome.reasons().publish_failed ?? 0) > 0 && body.accepted + body.duplicates === 0) {
    const message = 'no event could be stored right now; send the batch again later';
    return { status: 503, body: { ...body, error: 'publish_failed', message } };
  }
  return { status: 200, body };
}

export function describe(issues: ValidationIssue[]): string {
  return issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
}
