// E-mail adapter: subject, plain-text body and HTML body from the rendered template. The address is
// not ours to know: the payload names the recipient by shopId and userId, and the relay (or the shop's
// e-mail provider bridge behind it) looks the address up and sends.
import type { MessageChannel, Transport } from './channel';
import type { RenderedMessage } from './templates';
import { createTemplateChannel } from './webhook';

export interface EmailPayload {
  email: { subject: string; text: string; html: string };
}

export function toEmailPayload(message: RenderedMessage): EmailPayload {
  const html =
    '<!doctype html><html><body style="font-family:sans-serif;line-height:1.5">' +
    `<h1 style="font-size:20px">${escapeHtml(message.title)}</h1>` +
    `<p>${escapeHtml(message.body)}</p>` +
    '</body></html>';
  return { email: { subject: message.title, text: message.body, html } };
}

export function createEmailChannel(transport: Transport): MessageChannel {
  return createTemplateChannel('email', transport, (message) => toEmailPayload(message));
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
