// JetStream KV keys: tokens joined by '.', each token [A-Za-z0-9_-] only. Client text (shop ids, user
// ids, coupon codes, conversation ids) becomes a token with kvKeyPart, the one encoding every bucket
// uses: the text itself when it is already safe, otherwise '=' + its UTF-8 bytes in base64url. An
// encoded part starts with '=', which a raw part never holds, so two different texts never share a
// part, and a '.' in the text can never add a token.
const RAW = /^[A-Za-z0-9_-]+$/;

/** A KV-safe key part: the text itself, or `=` + base64url when it has other characters. */
export function kvKeyPart(s: string): string {
  return RAW.test(s) ? s : `=${Buffer.from(s, 'utf8').toString('base64url')}`;
}

/** A key of the given parts, each encoded with kvKeyPart: kvKey('budget', shopId, campaign). */
export function kvKey(...parts: string[]): string {
  return parts.map(kvKeyPart).join('.');
}
