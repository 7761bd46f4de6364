// The two seams of message delivery. A MessageChannel is what the sendMessage activity calls; the
// adapters (email, SMS, app push, WeChat, webhook) render a template, shape the provider's payload and
// hand it to a Transport, which delivers it (the signed HTTP relay in ./webhook, or a fake in tests).
import type { Recipient } from '../types';

export interface MessageChannel {
  /** Sends once per idempotency key: a second call with the same key returns the first message id. */
  send(
    to: Recipient,
    template: string,
    vars: Record<string, string | number>,
    options: { idempotencyKey: string },
  ): Promise<{ messageId: string }>;
}

export interface DeliveryOptions {
  /** The same for every attempt of one message: the receiver drops a second delivery with it. */
  idempotencyKey: string;
  /** The flow channel the payload is for (email, sms, app_push, wechat, webhook). */
  channel: string;
}

/**
 * Delivers one provider-shaped payload. Business refusals (the receiver rejects the message) throw a
 * non-retryable ApplicationFailure; anything transient throws a plain Error, so Temporal retries it
 * with the same idempotency key.
 */
export interface Transport {
  deliver(payload: object, options: DeliveryOptions): Promise<{ messageId: string }>;
}
