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

/**
 * Reads dead letters in order (all, or of one reason); consumes nothing. Every fetch is drained into
 * memory before anything is yielded (a slow reader, such as a replay publishing each one, never holds
 * a fetch open past its expiry), and starts a fresh ordered consumer right after the last dead letter
 * actually yielded: a fetch that ends early can cost a re-read, never a gap. (An ordered consumer
 * reused across fetches moves its cursor when a message arrives, not when it is read, so messages
 * delivered to a fetch that ended before they were read were skipped: exports lost most letters.)
 * Ends at the stream's last sequence when reading began, or at `limit`.
 */
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
  const endSeq = info.state.last_seq;
  let next = info.state.first_seq;
  let emptyFetches = 0;
  while (remaining > 0 && next <= endSeq) {
    const consumer = await js.consumers.get(stream, { filterSubjects: [filter], opt_start_seq: next });
    const batch: JsMsg[] = [];
    let pending = -1;
    try {
      for await (const m of await consumer.fetch({ max_messages: Math.min(256, remaining), expires: 2000 })) {
        if (m.seq > endSeq) break; // written after reading began
        batch.push(m);
        pending = m.info.pending;
      }
    } finally {
      await consumer.delete().catch(() => undefined);
    }
    if (batch.length === 0) {
      // nothing at or after `next` matches (deleted by a replay, or of another reason), or a slow server
      const left = await jsm.streams.info(stream, { subjects_filter: filter });
      if (left.state.last_seq < next || ++emptyFetches >= 3) return;
      continue;
    }
    emptyFetches = 0;
    for (const m of batch) {
      remaining--;
      next = m.seq + 1;
      yield fromJsMsg(m);
      if (remaining <= 0) return;
    }
    if (pending === 0) return;
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
