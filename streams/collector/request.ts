// Reading a collector request: the body (gzip or none, bounded), its JSON (UTF-8 only) and the batch in
// it (a native or Segment batch, or one Segment call on its own route), or the refusal the client gets.
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { FastifyRequest } from 'fastify';
import type { Config } from '../../infra/config';

const gunzipAsync = promisify(gunzip);
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

export type Obj = Record<string, unknown>;
export const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export type Refusal = { ok: false; status: 400 | 413 | 415; error: string; message: string };
/** A parsed request: its events, the batch's sentAt and the write key sent in the body, if any. */
export type Batch =
  { ok: true; events: unknown[]; sentAt?: unknown; bodyKey?: string; digest: string } | Refusal;

const refuse = (status: Refusal['status'], error: string, message: string): Refusal => ({
  ok: false,
  status,
  error,
  message,
});

async function decodeBody(req: FastifyRequest, maxBytes: number): Promise<Buffer | Refusal> {
  const body = req.body;
  if (!Buffer.isBuffer(body) || body.length === 0) {
    return refuse(400, 'empty_body', 'the request body must be JSON');
  }
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (encoding === 'identity') return body;
  if (encoding !== 'gzip') {
    return refuse(
      415,
      'unsupported_encoding',
      `Content-Encoding ${encoding} is not supported: use gzip or none`,
    );
  }
  try {
    return await gunzipAsync(body, { maxOutputLength: maxBytes });
  } catch (err) {
    return (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE'
      ? refuse(413, 'payload_too_large', `the decompressed body is larger than ${maxBytes} bytes`)
      : refuse(400, 'invalid_gzip', 'Content-Encoding is gzip but the body is not valid gzip');
  }
}

/**
 * The body's JSON. Bytes that are not UTF-8 refuse the whole request (400 invalid_utf8): JSON is UTF-8
 * (RFC 8259), events cannot be told apart before parsing, and replacing bytes would store text the
 * client never sent.
 */
async function readJson(
  req: FastifyRequest,
  cfg: Config['collector'],
): Promise<{ json: unknown; digest: string } | Refusal> {
  const body = await decodeBody(req, cfg.maxBodyBytes);
  if (!Buffer.isBuffer(body)) return body;
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    return refuse(400, 'invalid_utf8', 'the request body is not valid UTF-8');
  }
  try {
    return { json: JSON.parse(text), digest: createHash('sha256').update(body).digest('hex') };
  } catch (err) {
    return refuse(400, 'invalid_json', `the request body is not valid JSON: ${(err as Error).message}`);
  }
}

const bodyKeyOf = (json: unknown): string | undefined =>
  isObject(json) && typeof json['writeKey'] === 'string' && json['writeKey'] !== ''
    ? json['writeKey']
    : undefined;

export async function readBatch(
  req: FastifyRequest,
  cfg: Config['collector'],
  call?: string,
): Promise<Batch> {
  const parsed = await readJson(req, cfg);
  if ('ok' in parsed) return parsed;
  const { json, digest } = parsed;
  if (call !== undefined) {
    // Segment's single-call routes: one event, its type implied by the route.
    if (!isObject(json))
      return refuse(400, 'not_an_event', `the body must be one ${call} call as a JSON object`);
    const { writeKey: _key, ...event } = json;
    return { ok: true, events: [{ ...event, type: call }], bodyKey: bodyKeyOf(json), digest };
  }
  const batch: unknown = Array.isArray(json) ? json : isObject(json) ? json['batch'] : undefined;
  if (!Array.isArray(batch)) {
    return refuse(400, 'not_a_batch', 'the body must be {"batch": [events...]} or a JSON array of events');
  }
  if (batch.length > cfg.maxBatch) {
    const message = `the batch has ${batch.length} events; the limit is ${cfg.maxBatch} per request`;
    return refuse(400, 'batch_too_large', message);
  }
  const events: unknown[] = batch;
  const sentAt = isObject(json) ? json['sentAt'] : undefined;
  const base = { ok: true as const, sentAt, bodyKey: bodyKeyOf(json), digest };
  // Segment: a batch-level context is merged into each event's own context.
  const context = isObject(json) ? json['context'] : undefined;
  if (!isObject(context)) return { ...base, events };
  const withContext = (e: unknown): unknown =>
    isObject(e) && (e['context'] === undefined || isObject(e['context']))
      ? { ...e, context: { ...context, ...e['context'] } }
      : e;
  return { ...base, events: events.map(withContext) };
}
