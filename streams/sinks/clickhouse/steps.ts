// The sink's steps, each pure and returning a StepResult.
import { decodeEnvelope } from '../../../schemas/codec';
import type { Envelope, EventType } from '../../../schemas/events';
import { validateEnvelope } from '../../../schemas/validate';
import { dlq, ok, type StepResult } from '../../results';
import { toEventRow, type CouponCodeView, type EventRow } from './rows';

export interface Decoded {
  envelope: Envelope;
  type: EventType;
}

export function decodeStep(bytes: Uint8Array): StepResult<Decoded> {
  const r = decodeEnvelope(bytes);
  if (!r.ok) return dlq(r.reason, r.detail);
  return ok({ envelope: r.envelope, type: r.type });
}

/** `receivedAt`: when the event reached the stream (its JetStream timestamp), bounding occurred_at. */
export function validateStep(d: Decoded, receivedAt?: number): StepResult<Decoded> {
  const issues = validateEnvelope(d.envelope, receivedAt === undefined ? {} : { receivedAt });
  if (issues.length > 0) return dlq('invalid_event', issues.map((i) => `${i.path}: ${i.message}`).join('; '));
  return ok(d);
}

export function decodeAndValidate(bytes: Uint8Array, receivedAt?: number): StepResult<Decoded> {
  const d = decodeStep(bytes);
  return d.kind === 'ok' ? validateStep(d.value, receivedAt) : d;
}

/** The row of a valid event; a row that cannot be built (never expected) is a dead letter, not a throw. */
export function rowStep(d: Decoded, streamSeq: number, couponView?: CouponCodeView): StepResult<EventRow> {
  try {
    return ok(toEventRow(d.envelope, d.type, streamSeq, couponView));
  } catch (err) {
    return dlq('invalid_event', `cannot build its row: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Decode, validate and row-building of one message: never throws. */
export function messageToRow(
  bytes: Uint8Array,
  streamSeq: number,
  receivedAt?: number,
  couponView?: CouponCodeView,
): StepResult<EventRow> {
  let d: StepResult<Decoded>;
  try {
    d = decodeAndValidate(bytes, receivedAt);
  } catch (err) {
    return dlq('decode_failed', err instanceof Error ? err.message : String(err));
  }
  return d.kind === 'ok' ? rowStep(d.value, streamSeq, couponView) : d;
}
