// The features an utterance is read by: Chinese as character 1- to 3-grams (no word segmentation:
// shoppers' Chinese is short and full of typos, and n-grams degrade gracefully), Latin words as
// whole words and as character 3- to 5-grams inside word boundaries (typos keep most of their
// n-grams), digit runs as their length ("<d10>": an order or courier number looks like one), and
// the domain concepts of lexicon.ts ("退钱", "money back" -> refund). Each
// feature is hashed into a fixed space, so the model has a bounded size whatever it reads.
import { fnv1a } from '../../schemas/hash';
import { conceptsOf } from './lexicon';
import { isCjk } from './text';

/** Feature space size: 2^18 buckets (collisions are rare at a few thousand training phrases). */
export const FEATURE_BITS = 18;
const MASK = (1 << FEATURE_BITS) - 1;
/** Features read of one text at most (a 2,000-character turn yields fewer than this). */
const MAX_FEATURES = 4000;

export type SparseFeatures = { idx: Int32Array; val: Float64Array };

function tokens(text: string): string[] {
  const out: string[] = [];
  // split into runs: Han characters, Latin letters (with ' and -), digits
  const runs = text.match(/\p{Script=Han}+|[a-z][a-z'-]*|\d+/gu) ?? [];
  const hanRuns: string[] = [];
  let prevWord = '';
  for (const run of runs) {
    if (isCjk(run[0]!)) {
      hanRuns.push(run);
      const chars = [...run];
      for (let i = 0; i < chars.length; i++) {
        out.push(`c1:${chars[i]}`);
        if (i + 1 < chars.length) out.push(`c2:${chars[i]}${chars[i + 1]}`);
        if (i + 2 < chars.length) out.push(`c3:${chars[i]}${chars[i + 1]}${chars[i + 2]}`);
      }
      prevWord = '';
    } else if (/^\d/.test(run)) {
      out.push(`d:${Math.min(run.length, 12)}`);
      prevWord = '';
    } else {
      const w = run.replace(/^['-]+|['-]+$/g, '');
      if (!w) continue;
      out.push(`w:${w}`);
      if (prevWord) out.push(`b:${prevWord}_${w}`);
      prevWord = w;
      const padded = `#${w}#`;
      for (let n = 3; n <= 5; n++)
        for (let i = 0; i + n <= padded.length; i++) out.push(`g${n}:${padded.slice(i, i + n)}`);
    }
    if (out.length >= MAX_FEATURES) break;
  }
  // Han runs split by a Latin word or punctuation still read across the gap ("我的order到哪了")
  for (let i = 0; i + 1 < hanRuns.length; i++) out.push(`c2:${hanRuns[i]!.slice(-1)}${hanRuns[i + 1]![0]}`);
  if (/\?|？/.test(text)) out.push('p:?');
  // the domain concepts the text mentions (lexicon.ts): synonyms no phrasing used read as known ones
  for (const k of conceptsOf(text)) out.push(`k:${k}`);
  return out.slice(0, MAX_FEATURES);
}

/** Hashed, log-scaled counts, L2-normalized; sorted by index. */
export function featurize(normalizedText: string): SparseFeatures {
  const counts = new Map<number, number>();
  for (const t of tokens(normalizedText)) {
    const h = fnv1a(t) & MASK;
    counts.set(h, (counts.get(h) ?? 0) + 1);
  }
  counts.set(MASK, 1); // a bias feature every text has
  const idx = Int32Array.from([...counts.keys()].sort((a, b) => a - b));
  const val = new Float64Array(idx.length);
  let norm = 0;
  for (let i = 0; i < idx.length; i++) {
    const v = 1 + Math.log(counts.get(idx[i]!)!);
    val[i] = v;
    norm += v * v;
  }
  norm = Math.sqrt(norm);
  for (let i = 0; i < val.length; i++) val[i]! /= norm;
  return { idx, val };
}

/** How many of a text's features (bias aside) the model has weights for: 0 means it knows none. */
export function featureCount(f: SparseFeatures): number {
  return f.idx.length - 1;
}
