// SMS adapter: one text, the template's body, cut to fit a number of segments (one by default: a
// reminder should cost one message). The encoding decides the size of a segment:
//   GSM-7 (the GSM 03.38 alphabet): 160 characters in one segment, 153 per segment when split; the
//     extension characters ^ { } \ [ ] ~ | € count twice.
//   UCS-2 (anything else, e.g. Chinese or emoji): 70 UTF-16 units in one segment, 67 when split.
// The encoding is chosen for the whole body; a longer body is cut at a word boundary when one is near
// the end (within the last fifth), never inside a character, and ends with "..." (GSM-7) or "…" (UCS-2).
// The phone number is resolved by the relay from shopId and userId.
import type { MessageChannel, Transport } from './channel';
import type { RenderedMessage } from './templates';
import { createTemplateChannel } from './webhook';

export type SmsEncoding = 'gsm7' | 'ucs2';

export interface SmsText {
  text: string;
  encoding: SmsEncoding;
  /** Septets (GSM-7) or UTF-16 units (UCS-2) of `text`. */
  units: number;
  segments: number;
  truncated: boolean;
}

export interface SmsPayload {
  sms: SmsText;
}

const GSM_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM_EXTENSION = '\f^{}\\[~]|€';
const GSM_COST = new Map<string, number>([
  ...[...GSM_BASIC].map((c) => [c, 1] as [string, number]),
  ...[...GSM_EXTENSION].map((c) => [c, 2] as [string, number]),
]);

const LIMITS = {
  gsm7: { single: 160, perSegment: 153, ellipsis: '...' },
  ucs2: { single: 70, perSegment: 67, ellipsis: '…' },
} as const;

export function smsEncoding(text: string): SmsEncoding {
  for (const c of text) if (!GSM_COST.has(c)) return 'ucs2';
  return 'gsm7';
}

function cost(c: string, encoding: SmsEncoding): number {
  return encoding === 'gsm7' ? (GSM_COST.get(c) ?? 1) : c.length; // a surrogate pair is 2 units
}

function unitsOf(text: string, encoding: SmsEncoding): number {
  let n = 0;
  for (const c of text) n += cost(c, encoding);
  return n;
}

function segmentsOf(units: number, encoding: SmsEncoding): number {
  const l = LIMITS[encoding];
  return units <= l.single ? 1 : Math.ceil(units / l.perSegment);
}

/** The body as an SMS of at most maxSegments segments. */
export function toSmsText(body: string, maxSegments = 1): SmsText {
  const encoding = smsEncoding(body);
  const l = LIMITS[encoding];
  const limit = maxSegments <= 1 ? l.single : l.perSegment * maxSegments;
  const units = unitsOf(body, encoding);
  if (units <= limit)
    return { text: body, encoding, units, segments: segmentsOf(units, encoding), truncated: false };

  const budget = limit - unitsOf(l.ellipsis, encoding);
  const chars: string[] = [];
  let used = 0;
  for (const c of body) {
    if (used + cost(c, encoding) > budget) break;
    chars.push(c);
    used += cost(c, encoding);
  }
  let kept = chars.join('');
  const space = kept.search(/\s\S*$/);
  if (space > 0 && space >= kept.length * 0.8) kept = kept.slice(0, space);
  kept = kept.replace(/[\s.,;:!?-]+$/, '');
  const text = kept + l.ellipsis;
  const n = unitsOf(text, encoding);
  return { text, encoding, units: n, segments: segmentsOf(n, encoding), truncated: true };
}

export function toSmsPayload(message: RenderedMessage, maxSegments = 1): SmsPayload {
  return { sms: toSmsText(message.body, maxSegments) };
}

export function createSmsChannel(
  transport: Transport,
  options: { maxSegments?: number } = {},
): MessageChannel {
  return createTemplateChannel('sms', transport, (message) => toSmsPayload(message, options.maxSegments));
}
