// How good the intent model is: k-fold cross-validation on the shipped phrasings (each fold trained
// on the others, augmented, and tested on its own handwritten phrasings only), and the same figures
// on any labelled file (test/fixtures/nlu/unseen.jsonl: phrasings the model never saw). Accuracy
// counts a fallback as wrong; the confusion matrix has a fallback column.
import { classify, FALLBACK, INTENTS, trainNlu, type Example, type NluModel } from './model';
import { augment } from './index';
import { normalize } from './text';

export interface Evaluation {
  n: number;
  correct: number;
  accuracy: number;
  /** Answered (not fallback) and right, over answered. */
  precisionAnswered: number;
  fallbacks: number;
  /** [true intent][predicted intent or fallback] counts. */
  confusion: Record<string, Record<string, number>>;
  perIntent: Record<string, { n: number; recall: number; precision: number }>;
  /** Confidence of each prediction and whether it was right (for choosing a threshold). */
  scored: { confidence: number; right: boolean }[];
}

export function evaluate(model: NluModel, examples: readonly Example[]): Evaluation {
  const labels = [...INTENTS, FALLBACK];
  const confusion = Object.fromEntries(
    INTENTS.map((t) => [t, Object.fromEntries(labels.map((p) => [p, 0]))]),
  ) as Record<string, Record<string, number>>;
  let correct = 0;
  let fallbacks = 0;
  const scored: Evaluation['scored'] = [];
  for (const e of examples) {
    const c = classify(model, normalize(e.text).text);
    confusion[e.intent]![c.intent]!++;
    if (c.intent === e.intent) correct++;
    if (c.intent === FALLBACK) fallbacks++;
    scored.push({ confidence: c.confidence, right: c.best === e.intent });
  }
  const perIntent: Evaluation['perIntent'] = {};
  for (const t of INTENTS) {
    const n = Object.values(confusion[t]!).reduce((a, b) => a + b, 0);
    const predicted = INTENTS.reduce((a, u) => a + confusion[u]![t]!, 0);
    perIntent[t] = {
      n,
      recall: n ? confusion[t]![t]! / n : 0,
      precision: predicted ? confusion[t]![t]! / predicted : 0,
    };
  }
  const answered = examples.length - fallbacks;
  return {
    n: examples.length,
    correct,
    accuracy: examples.length ? correct / examples.length : 0,
    precisionAnswered: answered ? correct / answered : 0,
    fallbacks,
    confusion,
    perIntent,
    scored,
  };
}

/** k-fold cross-validation over the handwritten phrasings (seeded folds: every k-th phrasing). */
export function crossValidate(
  examples: readonly Example[],
  k = 5,
  threshold?: number,
): Evaluation & { folds: number } {
  const all: Evaluation[] = [];
  for (let f = 0; f < k; f++) {
    const train = examples.filter((_, i) => i % k !== f);
    const test = examples.filter((_, i) => i % k === f);
    all.push(evaluate(trainNlu(augment(train), threshold === undefined ? {} : { threshold }), test));
  }
  return { ...merge(all), folds: k };
}

function merge(parts: Evaluation[]): Evaluation {
  const confusion: Evaluation['confusion'] = {};
  for (const p of parts)
    for (const [t, row] of Object.entries(p.confusion))
      for (const [u, n] of Object.entries(row)) (confusion[t] ??= {})[u] = (confusion[t][u] ?? 0) + n;
  const n = parts.reduce((a, p) => a + p.n, 0);
  const correct = parts.reduce((a, p) => a + p.correct, 0);
  const fallbacks = parts.reduce((a, p) => a + p.fallbacks, 0);
  const perIntent: Evaluation['perIntent'] = {};
  for (const t of INTENTS) {
    const row = confusion[t]!;
    const nt = Object.values(row).reduce((a, b) => a + b, 0);
    const predicted = INTENTS.reduce((a, u) => a + (confusion[u]![t] ?? 0), 0);
    perIntent[t] = { n: nt, recall: nt ? row[t]! / nt : 0, precision: predicted ? row[t]! / predicted : 0 };
  }
  return {
    n,
    correct,
    accuracy: n ? correct / n : 0,
    precisionAnswered: n - fallbacks ? correct / (n - fallbacks) : 0,
    fallbacks,
    confusion,
    perIntent,
    scored: parts.flatMap((p) => p.scored),
  };
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

/** A printable summary: accuracy, per-intent recall and precision, and the confusion matrix. */
export function formatEvaluation(e: Evaluation, title: string): string {
  const labels = [...INTENTS, FALLBACK];
  const short = (s: string): string => s.split('_')[0]!.slice(0, 6);
  const lines = [
    `${title}: ${e.correct}/${e.n} right, accuracy ${pct(e.accuracy)}; fallback ${e.fallbacks} (${pct(e.fallbacks / Math.max(1, e.n))}); right when answered ${pct(e.precisionAnswered)}`,
    '',
    `${'intent'.padEnd(18)} ${'n'.padStart(4)} ${'recall'.padStart(7)} ${'precision'.padStart(9)}`,
  ];
  for (const t of INTENTS) {
    const p = e.perIntent[t]!;
    lines.push(
      `${t.padEnd(18)} ${String(p.n).padStart(4)} ${pct(p.recall).padStart(7)} ${pct(p.precision).padStart(9)}`,
    );
  }
  lines.push('', `confusion (rows: true intent, columns: predicted)`);
  lines.push(`${''.padEnd(18)}${labels.map((l) => short(l).padStart(7)).join('')}`);
  for (const t of INTENTS)
    lines.push(`${t.padEnd(18)}${labels.map((l) => String(e.confusion[t]?.[l] ?? 0).padStart(7)).join('')}`);
  return lines.join('\n');
}
