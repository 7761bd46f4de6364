// The HTTP collector: web and app clients that cannot speak NATS post events (native or Segment calls).
// Routes: POST /v1/events and /v1/batch take a batch ({"batch": [...]} or an array); /v1/track,
// /v1/identify, /v1/page, /v1/screen, /v1/group and /v1/alias take one Segment call (Segment's HTTP
// tracking API). Each event is mapped, checked against the key's trust level (trust.ts), validated and
// published on its own; every rejected event is kept in the dead-letter stream with its JSON (a copy
// cut at DEAD_LETTER_MAX_BYTES, with its size and digest in the detail, when it is larger).
//
// Retry contract for clients:
//   200  each event was stored, was a duplicate, or was rejected and dead-lettered: do not resend the
//        batch. Events rejected with reason `publish_failed` may be resent on their own, in order.
//   503  resend the whole batch later (Retry-After): no event could be published (the event stream is
//        unavailable; answered within about COLLECTOR_PUBLISH_TIMEOUT), a rejected event could not even
//        be dead-lettered, or the collector is at COLLECTOR_MAX_CONCURRENT_REQUESTS. An event that keeps
//        its event_id across a resend (any event with a client id: event_id or messageId) is dropped
//        as a duplicate where it was already stored; one without may be stored twice.
//   429  the write key is over COLLECTOR_RATE_LIMIT events per second: resend after Retry-After.
//   4xx  the request itself is wrong (401 key, 400 body or invalid UTF-8, 408 too slow, 413 size):
//        resending it unchanged will not help.
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { IncomingHttpHeaders } from 'node:http';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Config } from '../../infra/config';
import type { Logger } from '../../infra/logger';
import type { Metrics } from '../../infra/metrics';
import { payloadTypeOf, type EnvelopeInit } from '../../schemas/events';
import { EventValidationError, type ValidationIssue } from '../../schemas/validate';
import type { DeadLetter } from '../dlq';
import { userKey } from '../topology';
import { boundedJson } from './bounded-json';
import { mapIncomingEvent } from './mapping';
import { TokenBuckets } from './rate-limit';
import { KeyTable, publicKeyRefusal, type KeyOwner } from './trust';
import { verifyUserToken } from './user-token';

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
export type RejectReason =
  | 'invalid_event'
  | 'unmappable'
  | 'publish_failed'
  /** A public write key sent an event only a server key may send. */
  | 'forbidden_event'
  /** The shop requires signed user tokens and this event's token is missing, wrong or expired. */
  | 'unauthenticated_user';

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

export const BATCH_ROUTES = ['/v1/events', '/v1/batch'] as const;
/** Segment's single-call routes, and the call type each implies. */
export const CALL_ROUTES = {
  '/v1/track': 'track',
  '/v1/identify': 'identify',
  '/v1/page': 'page',
  '/v1/screen': 'screen',
  '/v1/group': 'group',
  '/v1/alias': 'alias',
} as const;
/** Longest dead-letter copy of a rejected event: well under NATS's 1 MiB max payload with headers. */
export const DEAD_LETTER_MAX_BYTES = 256 * 1024;
const RETRY_AFTER_SECONDS = '5';
const gunzipAsync = promisify(gunzip);
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

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
/** A parsed request: its events, the batch's sentAt and the write key sent in the body, if any. */
type Batch = { ok: true; events: unknown[]; sentAt?: unknown; bodyKey?: string; digest: string } | Refusal;

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

async function readBatch(req: FastifyRequest, cfg: Config['collector'], call?: string): Promise<Batch> {
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
 * publish failure no new publish starts in this batch (the stream is in trouble: the request is
 * answered within about one publish timeout rather than one per user), and that user's later events
 * are never sent ahead of the failed one. Returns the first publish error message, if any.
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
      if (failed || firstError !== undefined) {
        const message = failed
          ? 'not sent: an earlier event of the same user in this batch failed to publish'
          : 'not sent: another event of this batch failed to publish; send it again later';
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

const UNAUTHORIZED_MESSAGE =
  'a valid write key is required: Authorization: Basic base64(<write key>:), Bearer <write key>, X-Write-Key, or "writeKey" in the body';
const NO_KEYS_MESSAGE =
  'this collector has no write keys configured: set COLLECTOR_WRITE_KEYS (public) or COLLECTOR_SERVER_KEYS (server) as shop_id:key pairs';

/** The user token of an event: its context.userToken, else the request's X-User-Token header. */
function userTokenOf(raw: unknown, headers: IncomingHttpHeaders): string | undefined {
  const context = isObject(raw) ? raw['context'] : undefined;
  const inEvent = isObject(context) ? (context['userToken'] ?? context['user_token']) : undefined;
  if (typeof inEvent === 'string' && inEvent !== '') return inEvent;
  const header = headers['x-user-token'];
  return typeof header === 'string' && header !== '' ? header : undefined;
}

export function buildCollector(deps: CollectorDeps): FastifyInstance {
  const { config, logger, metrics } = deps;
  const now = deps.now ?? Date.now;
  const concurrency = deps.publishConcurrency ?? 64;
  const producerId = deps.producerId ?? `collector-${hostname()}-${process.pid}`;
  const keys = new KeyTable(config.writeKeys, config.serverKeys);
  if (keys.size === 0) logger.warn(NO_KEYS_MESSAGE);
  const buckets = new TokenBuckets(config.rateLimit, Math.max(config.rateBurst, config.maxBatch), now);
  const corsOrigins =
    config.corsOrigins.trim() === '*'
      ? '*'
      : new Set(
          config.corsOrigins
            .split(',')
            .map((o) => o.trim())
            .filter(Boolean),
        );
  let sequence = 0;
  let inFlight = 0;
  const releases = new WeakMap<FastifyRequest, () => void>();

  const app = Fastify({
    logger: false,
    bodyLimit: config.maxBodyBytes,
    // A slow client (or one that never finishes its body) is cut off: 408, its memory freed.
    requestTimeout: config.requestTimeoutMs,
    connectionTimeout: 2 * config.requestTimeoutMs,
  });
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

  // CORS: browsers post from the shop's pages; the write key is public, no cookies are read.
  app.addHook('onRequest', async (req, reply) => {
    const origin = req.headers.origin;
    if (origin === undefined) return;
    if (corsOrigins === '*') reply.header('access-control-allow-origin', '*');
    else if (corsOrigins.has(origin))
      reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
    else return;
    reply.header('access-control-expose-headers', 'Retry-After');
  });
  app.options('/v1/*', async (_req, reply) => {
    reply
      .code(204)
      .header('access-control-allow-methods', 'POST, OPTIONS')
      .header(
        'access-control-allow-headers',
        'Authorization, Content-Type, Content-Encoding, X-Write-Key, X-User-Token',
      )
      .header('access-control-max-age', '86400');
    return reply.send();
  });

  app.get('/healthz', () => ({ ok: true }));

  const deny = (reply: FastifyReply, status: number, error: string, message: string, retryAfter?: number) => {
    reply.code(status);
    if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter));
    return reply.send({ error, message });
  };

  const routeOptions = (call?: string) => ({
    // Before the body is read: a full collector, an unknown key or an empty bucket cost no parsing.
    onRequest: async (req: FastifyRequest, reply: FastifyReply) => {
      if (inFlight >= config.maxConcurrentRequests) {
        metrics?.collectorRefused.inc({ reason: 'busy' });
        return deny(
          reply,
          503,
          'busy',
          'the collector is at its limit of concurrent requests; retry later',
          1,
        );
      }
      inFlight++;
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        inFlight--;
      };
      releases.set(req, release);
      reply.raw.once('close', release); // also when the client goes away before the answer
      if (keys.size === 0) return deny(reply, 401, 'no_keys_configured', NO_KEYS_MESSAGE);
      const headerKey = writeKeyFrom(req.headers);
      if (headerKey === undefined) return; // maybe in the body (Segment's browser library)
      const owner = keys.lookup(headerKey);
      if (!owner) {
        logger.warn({ hasKey: true }, 'collector request with an unknown write key');
        return deny(reply, 401, 'unauthorized', UNAUTHORIZED_MESSAGE);
      }
      const wait = buckets.waitFor(owner.id, 1);
      if (wait > 0) return overLimit(reply, owner, wait);
    },
    onResponse: async (req: FastifyRequest, reply: FastifyReply) => {
      releases.get(req)?.();
      metrics?.collectorRequestSeconds.observe(reply.elapsedTime / 1000);
    },
    handler: async (req: FastifyRequest, reply: FastifyReply) => {
      const batch = await readBatch(req, config, call);
      const headerKey = writeKeyFrom(req.headers);
      const owner = keys.lookup(headerKey ?? (batch.ok ? batch.bodyKey : undefined));
      if (!owner) {
        logger.warn(
          { hasKey: headerKey !== undefined || (batch.ok && batch.bodyKey !== undefined) },
          'collector request without a known write key',
        );
        return deny(reply, 401, 'unauthorized', UNAUTHORIZED_MESSAGE);
      }
      if (!batch.ok) {
        logger.info({ shopId: owner.shopId, error: batch.error }, 'collector request refused');
        return deny(reply, batch.status, batch.error, batch.message);
      }
      const wait = buckets.take(owner.id, batch.events.length);
      if (wait > 0) return overLimit(reply, owner, wait);
      const { status, body } = await collect(batch, owner, req.headers);
      if (status === 503) reply.header('retry-after', RETRY_AFTER_SECONDS);
      reply.code(status);
      return body;
    },
  });

  function overLimit(reply: FastifyReply, owner: KeyOwner, waitSeconds: number) {
    metrics?.collectorRefused.inc({ reason: 'rate_limited' });
    logger.warn({ shopId: owner.shopId, trust: owner.trust }, 'collector write key over its rate limit');
    const message = `this write key may send ${config.rateLimit} events per second; retry after ${waitSeconds} s`;
    return deny(reply, 429, 'rate_limited', message, waitSeconds);
  }

  for (const route of BATCH_ROUTES) app.post(route, routeOptions());
  for (const [route, call] of Object.entries(CALL_ROUTES)) app.post(route, routeOptions(call));

  /** Why this event may not come from this key (trust level, user token); undefined when it may. */
  function refusal(
    owner: KeyOwner,
    envelope: EnvelopeInit,
    raw: unknown,
    headers: IncomingHttpHeaders,
  ): { reason: RejectReason; message: string } | undefined {
    if (owner.trust === 'server') return undefined;
    const forbidden = publicKeyRefusal(payloadTypeOf(envelope)!, envelope);
    if (forbidden) return { reason: 'forbidden_event', message: forbidden };
    const secret = config.userTokenSecrets[owner.shopId];
    if (secret === undefined || !envelope.userId) return undefined;
    const check = verifyUserToken(secret, userTokenOf(raw, headers), owner.shopId, envelope.userId, now());
    return check.ok ? undefined : { reason: 'unauthenticated_user', message: check.message };
  }

  async function collect(
    batch: Extract<Batch, { ok: true }>,
    owner: KeyOwner,
    headers: IncomingHttpHeaders,
  ): Promise<{ status: number; body: BatchResponse }> {
    const { events } = batch;
    const { shopId } = owner;
    const receivedAt = now();
    const outcome = new Outcome(events.length);
    const byUser = new Map<string, UserQueue>();
    events.forEach((raw, index) => {
      const m = mapOne(raw, { shopId, receivedAt, producerId, sequence: ++sequence, sentAt: batch.sentAt });
      if (m.ok) {
        const refused = refusal(owner, m.envelope, raw, headers);
        if (refused) {
          const { reason, message } = refused;
          outcome.reject({ index, reason, message, event_id: m.envelope.eventId! }, message);
          return;
        }
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

    // Dead letters get what is left of the publish budget (at least 1 s): with NATS down the request is
    // still answered 503 within about COLLECTOR_PUBLISH_TIMEOUT + 1 s.
    const deadLetterMs = Math.max(1000, receivedAt + config.publishTimeoutMs - now());
    let deadLetterErrors = 0;
    await forEachLimit(outcome.rejections, concurrency, async ({ index, detail }) => {
      try {
        const dl = deadLetterFor(events[index], detail, shopId, `${batch.digest}:${index}`);
        await withTimeout(deps.deadLetter(dl), deadLetterMs, 'dead-letter publish');
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
      { shopId, trust: owner.trust, events: events.length, accepted, duplicates, rejected, reasons, status },
      'collector batch',
    );
    return { status, body };
  }

  /** Maps one event; a mapping bug rejects that event (kept as a dead letter), never the batch. */
  function mapOne(
    raw: unknown,
    ctx: Parameters<typeof mapIncomingEvent>[1],
  ): ReturnType<typeof mapIncomingEvent> {
    try {
      return mapIncomingEvent(raw, ctx);
    } catch (err) {
      logger.error({ shopId: ctx.shopId, err: (err as Error).message }, 'collector could not map an event');
      const message = 'the collector could not read this event';
      return { ok: false, reason: 'unmappable', issues: [{ path: '', code: 'type', message }] };
    }
  }

  return app;
}

/** p, or a rejection after `ms` (p itself is left to settle on its own). */
async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function describe(issues: ValidationIssue[]): string {
  return issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
}

/**
 * The event's JSON as received (with a Segment batch-level context merged in, so it stands alone),
 * whatever its depth. A copy larger than DEAD_LETTER_MAX_BYTES is cut there, and the detail says so:
 * a dead letter must always fit in a NATS message, or the good events of its batch would be retried.
 */
function deadLetterFor(raw: unknown, detail: string, shopId: string, position: string): DeadLetter {
  const { text, truncated } = boundedJson(raw, DEAD_LETTER_MAX_BYTES);
  const data = Buffer.from(text, 'utf8');
  const note = truncated
    ? ` [dead-letter copy truncated to its first ${data.length} bytes; the event was larger]`
    : '';
  // A resent batch dead-letters the same event once (within the DLQ duplicate window): keyed by its
  // JSON, or, for a cut copy, by the request body and the event's place in it.
  const id = createHash('sha256').update(shopId).update('\0');
  if (truncated) id.update('truncated\0').update(position);
  else id.update(data);
  return {
    reason: 'collector_rejected',
    detail: `${detail.slice(0, 800)}${note}`,
    data,
    contentType: 'application/json',
    shopId,
    sourceSubject: 'http:/v1/events',
    msgId: `collector:${id.digest('hex')}`,
  };
}
