// The log channel: the demo's (and the tests'). It writes a line per message and remembers what it
// sent; a second send with the same idempotency key returns the first message id.
import type { Recipient } from '../types';
import type { MessageChannel } from './channel';

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
