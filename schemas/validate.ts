// Validation driven by the annotations in the .proto files ((required), (min), (max_len)) plus the
// few envelope rules that span fields. Pure: no I/O, used by the producer SDK, the collector and the
// sink alike, so an event is judged the same everywhere.
import { describeSchema, ENVELOPE_TYPE, type MessageRule, type SchemaDescription } from './codec';
import { isUlid } from './ulid';
import type { EnvelopeInit } from './events';

export type IssueCode = 'required' | 'min' | 'max_len' | 'format' | 'enum' | 'type';

export interface ValidationIssue {
  /** dotted path in proto (snake_case) names, e.g. `cart_item_added.product.sku` */
  path: string;
  code: IssueCode;
  message: string;
}

export class EventValidationError extends Error {
  override readonly name = 'EventValidationError';
  readonly code = 'EVENT_INVALID';
  constructor(readonly issues: ValidationIssue[]) {
    super(`invalid event: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  }
}

let schema: SchemaDescription | undefined;
const getSchema = (): SchemaDescription => (schema ??= describeSchema());

const EARLIEST_MS = Date.UTC(2000, 0, 1);
const CURRENCY_RE = /^[A-Z]{3}$/;

function isEmpty(v: unknown): boolean {
  return (
    v === undefined ||
    v === null ||
    v === '' ||
    v === 0 ||
    (Array.isArray(v) && v.length === 0) ||
    (typeof v === 'object' &&
      !Array.isArray(v) &&
      !(v instanceof Uint8Array) &&
      Object.keys(v).length === 0 &&
      false)
  );
}

function checkMessage(
  rule: MessageRule,
  value: Record<string, unknown>,
  prefix: string,
  out: ValidationIssue[],
): void {
  const s = getSchema();
  for (const f of rule.fields) {
    const path = prefix ? `${prefix}.${f.name}` : f.name;
    const v = value[f.jsName];
    if (f.oneof) {
      // oneof members are checked only when set; the envelope rule below requires one payload
      if (v === undefined || v === null) continue;
    }
    if (f.required && isEmpty(v)) {
      out.push({ path, code: 'required', message: 'is required' });
      continue;
    }
    if (v === undefined || v === null) continue;
    const items: unknown[] = f.repeated ? (Array.isArray(v) ? v : [v]) : [v];
    if (f.repeated && !Array.isArray(v)) {
      out.push({ path, code: 'type', message: 'must be a list' });
      continue;
    }
    items.forEach((item, i) => {
      const p = f.repeated ? `${path}[${i}]` : path;
      if (f.kind === 'message') {
        if (typeof item !== 'object' || item === null) {
          out.push({ path: p, code: 'type', message: 'must be an object' });
          return;
        }
        checkMessage(s.messages[f.typeName!]!, item as Record<string, unknown>, p, out);
        return;
      }
      if (f.kind === 'enum') {
        const values = Object.values(s.enums[f.typeName!]!);
        if (typeof item !== 'number' || !values.includes(item)) {
          out.push({ path: p, code: 'enum', message: `is not a known ${f.typeName!.split('.').pop()}` });
        }
        return;
      }
      if (f.type === 'string') {
        if (typeof item !== 'string') {
          out.push({ path: p, code: 'type', message: 'must be a string' });
          return;
        }
        if (f.maxLen !== undefined && item.length > f.maxLen) {
          out.push({ path: p, code: 'max_len', message: `is longer than ${f.maxLen} characters` });
        }
        if (f.name === 'currency' && item !== '' && !CURRENCY_RE.test(item)) {
          out.push({ path: p, code: 'format', message: 'must be an ISO 4217 code such as USD or CNY' });
        }
        return;
      }
      if (f.type === 'bool') {
        if (typeof item !== 'boolean') out.push({ path: p, code: 'type', message: 'must be true or false' });
        return;
      }
      if (f.type !== 'bytes') {
        if (typeof item !== 'number' || !Number.isFinite(item)) {
          out.push({ path: p, code: 'type', message: 'must be a number' });
          return;
        }
        const integer = !['double', 'float'].includes(f.type);
        if (integer && !Number.isSafeInteger(item)) {
          out.push({ path: p, code: 'type', message: 'must be a whole number' });
          return;
        }
        const unsigned = f.type.startsWith('uint') || f.type.startsWith('fixed');
        const min = f.min ?? (unsigned ? 0 : undefined);
        if (min !== undefined && item < min)
          out.push({ path: p, code: 'min', message: `must be at least ${min}` });
      }
    });
  }
}

/** Every problem with an envelope, in field order; empty when it is valid. */
export function validateEnvelope(envelope: EnvelopeInit): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  const s = getSchema();
  checkMessage(s.messages[ENVELOPE_TYPE]!, envelope as unknown as Record<string, unknown>, '', out);
  const e = envelope as Record<string, unknown>;
  if (typeof envelope.eventId === 'string' && envelope.eventId !== '' && !isUlid(envelope.eventId)) {
    out.push({
      path: 'event_id',
      code: 'format',
      message: 'must be a ULID (26 characters, Crockford base32)',
    });
  }
  if (!envelope.userId && !envelope.anonymousId) {
    out.push({ path: 'user_id', code: 'required', message: 'user_id or anonymous_id is required' });
  }
  if (
    typeof envelope.occurredAt === 'number' &&
    envelope.occurredAt > 0 &&
    envelope.occurredAt < EARLIEST_MS
  ) {
    out.push({ path: 'occurred_at', code: 'min', message: 'must be epoch milliseconds after 2000-01-01' });
  }
  const payloads = s.messages[ENVELOPE_TYPE]!.oneofs['payload']!;
  const set = payloads.filter((name) => {
    const js = name.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
    return e[js] !== undefined && e[js] !== null;
  });
  if (set.length === 0)
    out.push({ path: 'payload', code: 'required', message: 'exactly one payload is required' });
  if (set.length > 1)
    out.push({ path: 'payload', code: 'type', message: `only one payload allowed, got ${set.join(', ')}` });
  return out;
}

export function assertValidEnvelope(envelope: EnvelopeInit): void {
  const issues = validateEnvelope(envelope);
  if (issues.length > 0) throw new EventValidationError(issues);
}
