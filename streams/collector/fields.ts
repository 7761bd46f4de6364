// Shared field parsing for both input shapes of the collector's mapping: the Reader over loosely typed
// client fields (recording issues), and the envelope fields every shape has (time, channel, time zone,
// event id, clock skew), gathered into a Draft. Pure.
import { createHash } from 'node:crypto';
import type { ValidationIssue, IssueCode } from '../../schemas/validate';
import { CHANNELS, channelValue, type EventType } from '../../schemas/events';
import { deriveEventId, isUlid, newEventId, ulidTime } from '../../schemas/ulid';
import { timeZoneIssue } from '../../schemas/time-zone';
import { toMinorUnits } from './money';

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

export type Obj = Record<string, unknown>;
export const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
export const issue = (path: string, code: IssueCode, message: string): ValidationIssue => ({
  path,
  code,
  message,
});
export const join = (path: string, key: string): string => (path ? `${path}.${key}` : key);
/** A client value echoed in a message, cut short. */
export const quote = (v: unknown): string =>
  JSON.stringify(typeof v === 'string' && v.length > 64 ? `${v.slice(0, 64)}...` : v);

export function compact<T extends Obj>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** Reads loosely typed client fields, recording an issue (and giving undefined) for a wrong type. */
export class Reader {
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
export function parseTime(
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

export function parseChannel(
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
export function parseTimeZone(r: Reader, key: string, field: string): string {
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
export function clockSkew(v: unknown, receivedAt: number, issues: ValidationIssue[]): number {
  const sentAt = parseTime(v, 'sentAt', issues, 'sent_at');
  return sentAt === undefined ? 0 : receivedAt - sentAt;
}

export interface Draft {
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
