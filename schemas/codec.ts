// The only module that touches protobufjs: encoding, decoding, and a plain-data view of the schema
// (field rules) for the validator and the compatibility checker.
import * as protobuf from 'protobufjs';
import { shopstream } from './generated/events';
import schemaJson from './generated/events.json';
import { eventTypeOf, type Envelope, type EnvelopeInit, type EventType } from './events';

const EnvelopeType = shopstream.events.v1.Envelope;
const PACKAGE = 'shopstream.events.v1';

// int64 fields as plain numbers (all our int64 values - epoch ms, minor units, counters - are far below
// 2^53). protobufjs would hand out Long objects, and its Long switch is process-wide and shared with the
// Temporal SDK, so instead our readers convert, and our generated classes default those fields to 0.
const LONG_TYPES = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
type LongLike = { toNumber(): number };
const asNumber = (v: unknown): number => (typeof v === 'number' ? v : (v as LongLike).toNumber());
const NUMBER_LONGS = Object.fromEntries(
  [...LONG_TYPES].map((t) => [
    t,
    function (this: protobuf.Reader): number {
      const proto = Object.getPrototypeOf(this) as Record<string, (this: protobuf.Reader) => unknown>;
      return asNumber(proto[t]!.call(this));
    },
  ]),
);

function readerFor(bytes: Uint8Array): protobuf.Reader {
  const reader = Object.assign(protobuf.Reader.create(bytes), NUMBER_LONGS);
  reader.discardUnknown = false; // to tell a newer producer's event from a broken one
  return reader;
}

export function encodeEnvelope(envelope: EnvelopeInit): Uint8Array {
  return EnvelopeType.encode(envelope).finish();
}

export type DecodeResult =
  | { ok: true; envelope: Envelope; type: EventType }
  | {
      ok: false;
      reason: 'decode_failed' | 'unknown_payload' | 'invalid_event';
      detail: string;
      envelope?: Envelope;
    };

/**
 * Decodes an envelope. Bytes that are not protobuf give `decode_failed`; an envelope carrying fields
 * this build does not know but no payload it knows (a newer producer's new event type) gives
 * `unknown_payload`, so it can be kept and replayed after an upgrade; one with no payload at all is
 * an `invalid_event`.
 */
export function decodeEnvelope(bytes: Uint8Array): DecodeResult {
  let envelope: Envelope;
  let unknownFields = 0;
  try {
    envelope = EnvelopeType.decode(readerFor(bytes));
    unknownFields = envelope.$unknowns?.length ?? 0;
  } catch (err) {
    return { ok: false, reason: 'decode_failed', detail: err instanceof Error ? err.message : String(err) };
  }
  if (!envelope.payload) {
    return unknownFields > 0
      ? {
          ok: false,
          reason: 'unknown_payload',
          detail: `no payload this schema knows (${unknownFields} unknown field(s): a newer producer?)`,
          envelope,
        }
      : { ok: false, reason: 'invalid_event', detail: 'payload: exactly one payload is required', envelope };
  }
  return { ok: true, envelope, type: eventTypeOf(envelope.payload) };
}

/** Plain JSON of an envelope: enums as names, int64 as numbers, empty fields left out. */
export function envelopeToJson(envelope: Envelope): Record<string, unknown> {
  return EnvelopeType.toObject(EnvelopeType.fromObject(envelope), {
    enums: String,
    longs: Number,
    defaults: false,
    oneofs: true,
  });
}

/** An envelope from its JSON form (as `envelopeToJson` writes it), with int64 fields as numbers. */
export function envelopeFromJson(json: Record<string, unknown>): Envelope {
  return EnvelopeType.decode(readerFor(EnvelopeType.encode(EnvelopeType.fromObject(json)).finish()));
}

// ---- schema description, for validation and compatibility checks ----

export interface FieldRule {
  /** proto name, snake_case */
  name: string;
  /** camelCase name in generated code */
  jsName: string;
  id: number;
  type: string;
  repeated: boolean;
  /** 'message' | 'enum' | 'scalar' */
  kind: 'message' | 'enum' | 'scalar';
  /** full name of the message or enum type, for kind message / enum */
  typeName?: string;
  oneof?: string;
  required: boolean;
  min?: number;
  maxLen?: number;
}

export interface MessageRule {
  fullName: string;
  fields: FieldRule[];
  oneofs: Record<string, string[]>;
  reserved: (number | string | [number, number])[];
}

export interface SchemaDescription {
  messages: Record<string, MessageRule>;
  enums: Record<string, Record<string, number>>;
}

const camelToSnake = (s: string): string => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** Describes a protobufjs root (the current schema by default) as plain data. */
export function describeSchema(json: protobuf.INamespace = schemaJson): SchemaDescription {
  const root = protobuf.Root.fromJSON(json);
  root.resolveAll();
  const out: SchemaDescription = { messages: {}, enums: {} };
  const visit = (ns: protobuf.NamespaceBase): void => {
    for (const obj of ns.nestedArray) {
      if (obj instanceof protobuf.Type) {
        const fullName = obj.fullName.replace(/^\./, '');
        const oneofs: Record<string, string[]> = {};
        for (const o of obj.oneofsArray) oneofs[o.name] = o.fieldsArray.map((f) => camelToSnake(f.name));
        out.messages[fullName] = {
          fullName,
          oneofs,
          reserved: (obj.reserved ?? []) as (number | string | [number, number])[],
          fields: obj.fieldsArray.map((f): FieldRule => {
            const opts = (f.options ?? {}) as Record<string, unknown>;
            const rt = f.resolvedType;
            const rule: FieldRule = {
              name: camelToSnake(f.name),
              jsName: f.name,
              id: f.id,
              type: f.type,
              repeated: f.repeated,
              kind: rt instanceof protobuf.Type ? 'message' : rt instanceof protobuf.Enum ? 'enum' : 'scalar',
              required: opts['(required)'] === true,
            };
            if (rt) rule.typeName = rt.fullName.replace(/^\./, '');
            if (f.partOf) rule.oneof = f.partOf.name;
            if (typeof opts['(min)'] === 'number') rule.min = opts['(min)'];
            if (typeof opts['(max_len)'] === 'number') rule.maxLen = opts['(max_len)'];
            return rule;
          }),
        };
        visit(obj);
      } else if (obj instanceof protobuf.Enum) {
        out.enums[obj.fullName.replace(/^\./, '')] = { ...obj.values };
      } else if (obj instanceof protobuf.Namespace) {
        visit(obj);
      }
    }
  };
  visit(root);
  return out;
}

/** Encodes / decodes with any schema JSON (an older or newer version): for compatibility tests. */
export function codecFor(json: protobuf.INamespace): {
  encode(obj: Record<string, unknown>): Uint8Array;
  decode(bytes: Uint8Array): Record<string, unknown>;
} {
  const root = protobuf.Root.fromJSON(json);
  const type = root.lookupType(`${PACKAGE}.Envelope`);
  return {
    encode: (obj) => type.encode(type.fromObject(obj)).finish(),
    decode: (bytes) =>
      type.toObject(type.decode(bytes), { enums: String, longs: Number, defaults: false, oneofs: true }),
  };
}

/** Our generated classes default their int64 fields to 0, not Long(0): see NUMBER_LONGS. */
(function numberDefaults(): void {
  const classes = shopstream as unknown as Record<string, unknown>;
  for (const msg of Object.values(describeSchema().messages)) {
    const cls = msg.fullName
      .split('.')
      .slice(1)
      .reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], classes) as
      { prototype?: Record<string, unknown> } | undefined;
    if (!cls?.prototype) continue;
    for (const f of msg.fields) if (!f.repeated && LONG_TYPES.has(f.type)) cls.prototype[f.jsName] = 0;
  }
})();

export const currentSchemaJson = schemaJson as protobuf.INamespace;
export const ENVELOPE_TYPE = `${PACKAGE}.Envelope`;
