// Text as the model and the slot rules read it: Unicode NFKC (full-width letters, digits and
// punctuation become half-width), lower case, control and format characters removed, whitespace
// collapsed, bounded. And the language a text is written in, by its letters.

/** Characters of a turn the bot reads; the rest is cut (a turn is at most 8,192 on the wire). */
export const MAX_TEXT = 2000;

const CONTROL = /[\p{Cc}\p{Cf}]/gu;
const CJK = /\p{Script=Han}/u;

export interface Normalized {
  text: string;
  /** The input was longer than MAX_TEXT characters. */
  truncated: boolean;
}

export function normalize(raw: string): Normalized {
  const cut = raw.length > MAX_TEXT * 2 ? raw.slice(0, MAX_TEXT * 2) : raw;
  let text = cut.normalize('NFKC').replace(CONTROL, ' ').toLowerCase().replace(/\s+/g, ' ').trim();
  const truncated = text.length > MAX_TEXT || raw.length > MAX_TEXT * 2;
  if (text.length > MAX_TEXT) text = text.slice(0, MAX_TEXT);
  return { text, truncated };
}

export const isCjk = (ch: string): boolean => CJK.test(ch);

/** 'zh' when Chinese characters dominate, 'en' when Latin letters do, 'mixed' when both count. */
export function detectLang(text: string): 'zh' | 'en' | 'mixed' {
  let han = 0;
  let latinWords = 0;
  for (const ch of text) if (CJK.test(ch)) han++;
  for (const w of text.match(/[a-z]{2,}/gi) ?? [])
    if (!/^(sf|yt|jd|ems|ups|zto|sto|kg|cm|xl|xxl|id)$/i.test(w)) latinWords++;
  if (han === 0) return 'en';
  if (latinWords === 0) return 'zh';
  // a Chinese sentence with an English word or two ("我的order到哪了") is mixed; so is the reverse
  return 'mixed';
}
