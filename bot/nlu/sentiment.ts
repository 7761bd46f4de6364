// The shopper's mood in one turn, for routing: an angry customer goes to a human at once. A lexicon
// of anger and frustration in Chinese and English, weighted, plus signs people type when upset
// (runs of ?/!, shouting in capitals); a negation just before a mild word softens it ("不慢").
import { normalize } from './text';

export interface Sentiment {
  label: 'neutral' | 'negative' | 'angry';
  /** 0 (calm) to 1 (furious). */
  score: number;
}

/** Words and phrases, their weight: 1 is plainly angry on its own, 0.5 negative. */
const LEXICON: [RegExp, number][] = [
  [/投诉|举报|12315|消协|工商局|曝光|律师|起诉/, 1],
  [/垃圾|骗子|骗人|坑人|坑爹|无良|黑店|奸商|恶心|滚|妈的|他妈|tmd|nmd|cnm|傻逼|sb客服|什么破|破店|破玩意/, 1],
  [/差评|再也不买|气死|太过分|过分了|忍无可忍|受够|什么态度|态度差|耍我|欺骗|糊弄|敷衍/, 1],
  [/退钱|还钱|赔钱|赔偿|必须给我|给个说法|要个说法/, 0.7],
  [
    /太慢了|慢死了|等了好久|等了.{0,3}(天|周|个月)|怎么还没|还没到|到底|究竟|为什么还|一直没|没人管|没人回/,
    0.5,
  ],
  [/失望|郁闷|无语|烦死|着急|急死|崩溃|离谱/, 0.5],
  [/\b(scam|scammer|fraud|rip ?off|ripoff|lawsuit|lawyer|sue you|report you|bbb)\b/, 1],
  [
    /\b(ridiculous|outrageous|unacceptable|disgusting|pathetic|useless|worst|garbage|trash|joke of a|wtf|fuck\w*|shit\w*|damn|bullshit|idiots?|incompetent)\b/,
    1,
  ],
  [/\b(furious|angry|pissed|livid|fed up|sick of|had enough|never (again|buy|order))\b/, 1],
  [/\b(refund me now|give me my money back|want my money back|chargeback|dispute)\b/, 0.7],
  [
    /\b(still (not|hasn'?t|haven'?t)|where the hell|why is it taking|so slow|too slow|been waiting|waiting for (weeks|days|ages))\b/,
    0.5,
  ],
  [/\b(disappointed|frustrat\w+|annoy\w+|upset|terrible|awful|horrible|bad service)\b/, 0.5],
];
const NEGATED = /(不|没|没有|not|n't|no)\s?(太)?\s?$/;

export function sentimentOf(rawText: string): Sentiment {
  const text = normalize(rawText).text;
  let score = 0;
  for (const [re, w] of LEXICON) {
    const m = re.exec(text);
    if (!m) continue;
    const before = text.slice(Math.max(0, m.index - 4), m.index);
    score += w < 1 && NEGATED.test(before) ? 0 : w;
  }
  // "???", "!!!", "？？？": insistence
  const marks = /[?？!！]{3,}/.test(text) ? 0.4 : /[?？!！]{2}/.test(text) ? 0.2 : 0;
  score += marks;
  // shouting: most letters capital in a text with several words
  const letters = rawText.slice(0, 2000).match(/[A-Za-z]/g) ?? [];
  const capitals = letters.filter((c) => c >= 'A' && c <= 'Z').length;
  if (letters.length >= 12 && capitals / letters.length > 0.7) score += 0.4;
  score = Math.min(1, score);
  return {
    label: score >= 0.9 ? 'angry' : score >= 0.4 ? 'negative' : 'neutral',
    score: Math.round(score * 100) / 100,
  };
}
