// Knowledge gaps: the questions the bot could not answer, grouped by similarity (the share of their
// characters and words in common) and ranked by how often they were asked, each group with examples
// and a draft entry to fill in and drop into the knowledge-base folder.
import { stringify } from 'yaml';
import { kbTokens } from './search';

export interface Unanswered {
  text: string;
  intent: string;
  n: number;
}

export interface Gap {
  asked: number;
  /** The intent most of its questions were taken for ('fallback' when none). */
  intent: string;
  examples: string[];
  draft: string;
}

const jaccard = (a: Set<string>, b: Set<string>): number => {
  let both = 0;
  for (const t of a) if (b.has(t)) both++;
  return both / (a.size + b.size - both || 1);
};

/** Groups questions whose token sets overlap at least `similarity`; the biggest groups first. */
export function groupGaps(
  rows: readonly Unanswered[],
  opts: { similarity?: number; top?: number } = {},
): Gap[] {
  const similarity = opts.similarity ?? 0.3;
  const groups: { tokens: Set<string>; rows: Unanswered[] }[] = [];
  for (const r of [...rows].sort((a, b) => b.n - a.n).slice(0, 5000)) {
    const tokens = new Set(kbTokens(r.text));
    if (tokens.size === 0) continue;
    const g = groups.find((x) => jaccard(x.tokens, tokens) >= similarity);
    if (g) g.rows.push(r);
    else groups.push({ tokens, rows: [r] });
  }
  return groups
    .map((g, i) => {
      const asked = g.rows.reduce((a, r) => a + r.n, 0);
      const byIntent = new Map<string, number>();
      for (const r of g.rows) byIntent.set(r.intent, (byIntent.get(r.intent) ?? 0) + r.n);
      const intent = [...byIntent].sort((a, b) => b[1] - a[1])[0]?.[0] || 'fallback';
      const examples = g.rows.slice(0, 5).map((r) => r.text.slice(0, 200));
      const zh = examples.filter((e) => /\p{Script=Han}/u.test(e));
      const en = examples.filter((e) => !/\p{Script=Han}/u.test(e));
      const draft = stringify([
        {
          id: `draft.${
            kbTokens(examples[0]!)
              .filter((t) => /^[a-z0-9]+$/.test(t))
              .slice(0, 2)
              .join('-') || `topic-${i + 1}`
          }`,
          version: 1,
          intent: intent === 'fallback' || intent === 'human_handoff' ? 'product_info' : intent,
          title: { zh: 'TODO 标题', en: 'TODO title' },
          questions: { zh: zh.length ? zh : ['TODO'], en: en.length ? en : ['TODO'] },
          answer: { zh: 'TODO 回答', en: 'TODO answer' },
        },
      ]);
      return { asked, intent, examples, draft };
    })
    .sort((a, b) => b.asked - a.asked)
    .slice(0, opts.top ?? 10);
}
