// Turning dead letters back into events: each one is re-read (or taken from a fixed export line),
// validated again, and if it now passes, re-published with its own event_id (so a replay that runs
// twice stores it once) and removed from the dead-letter stream.
import { decodeEnvelope, envelopeFromJson, envelopeToJson } from '../schemas/codec';
import type { EnvelopeInit } from '../schemas/events';
import { validateEnvelope } from '../schemas/validate';
import { mapIncomingEvent } from './collector/mapping';
import { ENVELOPE_JSON_CONTENT_TYPE, type StoredDeadLetter } from './dlq';

export type Repair = { ok: true; envelope: EnvelopeInit } | { ok: false; why: string };

const JSON_CT = /json/i;

/** An export line: the dead letter as data a person can read and fix. */
export interface ExportLine {
  seq: number;
  reason: string;
  detail: string;
  shop_id?: string;
  /** when it was dead-lettered: the receive time of an HTTP event that carried none */
  failed_at?: string;
  /** a decodable protobuf event, as JSON */
  envelope?: Record<string, unknown>;
  /** an HTTP event as it was sent */
  event?: unknown;
  /** bytes that are neither, base64 */
  raw_base64?: string;
}

function envelopeJson(dl: StoredDeadLetter): Record<string, unknown> | undefined {
  if (dl.contentType !== ENVELOPE_JSON_CONTENT_TYPE) return undefined;
  try {
    return JSON.parse(Buffer.from(dl.data).toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

export function toExportLine(dl: StoredDeadLetter): ExportLine {
  const line: ExportLine = { seq: dl.seq, reason: dl.reason, detail: dl.detail, failed_at: dl.failedAt };
  if (dl.shopId) line.shop_id = dl.shopId;
  const asEnvelope = envelopeJson(dl);
  if (asEnvelope) {
    line.envelope = asEnvelope;
    return line;
  }
  if (dl.contentType && JSON_CT.test(dl.contentType)) {
    try {
      line.event = JSON.parse(Buffer.from(dl.data).toString('utf8')) as unknown;
      return line;
    } catch {
      /* fall through to raw */
    }
  }
  const d = decodeEnvelope(dl.data);
  if (d.ok || d.envelope) line.envelope = envelopeToJson(d.ok ? d.envelope : d.envelope!);
  else line.raw_base64 = Buffer.from(dl.data).toString('base64');
  return line;
}

function checked(envelope: EnvelopeInit): Repair {
  const issues = validateEnvelope(envelope);
  return issues.length === 0
    ? { ok: true, envelope }
    : { ok: false, why: issues.map((i) => `${i.path}: ${i.message}`).join('; ') };
}

/**
 * An HTTP event gets the same event_id on every replay of the same dead letter: its own id if it had
 * one, else one derived from the dead letter's sequence, and its original receive time.
 */
function fromHttpEvent(
  raw: unknown,
  shopId: string | undefined,
  seq: number,
  failedAt: string | undefined,
  sequence: number,
): Repair {
  if (!shopId) return { ok: false, why: 'no shop id recorded with this HTTP event' };
  const receivedAt = failedAt && !Number.isNaN(Date.parse(failedAt)) ? Date.parse(failedAt) : Date.now();
  let event = raw;
  if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
    const o = raw as Record<string, unknown>;
    if (!o['messageId'] && !o['event_id']) event = { ...o, messageId: `dlq-${seq}` };
  }
  const r = mapIncomingEvent(event, { shopId, receivedAt, producerId: 'dlq-replay', sequence });
  return r.ok
    ? { ok: true, envelope: r.envelope }
    : { ok: false, why: r.issues.map((i) => `${i.path}: ${i.message}`).join('; ') };
}

/** Tries a dead letter as it is stored (after a schema or mapping fix, or a transient failure). */
export function repairStored(dl: StoredDeadLetter, sequence: number): Repair {
  const asEnvelope = envelopeJson(dl);
  if (asEnvelope)
    return repairLine({ seq: dl.seq, reason: dl.reason, detail: dl.detail, envelope: asEnvelope }, sequence);
  if (dl.contentType && JSON_CT.test(dl.contentType)) {
    let raw: unknown;
    try {
      raw = JSON.parse(Buffer.from(dl.data).toString('utf8'));
    } catch (err) {
      return { ok: false, why: `not JSON: ${(err as Error).message}` };
    }
    return fromHttpEvent(raw, dl.shopId, dl.seq, dl.failedAt, sequence);
  }
  const d = decodeEnvelope(dl.data);
  if (!d.ok) return { ok: false, why: `${d.reason}: ${d.detail}` };
  return checked(d.envelope);
}

/** Tries a line of a fixed export file. */
export function repairLine(line: ExportLine, sequence: number): Repair {
  if (line.envelope) {
    try {
      return checked(envelopeFromJson(line.envelope));
    } catch (err) {
      return { ok: false, why: `envelope JSON does not fit the schema: ${(err as Error).message}` };
    }
  }
  if (line.event !== undefined)
    return fromHttpEvent(line.event, line.shop_id, line.seq, line.failed_at, sequence);
  return { ok: false, why: 'raw bytes cannot be replayed: write an "envelope" or "event" for this line' };
}
