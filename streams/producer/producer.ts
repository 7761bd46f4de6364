// The producer SDK for platform engineers: typed track() per event type, validation before sending,
// protobuf encoding, Nats-Msg-Id = event_id (the server drops duplicates), a bounded window of
// in-flight publishes, retry on timeouts, flush() and close().
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { headers, type JetStreamClient, type NatsConnection, type PubAck } from 'nats';
import { encodeEnvelope } from '../../schemas/codec';
import {
  SCHEMA_VERSION,
  channelValue,
  payloadField,
  payloadTypeOf,
  type ChannelName,
  type EnvelopeInit,
  type EventType,
  type PayloadMap,
} from '../../schemas/events';
import { newEventId } from '../../schemas/ulid';
import { EventValidationError, validateEnvelope, type ValidationIssue } from '../../schemas/validate';
import { ENVELOPE_JSON_CONTENT_TYPE, publishDeadLetter } from '../dlq';
import type { Config } from '../../infra/config';
import { connectNats } from '../../infra/nats';
import { eventSubject, names, partitionOf, userKey } from '../topology';
import { checkTopology } from '../topology-apply';
import { timeZoneIssue } from '../../schemas/time-zone';
import { InFlightWindow } from './window';
import { sleep } from '../../infra/sleep';

export interface ProducerOptions {
  nats: Pick<Config['nats'], 'url' | 'prefix' | 'partitions'> & Partial<Config['nats']>;
  /** The shop every event belongs to unless track() names another. */
  shopId: string;
  /** Scopes `sequence`; defaults to host, pid and a random suffix. */
  producerId?: string;
  /** Most publishes awaiting a JetStream ack at once; track() waits for room beyond that. Default 1000. */
  maxInFlight?: number;
  /** Per attempt. Default 5000 ms. */
  publishTimeoutMs?: number;
  /** Retries after a timeout (no ack within publishTimeoutMs). Default 5. */
  retries?: number;
  /**
   * How long a publish keeps retrying while no stream answers (503 "no responders": a stream leader
   * being elected after a node was lost, a server restarting), whatever `retries` says. Default
   * 15,000 ms: an election takes a few seconds, and five quick retries (1.5 s) gave up during one.
   */
  unavailableRetryMs?: number;
  /**
   * Longest one publish may take, all attempts and back-offs included (each attempt's timeout is cut
   * to what is left). Default: no bound beyond retries x publishTimeoutMs. The HTTP collector sets a
   * few seconds, so a request is answered 503 quickly while NATS is down instead of being held.
   */
  maxPublishMs?: number;
  /** Reuse a connection (it is not closed by close()). */
  connection?: NatsConnection;
  /**
   * What track() does with an event that breaks a schema rule: 'reject' (default) rejects with an
   * EventValidationError; 'dead-letter' keeps it in the dead-letter stream (reason invalid_event, to
   * fix and replay) and resolves with `deadLettered: true`, so a bad field never breaks the caller.
   */
  onInvalid?: 'reject' | 'dead-letter';
}

export interface TrackInput<T extends EventType> {
  userId?: string;
  anonymousId?: string;
  sessionId?: string;
  channel: ChannelName;
  /** Epoch milliseconds or a Date; default now. */
  occurredAt?: number | Date;
  /** Your own ULID, to make a retried track() idempotent across restarts; default a new one. */
  eventId?: string;
  shopId?: string;
  /**
   * The user's time zone, when you know it: an IANA name ('Asia/Shanghai') or a fixed offset
   * ('+08:00'). Flows use the latest one for quiet hours; an unknown zone fails validation.
   */
  timeZone?: string;
  properties: PayloadMap[T];
}

export interface TrackReceipt {
  eventId: string;
  subject: string;
  stream: string;
  seq: number;
  /** True when the server already had this event_id (within the duplicate window) and dropped it. */
  duplicate: boolean;
  /** With onInvalid 'dead-letter': the event was invalid and is kept as a dead letter instead. */
  deadLettered?: boolean;
  issues?: ValidationIssue[];
}

export interface ProducerStats {
  published: number;
  deadLettered: number;
  duplicates: number;
  retries: number;
  failed: number;
  inFlight: number;
}

export class PublishError extends Error {
  override readonly name = 'PublishError';
  constructor(
    message: string,
    readonly code: 'PUBLISH_TIMEOUT' | 'NO_STREAM' | 'STREAM_FULL' | 'CLOSED' | 'PUBLISH_FAILED',
    readonly eventId: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface PublishOptions {
  /**
   * The Nats-Msg-Id, event_id by default. A dead-letter replay uses another one: the stream has
   * already seen the event_id (it carried the bad original) and would drop the fixed event.
   */
  msgId?: string;
}

export interface Producer {
  track<T extends EventType>(type: T, input: TrackInput<T>): Promise<TrackReceipt>;
  /** Publishes an already built envelope (the collector and DLQ replay use this). Validated too. */
  publish(envelope: EnvelopeInit, options?: PublishOptions): Promise<TrackReceipt>;
  /** Resolves when every publish so far has been acked or has failed. */
  flush(): Promise<void>;
  /** Flushes, then closes the connection if the producer opened it. Idempotent. */
  close(): Promise<void>;
  stats(): ProducerStats;
  readonly producerId: string;
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' || typeof code === 'number' ? String(code) : '';
}

/** The stream's limit, when the server refused the event because the stream is full (DiscardPolicy.New). */
function streamFull(err: unknown): string | undefined {
  const d = (err as { api_error?: { description?: unknown } })?.api_error?.description;
  return typeof d === 'string' && /maximum (bytes|messages)/i.test(d) ? d : undefined;
}

function isRetryable(err: unknown): boolean {
  if (streamFull(err)) return false; // full until old events age out: the caller decides
  const code = errorCode(err);
  // TIMEOUT: no ack in time; 503: no responders (stream leader moving, server restarting)
  return code === 'TIMEOUT' || code === '503' || /timeout|no responders/i.test((err as Error)?.message ?? '');
}

/** The envelope track() sends. Pure apart from the defaults it invents (event id, time now). */
export function trackEnvelope<T extends EventType>(
  type: T,
  input: TrackInput<T>,
  ctx: { shopId: string; producerId: string; sequence: number },
): EnvelopeInit {
  const occurredAt =
    input.occurredAt instanceof Date ? input.occurredAt.getTime() : (input.occurredAt ?? Date.now());
  return {
    eventId: input.eventId ?? newEventId(),
    schemaVersion: SCHEMA_VERSION,
    shopId: input.shopId ?? ctx.shopId,
    userId: input.userId ?? '',
    anonymousId: input.anonymousId ?? '',
    sessionId: input.sessionId ?? '',
    channel: channelValue(input.channel),
    occurredAt,
    sequence: ctx.sequence,
    producerId: ctx.producerId,
    timeZone: input.timeZone ?? '',
    [payloadField(type)]: input.properties,
  };
}

export async function createProducer(options: ProducerOptions): Promise<Producer> {
  const maxInFlight = options.maxInFlight ?? 1000;
  const timeout = options.publishTimeoutMs ?? 5000;
  const retries = options.retries ?? 5;
  const unavailableFor = options.unavailableRetryMs ?? 15_000;
  const budget = options.maxPublishMs ?? Number.POSITIVE_INFINITY;
  const producerId = options.producerId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const n = names(options.nats.prefix);
  const ownsConnection = !options.connection;
  const nc =
    options.connection ??
    (await connectNats(options.nats as Config['nats'], `shopstream-producer ${producerId}`, {
      noAsyncTraces: true,
    }));
  try {
    await checkTopology(await nc.jetstreamManager(), { nats: options.nats } as Config, {
      streams: [n.eventsStream],
    });
  } catch (err) {
    if (ownsConnection) await nc.close();
    throw err;
  }
  const js: JetStreamClient = nc.jetstream();
  const window = new InFlightWindow(maxInFlight);
  const stats = { published: 0, duplicates: 0, retries: 0, failed: 0, deadLettered: 0 };
  let sequence = 0;
  let closed = false;

  async function send(envelope: EnvelopeInit, msgId?: string): Promise<TrackReceipt> {
    if (closed) throw new PublishError('producer is closed', 'CLOSED', envelope.eventId ?? '');
    const issues = [...validateEnvelope(envelope), ...timeZoneIssue(envelope.timeZone)];
    if (issues.length > 0) {
      if (options.onInvalid !== 'dead-letter') throw new EventValidationError(issues);
      return deadLetterInvalid(envelope, issues);
    }
    const eventId = envelope.eventId!;
    const type = payloadTypeOf(envelope)!; // validation guarantees one payload
    const subject = eventSubject(
      n.prefix,
      partitionOf(envelope.shopId!, userKey(envelope), options.nats.partitions),
      type,
    );
    const data = encodeEnvelope(envelope);
    await window.acquire();
    const started = Date.now();
    const deadline = started + budget;
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          const left = deadline - Date.now();
          if (left <= 0) throw Object.assign(new Error(`no ack within ${budget} ms`), { code: 'TIMEOUT' });
          const h = headers();
          h.set('Content-Type', 'application/x-protobuf; proto=shopstream.events.v1.Envelope');
          const ack: PubAck = await js.publish(subject, data, {
            msgID: msgId ?? eventId,
            timeout: Math.max(1, Math.min(timeout, left)),
            headers: h,
            expect: { streamName: n.eventsStream },
          });
          stats.published++;
          if (ack.duplicate) stats.duplicates++;
          return { eventId, subject, stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate };
        } catch (err) {
          const backoff = Math.min(2000, 50 * 2 ** attempt);
          const again =
            errorCode(err) === '503' ? Date.now() + backoff - started < unavailableFor : attempt < retries;
          if (isRetryable(err) && again && !closed && Date.now() + backoff < deadline) {
            stats.retries++;
            await sleep(backoff);
            continue;
          }
          stats.failed++;
          const full = streamFull(err);
          const code = full
            ? 'STREAM_FULL'
            : errorCode(err) === '503'
              ? 'NO_STREAM'
              : isRetryable(err)
                ? 'PUBLISH_TIMEOUT'
                : 'PUBLISH_FAILED';
          const why = full
            ? `stream ${n.eventsStream} is full (${full}): raise NATS_EVENTS_MAX_BYTES or check the sink's lag`
            : (err as Error).message;
          throw new PublishError(
            `publish of ${eventId} to ${subject} failed after ${attempt + 1} attempt(s): ${why}`,
            code,
            eventId,
            { cause: err },
          );
        }
      }
    } finally {
      window.release();
    }
  }

  async function deadLetterInvalid(envelope: EnvelopeInit, issues: ValidationIssue[]): Promise<TrackReceipt> {
    await publishDeadLetter(js, n.prefix, {
      reason: 'invalid_event',
      detail: issues.map((i) => `${i.path}: ${i.message}`).join('; '),
      data: Buffer.from(JSON.stringify(envelope)), // camelCase JSON, as envelopeFromJson reads it
      contentType: ENVELOPE_JSON_CONTENT_TYPE,
      sourceSubject: `producer:${producerId}`,
      ...(envelope.shopId ? { shopId: envelope.shopId } : {}),
    });
    stats.deadLettered++;
    return {
      eventId: envelope.eventId ?? '',
      subject: '',
      stream: n.dlqStream,
      seq: 0,
      duplicate: false,
      deadLettered: true,
      issues,
    };
  }

  return {
    producerId,
    track<T extends EventType>(type: T, input: TrackInput<T>): Promise<TrackReceipt> {
      return send(trackEnvelope(type, input, { shopId: options.shopId, producerId, sequence: ++sequence }));
    },
    publish(envelope: EnvelopeInit, publishOptions?: PublishOptions): Promise<TrackReceipt> {
      return send(envelope, publishOptions?.msgId);
    },
    async flush(): Promise<void> {
      await window.idle();
    },
    async close(): Promise<void> {
      if (closed) return;
      await window.idle();
      closed = true;
      if (ownsConnection) await nc.drain();
    },
    stats: () => ({ ...stats, inFlight: window.inFlight + window.waiting }),
  };
}
