// Retrieval over the knowledge base: BM25 over each entry's questions and title, Chinese as character
// unigrams and bigrams, English as lower-cased words with light stemming and without stop words, both
// in one index (the scripts do not share tokens, so a mixed question matches in both). With an
// intent, only that intent's entries compete (all of them if it has none). `confident` says the best entry covers enough of the question:
// the share of the question's informative (idf-weighted) characters and words the entry has, at
// least CONFIDENT_COVERAGE, two of them at least, and ahead of the runner-up.
import type { KbHit } from '../dialogue/ports';
import type { KbEntry } from './entries';

const STOP = new Set(
  'a an the is are am be to of in on for and or my me i you your it this that do does did can could will would should how what when where which who why with at by from please pls hi hello any have has was were there their our we us'.split(
    ' ',
  ),
);
const ZH_STOP = new Set([...'的了吗呢啊吧么嘛哦呀我你您亲是在有个这那就都也还和请问']);

function stem(w: string): string {
  if (w.length > 5 && w.endsWith('ing')) return w.slice(0, -3);
  if (w.length > 4 && w.endsWith('ed')) return w.slice(0, -2);
  if (w.length > 4 && w.endsWith('ies')) return `${w.slice(0, -3)}y`;
  if (w.length > 3 && w.endsWith('s') && !w.endsWith('ss')) return w.slice(0, -1);
  return w;
}

export function kbTokens(text: string): string[] {
  const t = text.normalize('NFKC').toLowerCase().slice(0, 2000);
  const out: string[] = [];
  for (const run of t.match(/\p{Script=Han}+|[a-z0-9]+/gu) ?? []) {
    if (/\p{Script=Han}/u.test(run)) {
      const chars = [...run];
      chars.forEach((c, i) => {
        if (!ZH_STOP.has(c)) out.push(c);
        if (i + 1 < chars.length) out.push(c + chars[i + 1]);
      });
    } else if (!STOP.has(run) && run.length > 1) out.push(stem(run));
  }
  return out;
}

interface Doc {
  entry: KbEntry;
  tf: Map<string, number>;
  len: number;
}

export interface KbIndex {
  search(text: string, opts: { intent?: string; lang: 'zh' | 'en'; limit?: number }): KbHit[];
}

/** Coverage of the question's weight the best entry must reach to be answered from. */
export const CONFIDENT_COVERAGE = 0.45;
/**
 * The same when the intent is known (the intent model is sure it is, say, a returns question): the
 * entries of that intent only, and a lower bar, since the question is known to be about them.
 */
export const INTENT_COVERAGE = 0.25;
const K1 = 1.2;
const B = 0.75;

export function buildIndex(entries: readonly KbEntry[]): KbIndex {
  const docs: Doc[] = entries.map((entry) => {
    const tokens = [entry.title.zh, entry.title.en, ...entry.questions.zh, ...entry.questions.en].flatMap(
      kbTokens,
    );
    const tf = new Map<string, number>();
    for (const tok of tokens) tf.set(tok, (tf.get(tok) ?? 0) + 1);
    return { entry, tf, len: tokens.length };
  });
  const df = new Map<string, number>();
  for (const d of docs) for (const tok of d.tf.keys()) df.set(tok, (df.get(tok) ?? 0) + 1);
  const N = Math.max(1, docs.length);
  const avgLen = docs.reduce((a, d) => a + d.len, 0) / N || 1;
  const idf = (tok: string): number => {
    const n = df.get(tok) ?? 0;
    return Math.log(1 + (N - n + 0.5) / (n + 0.5));
  };

  return {
    search(text, opts) {
      const q = [...new Set(kbTokens(text))];
      if (q.length === 0 || docs.length === 0) return [];
      // a token no entry has still weighs: "llama" unknown to every entry makes the question less covered
      const unknownIdf = Math.log(1 + (N + 0.5) / 0.5);
      // coverage is measured on characters and words, not on bigrams (which also span word gaps)
      const isUnit = (tok: string): boolean => !/^\p{Script=Han}{2}$/u.test(tok);
      const weight = q.filter(isUnit).reduce((a, tok) => a + (df.has(tok) ? idf(tok) : unknownIdf), 0);
      const ofIntent = opts.intent ? docs.filter((d) => d.entry.intent === opts.intent) : [];
      const pool = ofIntent.length > 0 ? ofIntent : docs;
      const bar = ofIntent.length > 0 ? INTENT_COVERAGE : CONFIDENT_COVERAGE;
      const scored = pool.map((d) => {
        let score = 0;
        let covered = 0;
        let units = 0;
        for (const tok of q) {
          const f = d.tf.get(tok);
          if (!f) continue;
          const w = idf(tok);
          if (isUnit(tok)) {
            covered += w;
            units++;
          }
          score += (w * f * (K1 + 1)) / (f + K1 * (1 - B + (B * d.len) / avgLen));
        }
        return { d, score, units, coverage: weight > 0 ? covered / weight : 0 };
      });
      scored.sort((a, b) => b.score - a.score || a.d.entry.id.localeCompare(b.d.entry.id));
      const top = scored.filter((s) => s.score > 0).slice(0, opts.limit ?? 5);
      return top.map((s, i): KbHit => {
        const next = top[i + 1]?.score ?? 0;
        // one shared word ("好") is no match: at least two of the question's words or characters
        const confident = i === 0 && s.units >= 2 && s.coverage >= bar && s.score > next * 1.05;
        return {
          id: s.d.entry.id,
          version: s.d.entry.version,
          answer: s.d.entry.answer[opts.lang],
          title: s.d.entry.title[opts.lang],
          score: Math.round(s.score * 1000) / 1000,
          confident,
        };
      });
    },
  };
}
