// The collector's native input shape: proto field names (snake_case) under `properties`, converted to
// the generated camelCase payload by walking the schema. Pure.
import type { ValidationIssue } from '../../schemas/validate';
import { describeSchema, type SchemaDescription } from '../../schemas/codec';
import { CHANNELS, CHAT_ROLES, channelValue, chatRoleValue, type EventType } from '../../schemas/events';
import {
  eventIdFor,
  isObject,
  issue,
  join,
  parseChannel,
  parseTime,
  parseTimeZone,
  quote,
  Reader,
  type Draft,
  type MappingContext,
  type Obj,
} from './fields';

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

export function mapNative(raw: Obj, type: EventType, ctx: MappingContext): Draft {
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
