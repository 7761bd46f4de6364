// Validation driven by the annotations in the .proto files ((required), (min), (max_len)) plus the
// few envelope rules that span fields. Pure: no I/O, used by the producer SDK, the collector and the
// sink alike, so an event is judged the same everywhere.
//
// Every field is bounded, whether or not the proto annotates it, so a valid event can always be
// encoded, held in a Date and stored in ClickHouse: strings are well-formed Unicode (no lone
// surrogates), numbers fit their proto type (uint32 / int32 / float ranges, int64 as safe integers),
// lists hold at most MAX_REPEATED items, and occurred_at lies between 2000 and OCCURRED_AT_LATEST_MS
// (and, when the caller knows when the event arrived, at most MAX_FUTURE_SKEW_MS after that).
import { describeSchema, ENVELOPE_TYPE, type FieldRule, type SchemaDescription } from './codec';
import { SHOP_ID_RE, SHOP_ID_RULE, USER_ID_RE, USER_ID_RULE } from './ids';
import { isUlid } from './ulid';
import type { EnvelopeInit } from './events';

export type IssueCode = 'required' | 'min' | 'max' | 'max_len' | 'max_count' | 'format' | 'enum' | 'type';

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
/**
 * The latest occurred_at any event may carry: far inside what a Date holds (year 275760) and what
 * ClickHouse's DateTime64(3) stores (2299), so a valid event can never break a row.
 */
export const OCCURRED_AT_LATEST_MS = Date.UTC(2100, 0, 1);
/**
 * How far in the future of its arrival (collector receive time, JetStream message time) an event may
 * be dated: clocks drift, but not by a day. Every processor that knows the arrival time applies it.
 */
export const MAX_FUTURE_SKEW_MS = 86_400_000;
/** Most items in a repeated field the proto does not bound otherwise (products of an order, filters). */
export const MAX_REPEATED = 500;
/** Largest finite float32: a bigger double would encode as Infinity. */
const FLOAT32_MAX = 3.4028234663852886e38;
const INT_RANGE: Record<string, [number, number]> = {
  uint32: [0, 0xffffffff],
  fixed32: [0, 0xffffffff],
  int32: [-0x80000000, 0x7fffffff],
  sint32: [-0x80000000, 0x7fffffff],
  sfixed32: [-0x80000000, 0x7fffffff],
};
const CURRENCY_RE = /^[A-Z]{3}$/;

// String.prototype.isWellFormed (Node 20) is not in the ES2022 lib this project compiles against
const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

function isEmpty(v: unknown): boolean {
  return v === undefined || v === null || v === '' || v === 0 || (Array.isArray(v) && v.length === 0);
}

const FLOAT_TYPES = new Set(['double', 'float']);

/** Where a value sits: the message's path, the field, and the list index (-1 when not a list item). */
type Check = (v: unknown, prefix: string, index: number, out: ValidationIssue[]) => void;
type MessageCheck = (value: Record<string, unknown>, prefix: string, out: ValidationIssue[]) => void;

// Hot path (every event, in every process): paths are only built for issues, and no closure is made
// per value.
function pathOf(prefix: string, f: FieldRule, index: number): string {
  const p = prefix ? `${prefix}.${f.name}` : f.name;
  return index < 0 ? p : `${p}[${index}]`;
}

/** One field's value check, built once per field. */
function valueCheck(f: FieldRule, s: SchemaDescription): Check {
  const issue = (prefix: string, index: number, code: IssueCode, message: string): ValidationIssue => ({
    path: pathOf(prefix, f, index),
    code,
    message,
  });
  if (f.kind === 'message') {
    return (item, prefix, index, out) => {
      if (typeof item !== 'object' || item === null)
        out.push(issue(prefix, index, 'type', 'must be an object'));
      else messageCheck(f.typeName!, s)(item as Record<string, unknown>, pathOf(prefix, f, index), out);
    };
  }
  if (f.kind === 'enum') {
    const values = new Set(Object.values(s.enums[f.typeName!]!));
    const what = f.typeName!.split('.').pop()!;
    return (item, prefix, index, out) => {
      if (typeof item !== 'number' || !values.has(item))
        out.push(issue(prefix, index, 'enum', `is not a known ${what}`));
    };
  }
  if (f.type === 'string') {
    const currency = f.name === 'currency';
    return (item, prefix, index, out) => {
      if (typeof item !== 'string') return void out.push(issue(prefix, index, 'type', 'must be a string'));
      if (!isWellFormed(item)) {
        out.push(issue(prefix, index, 'format', 'must be well-formed Unicode (no lone surrogate)'));
      }
      if (f.maxLen !== undefined && item.length > f.maxLen) {
        out.push(issue(prefix, index, 'max_len', `is longer than ${f.maxLen} characters`));
      }
      if (currency && item !== '' && !CURRENCY_RE.test(item)) {
        out.push(issue(prefix, index, 'format', 'must be an ISO 4217 code such as USD or CNY'));
      }
    };
  }
  if (f.type === 'bool') {
    return (item, prefix, index, out) => {
      if (typeof item !== 'boolean') out.push(issue(prefix, index, 'type', 'must be true or false'));
    };
  }
  if (f.type === 'bytes') return () => undefined;
  const integer = !FLOAT_TYPES.has(f.type);
  const unsigned = f.type.startsWith('uint') || f.type.startsWith('fixed');
  const range = INT_RANGE[f.type];
  const min = f.min ?? range?.[0] ?? (unsigned ? 0 : undefined);
  // int64 kinds: safe integers (checked below) fit Int64 / UInt64 columns; float fits float32
  const max = range?.[1] ?? (f.type === 'float' ? FLOAT32_MAX : undefined);
  return (item, prefix, index, out) => {
    if (typeof item !== 'number' || !Number.isFinite(item))
      return void out.push(issue(prefix, index, 'type', 'must be a number'));
    if (integer && !Number.isSafeInteger(item))
      return void out.push(issue(prefix, index, 'type', 'must be a whole number'));
    if (min !== undefined && item < min) out.push(issue(prefix, index, 'min', `must be at least ${min}`));
    if (max !== undefined && item > max) out.push(issue(prefix, index, 'max', `must be at most ${max}`));
  };
}

const compiled = new Map<string, MessageCheck>();

/** The check for a message type, compiled once from the schema's annotations. */
function messageCheck(typeName: string, s: SchemaDescription): MessageCheck {
  const cached = compiled.get(typeName);
  if (cached) return cached;
  let fields: { f: FieldRule; check: Check }[] | undefined;
  const run: MessageCheck = (value, prefix, out) => {
    fields ??= s.messages[typeName]!.fields.map((f) => ({ f, check: valueCheck(f, s) }));
    for (let n = 0; n < fields.length; n++) {
      const { f, check } = fields[n]!;
      const v = value[f.jsName];
      // oneof members are checked only when set; the envelope rule requires exactly one payload
      if (f.oneof && (v === undefined || v === null)) continue;
      if (f.required && isEmpty(v)) {
        out.push({ path: pathOf(prefix, f, -1), code: 'required', message: 'is required' });
        continue;
      }
      if (v === undefined || v === null) continue;
      if (!f.repeated) {
        check(v, prefix, -1, out);
      } else if (!Array.isArray(v)) {
        out.push({ path: pathOf(prefix, f, -1), code: 'type', message: 'must be a list' });
      } else if (v.length > MAX_REPEATED) {
        out.push({
          path: pathOf(prefix, f, -1),
          code: 'max_count',
          message: `has more than ${MAX_REPEATED} items`,
        });
      } else {
        for (let i = 0; i < v.length; i++) check(v[i], prefix, i, out);
      }
    }
  };
  compiled.set(typeName, run);
  return run;
}

let payloadFields: FieldRule[] | undefined;

export interface ValidateOptions {
  /**
   * When the event arrived (epoch ms: the collector's receive time, the JetStream message time): an
   * occurred_at more than MAX_FUTURE_SKEW_MS after it is rejected.
   */
  receivedAt?: number;
}

/** Every problem with an envelope, in field order; empty when it is valid. */
export function validateEnvelope(envelope: EnvelopeInit, opts: ValidateOptions = {}): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  const s = getSchema();
  messageCheck(ENVELOPE_TYPE, s)(envelope as unknown as Record<string, unknown>, '', out);
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
  if (typeof envelope.shopId === 'string' && envelope.shopId !== '' && !SHOP_ID_RE.test(envelope.shopId))
    out.push({ path: 'shop_id', code: 'format', message: SHOP_ID_RULE });
  for (const [path, id] of [
    ['user_id', envelope.userId],
    ['anonymous_id', envelope.anonymousId],
  ] as const) {
    if (typeof id === 'string' && id !== '' && !USER_ID_RE.test(id))
      out.push({ path, code: 'format', message: USER_ID_RULE });
  }
  if (
    typeof envelope.occurredAt === 'number' &&
    envelope.occurredAt > 0 &&
    envelope.occurredAt < EARLIEST_MS
  ) {
    out.push({ path: 'occurred_at', code: 'min', message: 'must be epoch milliseconds after 2000-01-01' });
  }
  if (typeof envelope.occurredAt === 'number' && envelope.occurredAt >= OCCURRED_AT_LATEST_MS) {
    out.push({ path: 'occurred_at', code: 'max', message: 'must be epoch milliseconds before 2100-01-01' });
  } else if (
    typeof envelope.occurredAt === 'number' &&
    opts.receivedAt !== undefined &&
    envelope.occurredAt > opts.receivedAt + MAX_FUTURE_SKEW_MS
  ) {
    out.push({
      path: 'occurred_at',
      code: 'max',
      message: `is more than ${MAX_FUTURE_SKEW_MS / 3_600_000} h after the event arrived (${new Date(opts.receivedAt).toISOString()})`,
    });
  }
  payloadFields ??= s.messages[ENVELOPE_TYPE]!.fields.filter((f) => f.oneof === 'payload');
  const set = payloadFields
    .filter((f) => e[f.jsName] !== undefined && e[f.jsName] !== null)
    .map((f) => f.name);
  if (set.length === 0)
    out.push({ path: 'payload', code: 'required', message: 'exactly one payload is required' });
  if (set.length > 1)
    out.push({ path: 'payload', code: 'type', message: `only one payload allowed, got ${set.join(', ')}` });
  return out;
}

export function assertValidEnvelope(envelope: EnvelopeInit, opts: ValidateOptions = {}): void {
  const issues = validateEnvelope(envelope, opts);
  if (issues.length > 0) throw new EventValidationError(issues);
}
