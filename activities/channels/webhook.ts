// Signed HTTP delivery: the webhook channel, and the relay transport every other adapter can use (a
// shop points a channel at its own relay or provider bridge).
//
// One POST per attempt, JSON body, with
//   Idempotency-Key: <key>          the same on every attempt of one message: receivers drop repeats
//                                   (bytes beyond visible ASCII, such as a user id in Chinese, as %XX)
//   Shopstream-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
// Receivers check the signature over the raw bytes with verifySignature below (reject stale `t`).
//
// Outcomes: 2xx delivered; 409 means the receiver already has this key (delivered); 408, 425, 429,
// 5xx, a network error or the timeout throw a plain ChannelUnavailable Error, retried by Temporal with
// the same key; any other status (400, 401, 403, 404, 410, 422, ..., or a redirect: a misconfigured
// URL) is a non-retryable ApplicationFailure of type ChannelRejected.
//
// Shopstream does not know e-mail addresses, phone numbers, device tokens or WeChat openids: a body
// names the recipient by shopId and userId, and the relay resolves the contact. Logs and errors carry
// ids, templates and statuses only, never the message text.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import { ActivityErrorType } from '../types';
import type { DeliveryOptions, MessageChannel, Transport } from './channel';
import { renderOrFail, type MessageVars, type RenderedMessage } from './templates';

export const SIGNATURE_HEADER = 'Shopstream-Signature';
export const IDEMPOTENCY_HEADER = 'Idempotency-Key';

// ---- signatures (pure) -------------------------------------------------------------------------------

/** `t=<unix s>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export function signatureHeader(secret: string, body: string, unixSeconds: number): string {
  return `t=${unixSeconds},v1=${hmac(secret, unixSeconds, body)}`;
}

export type SignatureCheck =
  { ok: true; timestamp: number } | { ok: false; reason: 'malformed' | 'stale' | 'mismatch' };

/**
 * For receivers: checks a Shopstream-Signature header against the raw request body (the exact bytes,
 * before any JSON parsing). Accepts any of several v1 values (secret rotation signs with both) and
 * rejects a timestamp more than toleranceSec from now (replays).
 */
export function verifySignature(
  secret: string,
  header: string,
  body: string | Buffer,
  toleranceSec: number,
  nowMs: number = Date.now(),
): SignatureCheck {
  let t: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const [k, v, ...rest] = part.trim().split('=');
    if (!k || v === undefined || rest.length > 0) return { ok: false, reason: 'malformed' };
    if (k === 't' && /^\d+$/.test(v)) t = Number(v);
    else if (k === 'v1' && /^[0-9a-f]{64}$/.test(v)) signatures.push(v);
  }
  if (t === undefined || signatures.length === 0) return { ok: false, reason: 'malformed' };
  if (Math.abs(nowMs / 1000 - t) > toleranceSec) return { ok: false, reason: 'stale' };
  const expected = Buffer.from(
    hmac(secret, t, typeof body === 'string' ? body : body.toString('utf8')),
    'hex',
  );
  const match = signatures.some((s) => timingSafeEqual(Buffer.from(s, 'hex'), expected));
  return match ? { ok: true, timestamp: t } : { ok: false, reason: 'mismatch' };
}

function hmac(secret: string, t: number, body: string): string {
  return createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
}

// ---- responses (pure) --------------------------------------------------------------------------------

export type DeliveryOutcome = 'delivered' | 'duplicate' | 'retry' | 'rejected';

/** What an HTTP status means for a delivery. */
export function classifyStatus(status: number): DeliveryOutcome {
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 409) return 'duplicate';
  if (status === 408 || status === 425 || status === 429 || status >= 500) return 'retry';
  return 'rejected';
}

/** The message id when the receiver does not give one: the same for every attempt of one message. */
export function deterministicMessageId(channel: string, idempotencyKey: string): string {
  return `${channel}-${createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 24)}`;
}

/**
 * The key as an HTTP header value: visible ASCII as it is, every other byte of its UTF-8 (a user id in
 * Chinese, a space) as %XX, so the same key always reads the same. `%` itself is escaped too.
 */
export function headerSafeKey(key: string): string {
  if (/^[\x21-\x24\x26-\x7e]*$/.test(key)) return key;
  let out = '';
  for (const byte of Buffer.from(key, 'utf8'))
    out +=
      byte > 0x20 && byte < 0x7f && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

/** A transient delivery failure: thrown as a plain Error so Temporal retries the activity. */
export class ChannelUnavailable extends Error {
  override readonly name = 'ChannelUnavailable';
  readonly code = 'CHANNEL_UNAVAILABLE';
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

// ---- the relay transport -----------------------------------------------------------------------------

export interface HttpRelayOptions {
  url: string;
  /** HMAC secret shared with the receiver. */
  secret: string;
  timeoutMs: number;
  now?: () => number;
}

const EXCERPT_CHARS = 200;

/**
 * Delivers `{messageId, channel, ...payload, sentAt}` to one URL (messageId, channel and sentAt are
 * always the transport's own, whatever the payload holds).
 */
export function createHttpRelay(options: HttpRelayOptions): Transport {
  const { url, secret, timeoutMs } = options;
  const now = options.now ?? Date.now;
  const target = new URL(url).origin; // for messages: no path, query or credentials
  return {
    async deliver(payload, { idempotencyKey, channel }: DeliveryOptions) {
      const messageId = deterministicMessageId(channel, idempotencyKey);
      const sentAt = now();
      const fields: Record<string, unknown> = { messageId, channel, ...payload, sentAt };
      Object.assign(fields, { messageId, channel }); // ours, in first place, whatever the payload holds
      const body = JSON.stringify(fields);
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            [IDEMPOTENCY_HEADER]: headerSafeKey(idempotencyKey),
            [SIGNATURE_HEADER]: signatureHeader(secret, body, Math.floor(sentAt / 1000)),
          },
          body,
          redirect: 'manual',
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        const name = field(err, 'name');
        const timedOut = name === 'TimeoutError' || name === 'AbortError';
        throw new ChannelUnavailable(
          timedOut
            ? `${channel}: ${target} did not answer within ${timeoutMs} ms`
            : `${channel}: ${target} unreachable: ${describe(err)}`,
          undefined,
          { cause: err },
        );
      }
      const outcome = classifyStatus(response.status);
      const text = await readText(response);
      switch (outcome) {
        case 'delivered':
        case 'duplicate': // the receiver already has this key: delivered before
          return { messageId: messageIdFrom(text) ?? messageId };
        case 'retry':
          throw new ChannelUnavailable(
            `${channel}: ${target} answered ${response.status}${excerpt(text)}`,
            response.status,
          );
        case 'rejected':
          throw ApplicationFailure.create({
            message: `${channel}: ${target} rejected the message with ${response.status}${excerpt(text)}`,
            type: ActivityErrorType.ChannelRejected,
            nonRetryable: true,
            details: [{ status: response.status, body: text.slice(0, EXCERPT_CHARS) }],
          });
      }
    },
  };
}

async function readText(response: Response): Promise<string> {
  try {
    return await response.text();
  } catch {
    return ''; // the status decides; a body cut short changes nothing
  }
}

function messageIdFrom(text: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && 'messageId' in parsed) {
      const id = parsed.messageId;
      if (typeof id === 'string' && id !== '') return id;
    }
  } catch {
    // not JSON: use our own id
  }
  return undefined;
}

function excerpt(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  if (t === '') return '';
  return `: ${t.length > EXCERPT_CHARS ? `${t.slice(0, EXCERPT_CHARS)}…` : t}`;
}

/** fetch's errors come from undici's realm, not always this one's Error: read fields, not instanceof. */
function field(value: unknown, key: string): string | undefined {
  if (typeof value !== 'object' || value === null || !(key in value)) return undefined;
  const v = (value as Record<string, unknown>)[key];
  return typeof v === 'string' ? v : undefined;
}

/** The network error's code (ECONNREFUSED, ENOTFOUND, ...) rather than fetch's "fetch failed". */
function describe(err: unknown): string {
  const cause = typeof err === 'object' && err !== null && 'cause' in err ? err.cause : undefined;
  return field(cause, 'code') ?? field(cause, 'message') ?? field(err, 'message') ?? String(err);
}

// ---- channels over a transport -----------------------------------------------------------------------

/** What every adapter does: render the template, shape the provider payload, hand it to the transport. */
export function createTemplateChannel(
  channel: string,
  transport: Transport,
  shape: (message: RenderedMessage, vars: MessageVars) => object,
): MessageChannel {
  return {
    async send(to, template, vars, { idempotencyKey }) {
      const rendered = renderOrFail(template, vars);
      const payload = { template, to: { shopId: to.shopId, userId: to.userId }, ...shape(rendered, vars) };
      return transport.deliver(payload, { idempotencyKey, channel });
    },
  };
}

/** The webhook channel: the rendered message and its variables, for the shop's own systems. */
export function createWebhookChannel(transport: Transport): MessageChannel {
  return createTemplateChannel('webhook', transport, (message, vars) => ({
    vars,
    rendered: { title: message.title, body: message.body },
  }));
}
