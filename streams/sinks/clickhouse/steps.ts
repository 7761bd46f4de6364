// The sink's steps, each pure and returning a StepResult.
import { decodeEnvelope } from '../../../schemas/codec';
import type { Envelope, EventType } from '../../../schemas/events';
import { validateEnvelope } from '../../../schemas/validate';
import { dlq, ok, type StepResult } from '../../results';

export interface Decoded {
  envelope: Envelope;
  type: EventType;
}

export function decodeStep(bytes: Uint8Array): StepResult<Decoded> {
  const r = decodeEnvelope(bytes);
  if (!r.ok) return dlq(r.reason, r.detail);
  return ok({ envelope: r.envelope, type: r.type });
}

export function validateStep(d: Decoded): StepResult<Decoded> {
  const issues = validateEnvelope(d.envelope);
  if (issues.length > 0) return dlq('invalid_event', issues.map((i) => `${i.path}: ${i.message}`).join('; '));
  return ok(d);
}

export function decodeAndValidate(bytes: Uint8Array): StepResult<Decoded> {
  const d = decodeStep(bytes);
  return d.kind === 'ok' ? validateStep(d.value) : d;
}
