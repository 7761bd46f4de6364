// Maps one event posted to the HTTP collector to an Envelope. Pure: no I/O, no clock (the caller passes
// receivedAt), so the same input always gives the same envelope apart from ids it must invent.
//
// Two input shapes:
//   native:  { type: 'cart_item_added', event_id?, user_id?, anonymous_id?, session_id?, channel,
//              occurred_at?, time_zone?, properties: { ...proto field names, snake_case } }
//   Segment: { type: 'track', event: 'Product Added', userId?, anonymousId?, messageId?, timestamp?,
//              sentAt?, context: { channel?, timezone? }, properties: { ...Segment e-commerce v2 spec } }
//            and Segment's page, screen, identify, group and alias calls (page_viewed, screen_viewed,
//            user_identified, group_joined, user_aliased; traits kept as name + JSON text, at most 64).
//
// Event ids: the id is derived from the shop and the client's own id (Segment messageId, a native
// event_id), so a retry gets the same event_id whatever its timestamp (Segment deduplicates on messageId
// alone) and two shops using the same client id never collide. A client ULID keeps its time part.
//
// Clock skew (Segment's rule): when the client says when it sent the batch (sentAt, per event or per
// batch), its times are shifted by receivedAt - sentAt, so a phone whose clock is an hour off still
// gets the right occurred_at.
//
// Bounds: an event nested deeper than MAX_EVENT_DEPTH is rejected before mapping (nothing walks it
// recursively); user_id and anonymous_id must be 1 to 128 of [A-Za-z0-9._@+=|-] (they are joined into
// partition keys and workflow ids, so no '/', ':' or spaces); the shop comes from the write key.
//
// Time zone (time_zone; Segment's context.timezone): an IANA name or a fixed offset such as +08:00.
// Like every other optional field, a value that is set but wrong rejects the event (invalid_event,
// kept in the dead-letter stream with the reason, to fix and replay) rather than being dropped
// silently: the client is told at once, and no flow ever sees an unusable zone.
//
// Money: our schema has integer minor units; Segment sends decimals in major units (19.99). We multiply
// by 10^exponent of the currency (ISO 4217: 2 for most, 0 for JPY/KRW/..., 3 for BHD/KWD/...; 2 when no
// currency is given) and round half away from zero to a whole number.
//
// Issue paths: envelope and native payload fields use proto (snake_case) names, as validateEnvelope
// does; a Segment property that cannot be read is named as the client sent it (`properties.price`).
import type { ValidationIssue, IssueCode } from '../../schemas/validate';
import { validateEnvelope } from '../../schemas/validate';
import { USER_ID_RE, USER_ID_RULE } from '../../schemas/ids';
import { describeSchema, type SchemaDescription } from '../../schemas/codec';
import {
  CLIENT_EVENT_TYPES,
  CHANNELS,
  CHAT_ROLES,
  SCHEMA_VERSION,
  channelValue,
  chatRoleValue,
  payloadField,
  type EnvelopeInit,
  type EventType,
  type Product,
} from '../../schemas/events';
import { createHash } from 'node:crypto';
import { deriveEventId, isUlid, newEventId, ulidTime } from '../../schemas/ulid';
import { timeZoneIssue } from '../../schemas/time-zone';

export interface MappingContext {
  /** From the write key, never from the body. */
  shopId: string;
  /** Server time the request arrived, epoch ms: occurred_at when the client sends none. */
  receivedAt: number;
  /** The batch's sentAt as the client sent it (an event's own sentAt wins). */
  sentAt?: unknown;
  producerId: string;
  sequence: number;
}

/** unmappable: not an event we can turn into an envelope at all; invalid_event: built, breaks a rule. */
export type MappingRejectReason = 'unmappable' | 'invalid_event';

export type MapResult =
  | { ok: true; envelope: EnvelopeInit }
  | { ok: false; issues: ValidationIssue[]; reason: MappingRejectReason; envelope?: EnvelopeInit };

export { CLIENT_EVENT_TYPES };

/** Segment e-commerce v2 event names we collect (matched case-insensitively), and what they become. */
export const SEGMENT_EVENTS = {
  'Product Viewed': 'product_viewed',
  'Product List Filtered': 'product_list_filtered',
  'Products Searched': 'products_searched',
  'Product Added': 'cart_item_added',
  'Product Removed': 'cart_item_removed',
  'Checkout Started': 'checkout_started',
  'Order Completed': 'order_placed',
  'Order Refunded': 'order_refunded',
} as const satisfies Record<string, EventType>;

type SegmentEventType = (typeof SEGMENT_EVENTS)[keyof typeof SEGMENT_EVENTS];
const SEGMENT_BY_NAME = new Map(
  Object.entries(SEGMENT_EVENTS).map(([name, type]) => [name.toLowerCase(), type]),
);
/** Segment calls other than track, and the event each becomes. */
export const SEGMENT_CALLS = {
  page: 'page_viewed',
  screen: 'screen_viewed',
  identify: 'user_identified',
  group: 'group_joined',
  alias: 'user_aliased',
} as const satisfies Record<string, EventType>;
type SegmentCallType = (typeof SEGMENT_CALLS)[keyof typeof SEGMENT_CALLS];
export const MAX_EVENT_DEPTH = 32;
export const MAX_TRAITS = 64;
export { USER_ID_RE };
/** Segment's own channel values; anything else must be one of ours. Missing: web (browser SDKs). */
const SEGMENT_CHANNEL_ALIASES: Record<string, string> = { browser: 'web', mobile: 'app', server: 'server' };
const SEGMENT_DEFAULT_CHANNEL = 'web';

const ZERO_DECIMAL = new Set(
  'BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF'.split(' '),
);
const THREE_DECIMAL = new Set('BHD IQD JOD KWD LYD OMR TND'.split(' '));

/** Decimal major units to integer minor units for the currency (2 decimals when unknown). */
export function toMinorUnits(amount: number, currency?: string): number {
  const c = currency?.toUpperCase() ?? '';
  const exponent = ZERO_DECIMAL.has(c) ? 0 : THREE_DECIMAL.has(c) ? 3 : 2;
  // Shift the decimal point in the string form, so 1.005 becomes 100.5 (not 100.49999...) before rounding.
  const text = String(Math.abs(amount));
  const shifted = text.includes('e') ? Math.abs(amount) * 10 ** exponent : Number(`${text}e${exponent}`);
  return Math.sign(amount) * Math.round(shifted);
}

// ---------------------------------------------------------------------------------------------------

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const issue = (path: string, code: IssueCode, message: string): ValidationIssue => ({ path, code, message });
const join = (path: string, key: string): string => (path ? `${path}.${key}` : key);
/** A client value echoed in a message, cut short. */
const quote = (v: unknown): string =>
  JSON.stringify(typeof v === 'string' && v.length > 64 ? `${v.slice(0, 64)}...` : v);

function compact<T extends Obj>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** Reads loosely typed client fields, recording an issue (and giving undefined) for a wrong type. */
class Reader {
  constructor(
    readonly obj: Obj,
    readonly path: string,
    readonly issues: ValidationIssue[],
  ) {}

  private at(key: string): string {
    return join(this.path, key);
  }

  str(key: string, path = this.at(key)): string | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v === 'string') return v;
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
    this.issues.push(
      issue(path, 'type', path === this.at(key) ? 'must be a string' : `${key} must be a string`),
    );
    return undefined;
  }

  num(key: string): number | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null || v === '') return undefined;
    const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
    if (typeof n === 'number' && Number.isFinite(n)) return n;
    this.issues.push(issue(this.at(key), 'type', 'must be a number'));
    return undefined;
  }

  money(key: string, currency: string | undefined): number | undefined {
    const n = this.num(key);
    return n === undefined ? undefined : toMinorUnits(n, currency);
  }

  /** A list of objects; undefined when absent. */
  list(key: string): Reader[] | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) {
      this.issues.push(issue(this.at(key), 'type', 'must be a list'));
      return undefined;
    }
    return v.flatMap((item, i) => {
      if (isObject(item)) return [new Reader(item, `${this.at(key)}[${i}]`, this.issues)];
      this.issues.push(issue(`${this.at(key)}[${i}]`, 'type', 'must be an object'));
      return [];
    });
  }

  child(key: string): Reader {
    const v = this.obj[key];
    if (v !== undefined && v !== null && !isObject(v))
      this.issues.push(issue(this.at(key), 'type', 'must be an object'));
    return new Reader(isObject(v) ? v : {}, this.at(key), this.issues);
  }
}

// ---- shared envelope fields ----

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i;

/** ISO 8601 with a zone, or epoch milliseconds (number or digits). undefined: not given or bad. */
function parseTime(
  v: unknown,
  field: string,
  issues: ValidationIssue[],
  path = 'occurred_at',
): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  if (typeof v === 'string' && ISO_TIME.test(v) && !Number.isNaN(Date.parse(v))) return Date.parse(v);
  issues.push(
    issue(
      path,
      'format',
      `${field} must be an ISO 8601 time with a zone (2024-05-01T12:00:00Z) or epoch milliseconds`,
    ),
  );
  return undefined;
}

function parseChannel(
  v: unknown,
  field: string,
  issues: ValidationIssue[],
  aliases: Record<string, string> = {},
): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= CHANNELS.length) return v;
  const name = typeof v === 'string' ? v.trim().toLowerCase() : '';
  const value = channelValue(aliases[name] ?? name);
  if (value > 0) return value;
  const known = [...CHANNELS, ...Object.keys(aliases)].join(', ');
  issues.push(
    v === undefined || v === null || v === ''
      ? issue('channel', 'required', `${field} is required: one of ${known}`)
      : issue('channel', 'enum', `${field} ${quote(v)} is not known: use one of ${known}`),
  );
  return 0;
}

/** The time zone as given (trimmed), '' when absent; an issue, named by the client's field, when unusable. */
function parseTimeZone(r: Reader, key: string, field: string): string {
  const tz = r.str(key, 'time_zone')?.trim() ?? '';
  r.issues.push(...timeZoneIssue(tz, field));
  return tz;
}

/**
 * A ULID derived from the shop and the client's own id (Segment messageId, or a native event_id), so a
 * retried message gets the same event_id and JetStream / ClickHouse drop the copy, whatever its
 * timestamp, and two shops sending the same id get different ones. A client ULID keeps its time part;
 * any other id gets a time part from its hash (the id then carries no time: nothing reads one). No
 * client id at all: a fresh ULID.
 */
export function eventIdFor(clientId: string | undefined, shopId: string): string {
  if (!clientId) return newEventId();
  const scoped = `${shopId}\0${clientId}`;
  const ulid = clientId.toUpperCase();
  if (isUlid(ulid)) return deriveEventId(ulidTime(ulid), scoped);
  const time = createHash('sha256').update(scoped).digest().readUIntBE(0, 6);
  return deriveEventId(time, scoped);
}

/** receivedAt - sentAt when the client sent a usable sentAt, else 0. */
function clockSkew(v: unknown, receivedAt: number, issues: ValidationIssue[]): number {
  const sentAt = parseTime(v, 'sentAt', issues, 'sent_at');
  return sentAt === undefined ? 0 : receivedAt - sentAt;
}

interface Draft {
  type: EventType;
  payload: Obj;
  eventId: string;
  userId: string;
  anonymousId: string;
  sessionId: string;
  channel: number;
  occurredAt: number;
  timeZone: string;
  issues: ValidationIssue[];
}

// ---- native shape: proto field names, driven by the schema ----

let schema: SchemaDescription | undefined;
const getSchema = (): SchemaDescription => (schema ??= describeSchema());
const V1 = 'shopstream.events.v1';
const ENUM_NAMES: Record<
  string,
  { value: (name: string) => number; names: readonly string[]; what: string }
> = {
  [`${V1}.Channel`]: { value: channelValue, names: CHANNELS, what: 'channel' },
  [`${V1}.ChatRole`]: { value: chatRoleValue, names: CHAT_ROLES, what: 'chat role' },
};

function enumFromName(typeName: string, v: unknown, path: string, issues: ValidationIssue[]): unknown {
  const e = ENUM_NAMES[typeName];
  if (!e || typeof v !== 'string') return v; // numbers (and unknown enums) are judged by validation
  const value = e.value(v.trim().toLowerCase());
  if (value === 0) {
    issues.push(issue(path, 'enum', `${quote(v)} is not a ${e.what}: use one of ${e.names.join(', ')}`));
  }
  return value;
}

/** snake_case JSON -> the generated camelCase shape, recursively; unknown keys are ignored (proto3). */
function fromProtoJson(typeName: string, raw: Obj, path: string, issues: ValidationIssue[]): Obj {
  const out: Obj = {};
  for (const f of getSchema().messages[typeName]!.fields) {
    const v = raw[f.name];
    if (v === undefined || v === null) continue;
    const p = join(path, f.name);
    // Values of the wrong type pass through unchanged: validateEnvelope names the problem.
    const one = (item: unknown, ip: string): unknown =>
      f.kind === 'message' && isObject(item)
        ? fromProtoJson(f.typeName!, item, ip, issues)
        : f.kind === 'enum'
          ? enumFromName(f.typeName!, item, ip, issues)
          : item;
    out[f.jsName] = f.repeated && Array.isArray(v) ? v.map((item, i) => one(item, `${p}[${i}]`)) : one(v, p);
  }
  return out;
}

function payloadTypeName(type: EventType): string {
  const field = getSchema().messages[`${V1}.Envelope`]!.fields.find((f) => f.name === type);
  return field!.typeName!;
}

function mapNative(raw: Obj, type: EventType, ctx: MappingContext): Draft {
  const issues: ValidationIssue[] = [];
  const r = new Reader(raw, '', issues);
  const occurredAt = parseTime(raw['occurred_at'], 'occurred_at', issues) ?? ctx.receivedAt;
  const draft = {
    type,
    eventId: eventIdFor(r.str('event_id'), ctx.shopId),
    userId: r.str('user_id') ?? '',
    anonymousId: r.str('anonymous_id') ?? '',
    sessionId: r.str('session_id') ?? '',
    channel: parseChannel(raw['channel'], 'channel', issues),
    occurredAt,
    timeZone: parseTimeZone(r, 'time_zone', 'time_zone'),
    issues,
  };
  const props = raw['properties'];
  if (!isObject(props)) {
    issues.push(
      issue(
        type,
        props === undefined ? 'required' : 'type',
        'properties must be an object with the event payload',
      ),
    );
  }
  return {
    ...draft,
    payload: isObject(props) ? fromProtoJson(payloadTypeName(type), props, type, issues) : {},
  };
}

// ---- Segment shape ----

/** Segment's product properties are all optional: without a sku, the product_id stands in for it. */
function segmentProduct(r: Reader, currency: string | undefined): Product {
  const productId = r.str('product_id');
  return compact({
    sku: r.str('sku') ?? productId,
    productId,
    name: r.str('name'),
    category: r.str('category'),
    brand: r.str('brand'),
    variant: r.str('variant'),
    priceMinor: r.money('price', currency),
    quantity: r.num('quantity'),
  });
}

const typeValue = (r: Reader): Obj => compact({ type: r.str('type'), value: r.str('value') });
const products = (r: Reader, c: string | undefined): Product[] | undefined =>
  r.list('products')?.map((p) => segmentProduct(p, c));
/** The first of several Segment names for one amount that is present. */
const firstMoney = (r: Reader, keys: string[], c: string | undefined): number | undefined =>
  r.money(keys.find((k) => r.obj[k] !== undefined && r.obj[k] !== null) ?? keys[0]!, c);

const SEGMENT_PAYLOADS: Record<SegmentEventType, (r: Reader, currency: string | undefined) => Obj> = {
  product_viewed: (r, c) => ({ product: segmentProduct(r, c), currency: c }),
  product_list_filtered: (r) => ({
    listId: r.str('list_id'),
    category: r.str('category'),
    filters: r.list('filters')?.map(typeValue),
    sorts: r.list('sorts')?.map(typeValue),
    resultCount: r.num('result_count'),
  }),
  products_searched: (r) => ({ query: r.str('query'), resultCount: r.num('result_count') }),
  cart_item_added: (r, c) => ({ cartId: r.str('cart_id'), product: segmentProduct(r, c), currency: c }),
  cart_item_removed: (r, c) => ({ cartId: r.str('cart_id'), product: segmentProduct(r, c), currency: c }),
  checkout_started: (r, c) => ({
    cartId: r.str('cart_id'),
    products: products(r, c),
    totalMinor: firstMoney(r, ['total', 'value', 'revenue'], c),
    currency: c,
  }),
  order_placed: (r, c) => ({
    orderId: r.str('order_id'),
    cartId: r.str('cart_id'),
    products: products(r, c),
    totalMinor: firstMoney(r, ['total', 'revenue'], c),
    discountMinor: r.money('discount', c),
    couponCode: r.str('coupon'),
    currency: c,
  }),
  order_refunded: (r, c) => ({
    orderId: r.str('order_id'),
    products: products(r, c),
    totalMinor: firstMoney(r, ['total', 'revenue'], c),
    currency: c,
  }),
};

/** Traits as name + JSON text, in the order sent; more than MAX_TRAITS is an issue. */
function traits(r: Reader, key: string): Obj[] | undefined {
  const v = r.obj[key];
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) return void r.issues.push(issue(key, 'type', `${key} must be an object`));
  const entries = Object.entries(v).filter(([, value]) => value !== undefined);
  if (entries.length > MAX_TRAITS)
    r.issues.push(issue(key, 'max_len', `at most ${MAX_TRAITS} ${key}, got ${entries.length}`));
  return entries.slice(0, MAX_TRAITS).map(([name, value]) => ({ name, value: JSON.stringify(value) }));
}

/** A page call's field: from properties (Segment's spec), else context.page (analytics.js). */
const pageField = (props: Reader, page: Reader, key: string): string | undefined =>
  props.str(key) ?? page.str(key);

const SEGMENT_CALL_PAYLOADS: Record<SegmentCallType, (raw: Reader) => Obj> = {
  page_viewed: (r) => {
    const props = r.child('properties');
    const page = r.child('context').child('page');
    return {
      name: r.str('name'),
      category: r.str('category') ?? props.str('category'),
      url: pageField(props, page, 'url'),
      path: pageField(props, page, 'path'),
      referrer: pageField(props, page, 'referrer'),
      title: pageField(props, page, 'title'),
      search: pageField(props, page, 'search'),
    };
  },
  screen_viewed: (r) => ({
    name: r.str('name'),
    category: r.str('category') ?? r.child('properties').str('category'),
  }),
  user_identified: (r) => ({
    traits: traits(r, 'traits') ?? traits(new Reader(r.child('context').obj, 'context', r.issues), 'traits'),
  }),
  group_joined: (r) => ({ groupId: r.str('groupId', 'group_joined.group_id'), traits: traits(r, 'traits') }),
  user_aliased: (r) => ({ previousId: r.str('previousId', 'user_aliased.previous_id') }),
};

function mapSegment(
  raw: Obj,
  type: SegmentEventType | SegmentCallType,
  ctx: MappingContext,
  payload: (r: Reader) => Obj,
): Draft {
  const issues: ValidationIssue[] = [];
  const r = new Reader(raw, '', issues);
  const context = r.child('context');
  const skew = clockSkew(raw['sentAt'] ?? ctx.sentAt, ctx.receivedAt, issues);
  const clientTime = parseTime(raw['timestamp'] ?? raw['originalTimestamp'], 'timestamp', issues);
  const occurredAt = clientTime === undefined ? ctx.receivedAt : clientTime + skew;
  const channel = context.obj['channel'] ?? raw['channel'] ?? SEGMENT_DEFAULT_CHANNEL;
  const draft = {
    type,
    eventId: eventIdFor(r.str('messageId', 'event_id'), ctx.shopId),
    userId: r.str('userId', 'user_id') ?? '',
    anonymousId: r.str('anonymousId', 'anonymous_id') ?? '',
    sessionId: context.str('sessionId', 'session_id') ?? context.str('session_id', 'session_id') ?? '',
    channel: parseChannel(channel, 'context.channel', issues, SEGMENT_CHANNEL_ALIASES),
    occurredAt,
    timeZone: parseTimeZone(context, 'timezone', 'context.timezone'),
    issues,
  };
  return { ...draft, payload: compact(payload(r)) };
}

function segmentTrack(r: Reader, type: SegmentEventType): Obj {
  const props = r.child('properties');
  return SEGMENT_PAYLOADS[type](props, props.str('currency')?.toUpperCase());
}

// ---------------------------------------------------------------------------------------------------

const unmappable = (path: string, code: IssueCode, message: string): MapResult => ({
  ok: false,
  reason: 'unmappable',
  issues: [issue(path, code, message)],
});

function draftFor(raw: unknown, ctx: MappingContext): Draft | MapResult {
  if (!isObject(raw)) return unmappable('', 'type', 'an event must be a JSON object');
  const type = raw['type'];
  if (type === 'track') {
    const name = raw['event'];
    if (typeof name !== 'string' || name.trim() === '') {
      return unmappable('event', 'required', 'a Segment track call needs an event name');
    }
    const mapped = SEGMENT_BY_NAME.get(name.trim().toLowerCase());
    if (!mapped) {
      return unmappable(
        'event',
        'type',
        `Segment event ${quote(name)} is not collected; supported: ${Object.keys(SEGMENT_EVENTS).join(', ')}`,
      );
    }
    return mapSegment(raw, mapped, ctx, (r) => segmentTrack(r, mapped));
  }
  if (typeof type === 'string' && Object.hasOwn(SEGMENT_CALLS, type)) {
    const mapped = SEGMENT_CALLS[type as keyof typeof SEGMENT_CALLS];
    return mapSegment(raw, mapped, ctx, SEGMENT_CALL_PAYLOADS[mapped]);
  }
  if (typeof type === 'string' && (CLIENT_EVENT_TYPES as readonly string[]).includes(type)) {
    return mapNative(raw, type as EventType, ctx);
  }
  return unmappable(
    'type',
    type === undefined ? 'required' : 'type',
    `type must be a Segment call (track, ${Object.keys(SEGMENT_CALLS).join(', ')}) or one of ${CLIENT_EVENT_TYPES.join(', ')}`,
  );
}

/** An issue already reported by mapping hides validation's issues at or below the same path. */
const covered = (path: string, by: ValidationIssue[]): boolean =>
  by.some((i) => path === i.path || path.startsWith(`${i.path}.`) || path.startsWith(`${i.path}[`));

/** Maps one posted event (native or Segment track) to a validated envelope, or says why it cannot. */
export function mapIncomingEvent(raw: unknown, ctx: MappingContext): MapResult {
  if (depthOver(raw, MAX_EVENT_DEPTH)) {
    const message = `the event is nested deeper than ${MAX_EVENT_DEPTH} levels`;
    return { ok: false, reason: 'invalid_event', issues: [issue('', 'format', message)] };
  }
  const d = draftFor(raw, ctx);
  if ('ok' in d) return d;
  for (const [path, id] of [
    ['user_id', d.userId],
    ['anonymous_id', d.anonymousId],
  ] as const) {
    if (id !== '' && !USER_ID_RE.test(id)) d.issues.push(issue(path, 'format', USER_ID_RULE));
  }
  const envelope: EnvelopeInit = {
    eventId: d.eventId,
    schemaVersion: SCHEMA_VERSION,
    shopId: ctx.shopId,
    userId: d.userId,
    anonymousId: d.anonymousId,
    sessionId: d.sessionId,
    channel: d.channel,
    occurredAt: d.occurredAt,
    sequence: ctx.sequence,
    producerId: ctx.producerId,
    timeZone: d.timeZone,
    [payloadField(d.type)]: d.payload,
  };
  const issues = [...d.issues, ...validateEnvelope(envelope).filter((i) => !covered(i.path, d.issues))];
  return issues.length > 0
    ? { ok: false, reason: 'invalid_event', issues, envelope }
    : { ok: true, envelope };
}

/** Whether a JSON value nests deeper than `max` arrays / objects. Iterative: any depth is safe. */
export function depthOver(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth + 1 > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}
