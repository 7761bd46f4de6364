// The dead-letter stream: nothing is lost. A dead letter keeps the original bytes untouched and says
// why in typed headers; `shopstream dlq list` counts them, `shopstream dlq replay` re-publishes the
// ones that are fixed.
import { headers, type JetStreamClient, type JetStreamManager, type JsMsg, type MsgHdrs } from 'nats';
import { DLQ_HEADERS, DLQ_REASONS, dlqSubject, names, type DlqReason } from './topology';

export interface DeadLetter {
  reason: DlqReason;
  detail: string;
  data: Uint8Array;
  /** Where it came from: the events subject and stream sequence, or `http:<shop>` for the collector. */
  sourceSubject?: string;
  sourceSequence?: number;
  contentType?: string;
  shopId?: string;
  /** Dedup key for the DLQ stream: a redelivered bad message is dead-lettered once. */
  msgId?: string;
}

const MAX_DETAIL = 1000;

/** A dead letter whose body is an Envelope as JSON (envelopeToJson), e.g. from the producer SDK. */
export const ENVELOPE_JSON_CONTENT_TYPE = 'application/vnd.shopstream.envelope+json';

export async function publishDeadLetter(js: JetStreamClient, prefix: string, dl: DeadLetter): Promise<void> {
  const h = headers();
  h.set(DLQ_HEADERS.reason, dl.reason);
  h.set(DLQ_HEADERS.detail, dl.detail.replace(/[\r\n]+/g, ' ').slice(0, MAX_DETAIL));
  h.set(DLQ_HEADERS.failedAt, new Date().toISOString());
  if (dl.sourceSubject) h.set(DLQ_HEADERS.sourceSubject, dl.sourceSubject);
  if (dl.sourceSequence !== undefined) h.set(DLQ_HEADERS.sourceSequence, String(dl.sourceSequence));
  if (dl.contentType) h.set(DLQ_HEADERS.contentType, dl.contentType);
  if (dl.shopId) h.set(DLQ_HEADERS.shopId, dl.shopId);
  await js.publish(dlqSubject(prefix, dl.reason), dl.data, {
    headers: h,
    expect: { streamName: names(prefix).dlqStream },
    ...(dl.msgId ? { msgID: dl.msgId } : {}),
  });
}

export interface StoredDeadLetter extends DeadLetter {
  seq: number;
  failedAt: string;
}

function fromJsMsg(m: JsMsg): StoredDeadLetter {
  const h: MsgHdrs | undefined = m.headers;
  const get = (k: string): string | undefined => h?.get(k) || undefined;
  const reason = get(DLQ_HEADERS.reason) as DlqReason | undefined;
  const seqRaw = get(DLQ_HEADERS.sourceSequence);
  const out: StoredDeadLetter = {
    seq: m.seq,
    reason: reason && (DLQ_REASONS as readonly string[]).includes(reason) ? reason : 'processing_failed',
    detail: get(DLQ_HEADERS.detail) ?? '',
    data: m.data,
    failedAt: get(DLQ_HEADERS.failedAt) ?? new Date(m.info.timestampNanos / 1e6).toISOString(),
  };
  const src = get(DLQ_HEADERS.sourceSubject);
  if (src) out.sourceSubject = src;
  if (seqRaw) out.sourceSequence = Number(seqRaw);
  const ct = get(DLQ_HEADERS.contentType);
  if (ct) out.contentType = ct;
  const shop = get(DLQ_HEADERS.shopId);
  if (shop) out.shopId = shop;
  return out;
}

/** Reads dead letters in order (all, or of one reason) with an ordered consumer; consumes nothing. */
export async function* readDeadLetters(
  js: JetStreamClient,
  jsm: JetStreamManager,
  prefix: string,
  opts: { reason?: DlqReason; limit?: number } = {},
): AsyncGenerator<StoredDeadLetter> {
  const stream = names(prefix).dlqStream;
  const filter = opts.reason ? dlqSubject(prefix, opts.reason) : `${prefix}.dlq.>`;
  const info = await jsm.streams.info(stream, { subjects_filter: filter });
  let remaining = Math.min(
    opts.limit ?? Number.POSITIVE_INFINITY,
    Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0),
  );
  if (remaining <= 0) return;
  const consumer = await js.consumers.get(stream, { filterSubjects: [filter] });
  try {
    while (remaining > 0) {
      const batch = await consumer.fetch({ max_messages: Math.min(256, remaining), expires: 1000 });
      let got = 0;
      let pending = 1;
      for await (const m of batch) {
        got++;
        remaining--;
        pending = m.info.pending;
        yield fromJsMsg(m);
        if (remaining <= 0) break;
      }
      if (got === 0 || pending === 0) return;
    }
  } finally {
    await consumer.delete().catch(() => undefined);
  }
}

export interface DlqSummary {
  total: number;
  byReason: Record<string, number>;
}

export async function summarizeDeadLetters(jsm: JetStreamManager, prefix: string): Promise<DlqSummary> {
  const info = await jsm.streams.info(names(prefix).dlqStream, { subjects_filter: `${prefix}.dlq.>` });
  const byReason: Record<string, number> = {};
  for (const [subject, count] of Object.entries(info.state.subjects ?? {})) {
    byReason[subject.slice(`${prefix}.dlq.`.length)] = count;
  }
  return { total: info.state.messages, byReason };
}

export async function deleteDeadLetter(jsm: JetStreamManager, prefix: string, seq: number): Promise<void> {
  await jsm.streams.deleteMessage(names(prefix).dlqStream, seq, false);
}

/** Whether a dead letter is still in the stream (a replayed one has been removed). */
export async function deadLetterExists(jsm: JetStreamManager, prefix: string, seq: number): Promise<boolean> {
  try {
    await jsm.streams.getMessage(names(prefix).dlqStream, { seq });
    return true;
  } catch (err) {
    if (/no message found|not found|10037/i.test((err as Error).message)) return false;
    throw err;
  }
}
