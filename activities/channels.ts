// Message channels behind one interface. The log channel is the demo's (and the tests'): it writes a
// line per message and remembers what it sent. Email, SMS, app push, WeChat and webhook adapters
// implement the same interface.
import type { Recipient } from './types';

export interface MessageChannel {
  /** Sends once per idempotency key: a second call with the same key returns the first message id. */
  send(
    to: Recipient,
    template: string,
    vars: Record<string, string | number>,
    options: { idempotencyKey: string },
  ): Promise<{ messageId: string }>;
}

export interface LoggedMessage {
  messageId: string;
  to: Recipient;
  template: string;
  vars: Record<string, string | number>;
  idempotencyKey: string;
}

export interface LogChannel extends MessageChannel {
  readonly sent: LoggedMessage[];
}

export function createLogChannel(name: string, write: (line: string) => void = () => {}): LogChannel {
  const sent: LoggedMessage[] = [];
  const byKey = new Map<string, LoggedMessage>();
  return {
    sent,
    send(to, template, vars, { idempotencyKey }) {
      const seen = byKey.get(idempotencyKey);
      if (seen) return Promise.resolve({ messageId: seen.messageId });
      const message = { messageId: `${name}-${sent.length + 1}`, to, template, vars, idempotencyKey };
      sent.push(message);
      byKey.set(idempotencyKey, message);
      write(JSON.stringify({ channel: name, ...message }));
      return Promise.resolve({ messageId: message.messageId });
    },
  };
}
