// WeChat's message callback (official accounts and mini programs, plain-text mode), the pure part: the
// signature check, a small bounded XML reader for WeChat's flat messages and the passive reply.
//
// Signature: sha1 of the sorted strings [token, timestamp, nonce] joined, hex; compared in constant time.
// XML: WeChat posts `<xml><ToUserName><![CDATA[...]]></ToUserName>...</xml>`, one level of named fields
// (event messages nest one more level, which is skipped). The reader is a single left-to-right scan:
// no DTD (a DOCTYPE or ENTITY declaration is refused), no entity expansion beyond the five predefined
// ones and character references, bounded input, bounded field count and name length; it never throws.
// Encrypted mode (an <Encrypt> field) is not supported: such a message is answered "success" and logged.
import { createHash, timingSafeEqual } from 'node:crypto';

/** Largest WeChat message body the reader accepts, in bytes (WeChat's text messages are far smaller). */
export const WECHAT_MAX_XML_BYTES = 16_384;
const MAX_FIELDS = 64;

/** sha1(sort([token, timestamp, nonce]).join('')) as lower-case hex. */
export function wechatSignature(token: string, timestamp: string, nonce: string): string {
  return createHash('sha1').update([token, timestamp, nonce].sort().join('')).digest('hex');
}

/** Whether the query's signature is the token's for its timestamp and nonce. */
export function verifyWechatSignature(
  token: string,
  q: { signature?: unknown; timestamp?: unknown; nonce?: unknown },
): boolean {
  const { signature, timestamp, nonce } = q;
  if (
    token === '' ||
    typeof signature !== 'string' ||
    typeof timestamp !== 'string' ||
    typeof nonce !== 'string'
  )
    return false;
  if (timestamp.length > 32 || nonce.length > 64 || !/^[0-9a-f]{40}$/i.test(signature)) return false;
  const expected = Buffer.from(wechatSignature(token, timestamp, nonce), 'hex');
  return timingSafeEqual(expected, Buffer.from(signature, 'hex'));
}

export type XmlFields = { ok: true; fields: Record<string, string> } | { ok: false; message: string };

const NAME = /([A-Za-z_][A-Za-z0-9_]{0,63})>/y;
const ENTITY = /&(lt|gt|amp|quot|apos|#[0-9]{1,7}|#x[0-9A-Fa-f]{1,6});/g;
const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeText(s: string): string {
  return s.replace(ENTITY, (whole, e: string) => {
    if (!e.startsWith('#')) return PREDEFINED[e] ?? whole;
    const cp = e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
    return cp > 0 && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff) ? String.fromCodePoint(cp) : '';
  });
}

/** The named fields of a WeChat XML message. Pure; never throws. */
export function parseWechatXml(input: string, maxBytes = WECHAT_MAX_XML_BYTES): XmlFields {
  try {
    return parse(input, maxBytes);
  } catch (err) {
    return { ok: false, message: `unreadable XML (${(err as Error).name})` };
  }
}

function parse(input: string, maxBytes: number): XmlFields {
  if (typeof input !== 'string') return { ok: false, message: 'no XML' };
  // UTF-16 length bounds the UTF-8 size from below: a cheap check before Buffer.byteLength
  if (input.length > maxBytes || Buffer.byteLength(input, 'utf8') > maxBytes)
    return { ok: false, message: `the XML is larger than ${maxBytes} bytes` };
  let s = input.replace(/^\uFEFF/, '').trim();
  if (/<!(DOCTYPE|ENTITY|ELEMENT|ATTLIST)/i.test(s))
    return { ok: false, message: 'DTDs and entity declarations are not accepted' };
  if (s.startsWith('<?xml')) {
    const end = s.indexOf('?>');
    if (end < 0) return { ok: false, message: 'unterminated XML declaration' };
    s = s.slice(end + 2).trim();
  }
  if (!s.startsWith('<xml>') || !s.endsWith('</xml>'))
    return { ok: false, message: 'not a WeChat message (<xml>...</xml>)' };
  const body = s.slice(5, -6);
  const fields: Record<string, string> = Object.create(null) as Record<string, string>;
  let count = 0;
  let i = 0;
  for (;;) {
    while (i < body.length && /\s/.test(body[i]!)) i++;
    if (i >= body.length) break;
    if (body[i] !== '<') return { ok: false, message: `text outside a field at ${i}` };
    NAME.lastIndex = i + 1;
    const m = NAME.exec(body);
    if (!m) return { ok: false, message: `a field name is expected at ${i}` };
    const name = m[1]!;
    const close = `</${name}>`;
    i = NAME.lastIndex;
    let value = '';
    let nested = false;
    // the content: text and CDATA sections, up to the field's closing tag
    for (;;) {
      if (body.startsWith(close, i)) {
        i += close.length;
        break;
      }
      if (body.startsWith('<![CDATA[', i)) {
        const end = body.indexOf(']]>', i + 9);
        if (end < 0) return { ok: false, message: `unterminated CDATA in ${name}` };
        value += body.slice(i + 9, end);
        i = end + 3;
        continue;
      }
      if (body[i] === '<') {
        // a nested element (event messages): skipped whole, up to this field's closing tag
        const end = body.indexOf(close, i);
        if (end < 0) return { ok: false, message: `${name} is not closed` };
        nested = true;
        i = end + close.length;
        break;
      }
      const next = body.indexOf('<', i);
      if (next < 0) return { ok: false, message: `${name} is not closed` };
      value += decodeText(body.slice(i, next));
      i = next;
    }
    if (Object.hasOwn(fields, name)) return { ok: false, message: `${name} appears twice` };
    if (++count > MAX_FIELDS) return { ok: false, message: `more than ${MAX_FIELDS} fields` };
    fields[name] = nested ? '' : value;
  }
  return { ok: true, fields };
}

/** A CDATA section holding any text (a `]]>` inside is split across two sections). */
function cdata(text: string): string {
  return `<![CDATA[${text.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`;
}

/** WeChat's passive text reply: to the user (`to`, their openid) from the account (`from`). */
export function wechatTextReply(to: string, from: string, text: string, nowMs: number): string {
  return (
    `<xml><ToUserName>${cdata(to)}</ToUserName><FromUserName>${cdata(from)}</FromUserName>` +
    `<CreateTime>${Math.floor(nowMs / 1000)}</CreateTime><MsgType>${cdata('text')}</MsgType>` +
    `<Content>${cdata(text)}</Content></xml>`
  );
}

/** A WeChat user's openid, fit for an anonymous id and a conversation id; undefined when it is not one. */
export function openIdOf(v: string | undefined): string | undefined {
  return v !== undefined && /^[A-Za-z0-9_-]{1,64}$/.test(v) ? v : undefined;
}
