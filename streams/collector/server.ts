// The HTTP collector: web and app clients that cannot speak NATS post batches of events (native or
// Segment track calls) to POST /v1/events. Each event is mapped, validated and published on its own;
// every rejected event is kept in the dead-letter stream with its JSON.
//
// Retry contract for clients:
//   200  each event was stored, was a duplicate, or was rejected and dead-lettered: do not resend the
//        batch. Events rejected with reason `publish_failed` may be resent on their own, in order.
//   503  resend the whole batch later (Retry-After): no event could be published (the event stream is
//        unavailable), or a rejected event could not even be dead-lettered. An event that keeps its
//        event_id across a resend (a ULID event_id, or a messageId with a timestamp) is dropped as a
//        duplicate where it was already stored; one without may be stored twice.
//   4xx  the request itself is wrong (401 key, 400 body, 413 size): resending it unchanged will not help.
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { IncomingHttpHeaders } from 'node:http';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Config } from '../../infra/config';
import type { Logger } from '../../infra/logger';
import type { Metrics } from '../../infra/metrics';
import type { EnvelopeInit } from '../../schemas/events';
import { EventValidationError, type ValidationIssue } from '../../schemas/validate';
import type { DeadLetter } from '../dlq';
import { userKey } from '../topology';
import { mapIncomingEvent } from './mapping';

export interface CollectorDeps {
  config: Config['collector'];
  publish(envelope: EnvelopeInit): Promise<{ duplicate: boolean }>;
  deadLetter(dl: DeadLetter): Promise<void>;
  logger: Logger;
  metrics?: Metrics;
  now?: () => number;
  /** Publishes in flight at once per request (one user's events are always sent one by one). Default 64. */
  publishConcurrency?: number;
  /** Scopes envelope `sequence`. Default collector-<host>-<pid>. */
  producerId?: string;
}

export type EventStatus = 'accepted' | 'duplicate' | 'rejected';
export type RejectReason = 'invalid_event' | 'unmappable' | 'publish_failed';

export interface EventResult {
  index: number;
  status: EventStatus;
  event_id?: string;
  reason?: RejectReason;
  errors?: ValidationIssue[];
  message?: string;
}

export interface BatchResponse {
  accepted: number;
  duplicates: number;
  rejected: number;
  results: EventResult[];
  /** Only on 503. */
  error?: 'publish_failed' | 'dead_letter_failed';
  message?: string;
}

const EVENTS_ROUTE = '/v1/events';
const RETRY_AFTER_SECONDS = '5';
const gunzipAsync = promisify(gunzip);

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The write key from `Authorization: Basic base64(key:)` (Segment), `Bearer <key>` or `X-Write-Key`. */
export function writeKeyFrom(headers: IncomingHttpHeaders): string | undefined {
  const [scheme = '', value = ''] = (headers.authorization ?? '').trim().split(/\s+/, 2);
  if (/^basic$/i.test(scheme))
    return Buffer.from(value, 'base64').toString('utf8').split(':')[0] || undefined;
  if (/^bearer$/i.test(scheme)) return value || undefined;
  const header = headers['x-write-key'];
  return typeof header === 'string' && header !== '' ? header : undefined;
}

function shopFor(writeKeys: Record<string, string>, headers: IncomingHttpHeaders): string | undefined {
  const key = writeKeyFrom(headers);
  return key !== undefined && Object.hasOwn(writeKeys, key) ? writeKeys[key] : undefined;
}

/** Runs fn over items, at most `limit` at a time. fn must not throw. */
async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
}

type Refusal = { ok: false; status: 400 | 413 | 415; error: string; message: string };
type Batch = { ok: true; events: unknown[] } | Refusal;

const refuse = (status: Refusal['status'], error: string, message: string): Refusal => ({
  ok: false,
  status,
  error,
  message,
});

async function decodeBody(req: FastifyRequest, maxBytes: number): Promise<Buffer | Refusal> {
  const body = req.body;
  if (!Buffer.isBuffer(body) || body.length === 0) {
    return refuse(400, 'empty_body', 'the request body must be a JSON batch');
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

async function readBatch(req: FastifyRequest, cfg: Config['collector']): Promise<Batch> {
  const body = await decodeBody(req, cfg.maxBodyBytes);
  if (!Buffer.isBuffer(body)) return body;
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch (err) {
    return refuse(400, 'invalid_json', `the request body is not valid JSON: ${(err as Error).message}`);
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
  // Segment: a batch-level context is merged into each event's own context.
  const context = isObject(json) ? json['context'] : undefined;
  if (!isObject(context)) return { ok: true, events };
  const withContext = (e: unknown): unknown =>
    isObject(e) && (e['context'] === undefined || isObject(e['context']))
      ? { ...e, context: { ...context, ...e['context'] } }
      : e;
  return { ok: true, events: events.map(withContext) };
}

/** Per-event results of one batch, and the rejected events still to dead-letter. */
class Outcome {
  readonly results: EventResult[];
  readonly rejections: { index: number; detail: string }[] = [];
  constructor(size: number) {
    this.results = new Array<EventResult>(size);
  }

  settle(index: number, status: 'accepted' | 'duplicate', event_id: string): void {
    this.results[index] = { index, status, event_id };
  }

  reject(r: Omit<EventResult, 'status'> & { reason: RejectReason }, detail: string): void {
    this.results[r.index] = { ...r, status: 'rejected' };
    this.rejections.push({ index: r.index, detail: `${r.reason}: ${detail}` });
  }

  count(status: EventStatus): number {
    return this.results.filter((r) => r.status === status).length;
  }

  reasons(): Partial<Record<RejectReason, number>> {
    const out: Partial<Record<RejectReason, number>> = {};
    for (const r of this.results) if (r.reason) out[r.reason] = (out[r.reason] ?? 0) + 1;
    return out;
  }
}

type UserQueue = { index: number; envelope: EnvelopeInit }[];

/**
 * Publishes each user's events one at a time in batch order, up to `concurrency` users at once. After a
 * publish failure the user's later events are not sent: they would land ahead of the failed one when
 * the client resends it. Returns the first publish error message, if any.
 */
async function publishInOrder(
  queues: UserQueue[],
  publish: CollectorDeps['publish'],
  concurrency: number,
  outcome: Outcome,
): Promise<string | undefined> {
  let firstError: string | undefined;
  await forEachLimit(queues, concurrency, async (queue) => {
    let failed = false;
    for (const { index, envelope } of queue) {
      const event_id = envelope.eventId!;
      if (failed) {
        const message = 'not sent: an earlier event of the same user in this batch failed to publish';
        outcome.reject(
          { index, event_id, reason: 'publish_failed', message },
          `${message}; event_id=${event_id}`,
        );
        continue;
      }
      try {
        const receipt = await publish(envelope);
        outcome.settle(index, receipt.duplicate ? 'duplicate' : 'accepted', event_id);
      } catch (err) {
        if (err instanceof EventValidationError) {
          outcome.reject(
            { index, event_id, reason: 'invalid_event', errors: err.issues },
            describe(err.issues),
          );
          continue;
        }
        failed = true;
        firstError ??= (err as Error).message;
        const message = 'the event could not be stored right now; send it again later';
        const detail = `${(err as Error).message}; event_id=${event_id}`;
        outcome.reject({ index, event_id, reason: 'publish_failed', message }, detail);
      }
    }
  });
  return firstError;
}

function respond(outcome: Outcome, deadLetterErrors: number): { status: number; body: BatchResponse } {
  const body: BatchResponse = {
    accepted: outcome.count('accepted'),
    duplicates: outcome.count('duplicate'),
    rejected: outcome.count('rejected'),
    results: outcome.results,
  };
  if (deadLetterErrors > 0) {
    const message = `${deadLetterErrors} rejected event(s) could not be kept; send the batch again later`;
    return { status: 503, body: { ...body, error: 'dead_letter_failed', message } };
  }
  if ((outcome.reasons().publish_failed ?? 0) > 0 && body.accepted + body.duplicates === 0) {
    const message = 'no event could be stored right now; send the batch again later';
    return { status: 503, body: { ...body, error: 'publish_failed', message } };
  }
  return { status: 200, body };
}

export function buildCollector(deps: CollectorDeps): FastifyInstance {
  const { config, logger, metrics } = deps;
  const now = deps.now ?? Date.now;
  const concurrency = deps.publishConcurrency ?? 64;
  const producerId = deps.producerId ?? `collector-${hostname()}-${process.pid}`;
  let sequence = 0;

  const app = Fastify({ logger: false, bodyLimit: config.maxBodyBytes });
  // Any content type: Segment's browser SDK posts JSON as text/plain to avoid a CORS preflight.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.setErrorHandler(async (err: FastifyError, _req, reply) => {
    const status = err.statusCode ?? 500;
    if (status === 413) {
      reply.code(413);
      return {
        error: 'payload_too_large',
        message: `the request body is larger than ${config.maxBodyBytes} bytes`,
      };
    }
    if (status < 500) {
      reply.code(status);
      return { error: err.code ?? 'bad_request', message: err.message };
    }
    logger.error({ err: err.message }, 'collector request failed');
    reply.code(500);
    return { error: 'internal', message: 'internal error' };
  });

  app.get('/healthz', () => ({ ok: true }));

  app.post(EVENTS_ROUTE, {
    // Before the body is read: an unknown key costs no parsing.
    onRequest: async (req, reply) => {
      if (shopFor(config.writeKeys, req.headers) !== undefined) return;
      logger.warn(
        { hasKey: writeKeyFrom(req.headers) !== undefined },
        'collector request with an unknown write key',
      );
      reply.code(401);
      return reply.send({
        error: 'unauthorized',
        message:
          'a valid write key is required: Authorization: Basic base64(<write key>:), Bearer <write key> or X-Write-Key',
      });
    },
    onResponse: async (_req, reply) => {
      metrics?.collectorRequestSeconds.observe(reply.elapsedTime / 1000);
    },
    handler: async (req, reply) => {
      const shopId = shopFor(config.writeKeys, req.headers)!;
      const batch = await readBatch(req, config);
      if (!batch.ok) {
        logger.info({ shopId, error: batch.error }, 'collector request refused');
        reply.code(batch.status);
        return { error: batch.error, message: batch.message };
      }
      const { status, body } = await collect(batch.events, shopId);
      if (status === 503) reply.header('retry-after', RETRY_AFTER_SECONDS);
      reply.code(status);
      return body;
    },
  });

  async function collect(
    events: unknown[],
    shopId: string,
  ): Promise<{ status: number; body: BatchResponse }> {
    const receivedAt = now();
    const outcome = new Outcome(events.length);
    const byUser = new Map<string, UserQueue>();
    events.forEach((raw, index) => {
      const m = mapIncomingEvent(raw, { shopId, receivedAt, producerId, sequence: ++sequence });
      if (m.ok) {
        const key = userKey(m.envelope);
        const queue = byUser.get(key) ?? byUser.set(key, []).get(key)!;
        queue.push({ index, envelope: m.envelope });
        return;
      }
      const eventId = m.envelope?.eventId;
      const result = { index, reason: m.reason, errors: m.issues, ...(eventId ? { event_id: eventId } : {}) };
      outcome.reject(result, describe(m.issues));
    });

    const publishError = await publishInOrder(
      [...byUser.values()],
      (e) => deps.publish(e),
      concurrency,
      outcome,
    );

    let deadLetterErrors = 0;
    await forEachLimit(outcome.rejections, concurrency, async ({ index, detail }) => {
      try {
        await deps.deadLetter(deadLetterFor(events[index], detail, shopId));
      } catch (err) {
        deadLetterErrors++;
        logger.error(
          { shopId, index, err: (err as Error).message },
          'collector could not dead-letter an event',
        );
      }
    });

    const { status, body } = respond(outcome, deadLetterErrors);
    for (const s of ['accepted', 'duplicate', 'rejected'] as const) {
      const n = outcome.count(s);
      if (n > 0) metrics?.collectorEvents.inc({ result: s }, n);
    }
    const reasons = outcome.reasons();
    if (publishError)
      logger.warn({ shopId, failed: reasons.publish_failed, err: publishError }, 'collector publish failed');
    const { accepted, duplicates, rejected } = body;
    logger.info(
      { shopId, events: events.length, accepted, duplicates, rejected, reasons, status },
      'collector batch',
    );
    return { status, body };
  }

  return app;
}

function describe(issues: ValidationIssue[]): string {
  return issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
}

/** The event's JSON as received (with a Segment batch-level context merged in, so it stands alone). */
function deadLetterFor(raw: unknown, detail: string, shopId: string): DeadLetter {
  const data = Buffer.from(JSON.stringify(raw) ?? 'null', 'utf8');
  return {
    reason: 'collector_rejected',
    detail,
    data,
    contentType: 'application/json',
    shopId,
    sourceSubject: `http:${EVENTS_ROUTE}`,
    // A resent batch dead-letters the same event once (within the DLQ duplicate window).
    msgId: `collector:${createHash('sha256').update(shopId).update('\0').update(data).digest('hex')}`,
  };
}
