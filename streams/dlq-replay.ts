// Turning dead letters back into events: each one is re-read (or taken from a fixed export line),
// validated again, and if it now passes, re-published with its own event_id (so a replay that runs
// twice stores it once) and removed from the dead-letter stream.
import { decodeEnvelope, envelopeFromJson, envelopeToJson } from '../schemas/codec';
import type { EnvelopeInit } from '../schemas/events';
import { validateEnvelope } from '../schemas/validate';
import { mapIncomingEvent } from './collector/mapping';
import type { NatsConnection } from 'nats';
import {
  deadLetterExists,
  deleteDeadLetter,
  ENVELOPE_JSON_CONTENT_TYPE,
  readDeadLetters,
  type StoredDeadLetter,
} from './dlq';
import type { Producer } from './producer/producer';
import type { DlqReason } from './topology';

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

export interface ReplayTally {
  replayed: number;
  /** Replayed events the events stream already had (stored before). */
  duplicates: number;
  /** Still failing after repair: kept in the dead-letter stream, with why. */
  stillFailing: number;
  /** Lines of an export file whose dead letter is gone (replayed by an earlier run). */
  alreadyReplayed: number;
  why: Map<string, number>;
}

/**
 * Re-publishes repaired dead letters (from an export file's lines, or straight from the stream, of one
 * reason or all) and deletes each dead letter once its fixed event is on the events stream; a dry run
 * publishes and deletes nothing. Running the same file twice changes nothing.
 */
export async function replayDeadLetters(
  nc: NatsConnection,
  prefix: string,
  source: { lines: () => AsyncIterable<string> } | { reason?: DlqReason },
  opts: { dryRun?: boolean; producer: Pick<Producer, 'publish' | 'flush'> },
): Promise<ReplayTally> {
  const jsm = await nc.jetstreamManager();
  const tally: ReplayTally = {
    replayed: 0,
    duplicates: 0,
    stillFailing: 0,
    alreadyReplayed: 0,
    why: new Map(),
  };
  let sequence = 0;
  const handle = async (seq: number, repair: Repair): Promise<void> => {
    if (!repair.ok) {
      tally.stillFailing++;
      const why = repair.why.slice(0, 120);
      tally.why.set(why, (tally.why.get(why) ?? 0) + 1);
      return;
    }
    if (opts.dryRun) {
      tally.replayed++;
      return;
    }
    // not the event_id: the events stream already saw it, on the bad original, and would drop this one
    const r = await opts.producer.publish(repair.envelope, { msgId: `replay:${repair.envelope.eventId!}` });
    if (r.duplicate) tally.duplicates++;
    else tally.replayed++;
    await deleteDeadLetter(jsm, prefix, seq);
  };
  if ('lines' in source) {
    // opened only now: a readline interface loses the lines it reads before iteration starts
    for await (const text of source.lines()) {
      if (!text.trim()) continue;
      const line = JSON.parse(text) as ExportLine;
      // a line whose dead letter is gone was replayed before: running a file twice changes nothing
      if (!(await deadLetterExists(jsm, prefix, line.seq))) {
        tally.alreadyReplayed++;
        continue;
      }
      await handle(line.seq, repairLine(line, ++sequence));
    }
  } else {
    const filter = source.reason ? { reason: source.reason } : {};
    for await (const dl of readDeadLetters(nc.jetstream(), jsm, prefix, filter))
      await handle(dl.seq, repairStored(dl, ++sequence));
  }
  await opts.producer.flush();
  return tally;
}
