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
//
// This file: the entry point and the checks common to both shapes. fields.ts holds the Reader and the
// shared envelope fields, native-shape.ts and segment-shape.ts the two shapes, money.ts the money rule.
import type { ValidationIssue, IssueCode } from '../../schemas/validate';
import { validateEnvelope } from '../../schemas/validate';
import { USER_ID_RE, USER_ID_RULE } from '../../schemas/ids';
import {
  CLIENT_EVENT_TYPES,
  SCHEMA_VERSION,
  payloadField,
  type EnvelopeInit,
  type EventType,
} from '../../schemas/events';
import { isObject, issue, quote, type Draft, type MappingContext } from './fields';
import { mapNative } from './native-shape';
import {
  mapSegment,
  SEGMENT_BY_NAME,
  SEGMENT_CALL_PAYLOADS,
  SEGMENT_CALLS,
  SEGMENT_EVENTS,
  segmentTrack,
} from './segment-shape';

export type { MappingContext } from './fields';
export { eventIdFor } from './fields';
export { toMinorUnits } from './money';
export { MAX_TRAITS, SEGMENT_CALLS, SEGMENT_EVENTS } from './segment-shape';

/** unmappable: not an event we can turn into an envelope at all; invalid_event: built, breaks a rule. */
export type MappingRejectReason = 'unmappable' | 'invalid_event';

export type MapResult =
  | { ok: true; envelope: EnvelopeInit }
  | { ok: false; issues: ValidationIssue[]; reason: MappingRejectReason; envelope?: EnvelopeInit };

export { CLIENT_EVENT_TYPES };

export const MAX_EVENT_DEPTH = 32;
export { USER_ID_RE };

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
  // receivedAt: an occurred_at more than a day ahead (a hostile sentAt skews it there) is refused here,
  // as the sink would refuse it, rather than accepted and dead-lettered later
  const issues = [
    ...d.issues,
    ...validateEnvelope(envelope, { receivedAt: ctx.receivedAt }).filter((i) => !covered(i.path, d.issues)),
  ];
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
