// The HTTP collector: web and app clients that cannot speak NATS post events (native or Segment calls).
// Routes: POST /v1/events and /v1/batch take a batch ({"batch": [...]} or an array); /v1/track,
// /v1/identify, /v1/page, /v1/screen, /v1/group and /v1/alias take one Segment call (Segment's HTTP
// tracking API). Each event is mapped, checked against the key's trust level (trust.ts), validated and
// published on its own; every rejected event is kept in the dead-letter stream with its JSON (a copy
// cut at DEAD_LETTER_MAX_BYTES, with its size and digest in the detail, when it is larger).
// This file: the Fastify wiring and one batch's path. request.ts reads the body, auth.ts checks keys and
// user tokens, outcome.ts publishes and answers, dead-letter.ts keeps rejected events, cors.ts.
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
import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { ConfigError, type Config } from '../../infra/config';
import type { Logger } from '../../infra/logger';
import type { Metrics } from '../../infra/metrics';
import type { EnvelopeInit } from '../../schemas/events';
import type { DeadLetter } from '../dlq';
import { userKey } from '../topology';
import { eventRefusal, NO_KEYS_MESSAGE, UNAUTHORIZED_MESSAGE, writeKeyFrom } from './auth';
import { registerCors } from './cors';
import { deadLetterFor, withTimeout } from './dead-letter';
import { mapIncomingEvent } from './mapping';
import {
  describe,
  forEachLimit,
  Outcome,
  publishInOrder,
  respond,
  type BatchResponse,
  type UserQueue,
} from './outcome';
import { TokenBuckets } from './rate-limit';
import { readBatch, type Batch } from './request';
import { KeyTable, type KeyOwner } from './trust';

export { DEAD_LETTER_MAX_BYTES } from './dead-letter';
export type { BatchResponse, EventResult, EventStatus, RejectReason } from './outcome';
export { writeKeyFrom } from './auth';

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
const RETRY_AFTER_SECONDS = '5';

/**
 * Fastify's `https` option from COLLECTOR_TLS_CERT_FILE / COLLECTOR_TLS_KEY_FILE (none: plain HTTP, as
 * behind a TLS-terminating proxy). One without the other, or a file that cannot be read, is a clear error.
 */
export function collectorTls(config: { tlsCertFile: string; tlsKeyFile: string }): {
  https?: { cert: Buffer; key: Buffer };
} {
  const { tlsCertFile: certFile, tlsKeyFile: keyFile } = config;
  if (!certFile && !keyFile) return {};
  if (!certFile || !keyFile)
    throw new ConfigError([
      {
        variable: certFile ? 'COLLECTOR_TLS_KEY_FILE' : 'COLLECTOR_TLS_CERT_FILE',
        message:
          'COLLECTOR_TLS_CERT_FILE and COLLECTOR_TLS_KEY_FILE go together (the certificate and its key)',
      },
    ]);
  const read = (file: string, name: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new ConfigError([{ variable: name, message: `${file}: ${(err as Error).message}` }]);
    }
  };
  return {
    https: { cert: read(certFile, 'COLLECTOR_TLS_CERT_FILE'), key: read(keyFile, 'COLLECTOR_TLS_KEY_FILE') },
  };
}

export function buildCollector(deps: CollectorDeps): FastifyInstance {
  const { config, logger, metrics } = deps;
  const now = deps.now ?? Date.now;
  const concurrency = deps.publishConcurrency ?? 64;
  const producerId = deps.producerId ?? `collector-${hostname()}-${process.pid}`;
  const keys = new KeyTable(config.writeKeys, config.serverKeys);
  if (keys.size === 0) logger.warn(NO_KEYS_MESSAGE);
  const buckets = new TokenBuckets(config.rateLimit, Math.max(config.rateBurst, config.maxBatch), now);
  let sequence = 0;
  let inFlight = 0;
  const releases = new WeakMap<FastifyRequest, () => void>();

  const app = Fastify({
    logger: false,
    bodyLimit: config.maxBodyBytes,
    // A slow client (or one that never finishes its body) is cut off: 408, its memory freed.
    requestTimeout: config.requestTimeoutMs,
    connectionTimeout: 2 * config.requestTimeoutMs,
    ...collectorTls(config),
  }) as unknown as FastifyInstance; // an https server answers the same routes: typed as the http one

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

  registerCors(app, config.corsOrigins);

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
  const refusal = (owner: KeyOwner, envelope: EnvelopeInit, raw: unknown, headers: IncomingHttpHeaders) =>
    eventRefusal(owner, envelope, raw, headers, config.userTokenSecrets, now());

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
