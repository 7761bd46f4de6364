// The intent model: multinomial logistic regression (softmax) over the hashed n-gram features of
// features.ts, trained by AdaGrad stochastic gradient descent with L2, in a seeded order, so the same
// data always gives the same weights. Only the features seen in training keep weights (a vocabulary
// of hashed indices), which keeps the model small enough to cache as JSON. Below the confidence
// threshold, or when the text shares no feature with the training data, the intent is 'fallback'.
import { featurize, type SparseFeatures } from './features';
import { normalize } from './text';

export const INTENTS = [
  'order_tracking',
  'shipping_info',
  'return_refund',
  'size_fit',
  'product_info',
  'recommendation',
  'coupon_promotion',
  'payment_invoice',
  'account_address',
  'human_handoff',
  'greeting',
  'thanks_bye',
] as const;
export type Intent = (typeof INTENTS)[number];
export const FALLBACK = 'fallback';

export interface Example {
  text: string;
  intent: Intent;
}

export interface TrainOptions {
  epochs?: number;
  learningRate?: number;
  l2?: number;
  seed?: number;
  /** Top probability below which the intent is 'fallback'. */
  threshold?: number;
}

export interface NluModel {
  readonly version: 1;
  readonly intents: readonly Intent[];
  /** Hashed feature index -> row in `weights`. */
  readonly vocab: ReadonlyMap<number, number>;
  /** vocab.size x intents.length, row-major. */
  readonly weights: Float32Array;
  readonly threshold: number;
  readonly dataHash: string;
}

export interface Classified {
  intent: Intent | typeof FALLBACK;
  /** The top intent's probability (0 when the text shares nothing with the training data). */
  confidence: number;
  /** The top intent even when below the threshold. */
  best: Intent;
  scores: Record<Intent, number>;
}

/** Mulberry32: a small seeded generator, for a reproducible training order. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function softmaxInto(z: Float64Array): void {
  let max = -Infinity;
  for (const v of z) if (v > max) max = v;
  let sum = 0;
  for (let k = 0; k < z.length; k++) sum += z[k] = Math.exp(z[k]! - max);
  for (let k = 0; k < z.length; k++) z[k]! /= sum;
}

export function trainNlu(
  examples: readonly Example[],
  opts: TrainOptions & { dataHash?: string } = {},
): NluModel {
  const epochs = opts.epochs ?? 15;
  const lr = opts.learningRate ?? 0.5;
  const l2 = opts.l2 ?? 1e-6;
  const C = INTENTS.length;
  const classOf = new Map<string, number>(INTENTS.map((i, k) => [i, k]));
  const vocab = new Map<number, number>();
  const rows: { f: SparseFeatures; rowsOf: Int32Array; y: number }[] = [];
  for (const e of examples) {
    const y = classOf.get(e.intent);
    if (y === undefined) throw new Error(`unknown intent '${e.intent}' in training data`);
    const f = featurize(normalize(e.text).text);
    const rowsOf = new Int32Array(f.idx.length);
    f.idx.forEach((h, i) => {
      let r = vocab.get(h);
      if (r === undefined) vocab.set(h, (r = vocab.size));
      rowsOf[i] = r;
    });
    rows.push({ f, rowsOf, y });
  }
  const W = new Float64Array(vocab.size * C);
  const G = new Float64Array(vocab.size * C).fill(1e-8);
  const z = new Float64Array(C);
  const next = rng(opts.seed ?? 7);
  const order = rows.map((_, i) => i);
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (const n of order) {
      const { f, rowsOf, y } = rows[n]!;
      z.fill(0);
      for (let i = 0; i < rowsOf.length; i++) {
        const base = rowsOf[i]! * C;
        const v = f.val[i]!;
        for (let k = 0; k < C; k++) z[k]! += W[base + k]! * v;
      }
      softmaxInto(z);
      for (let i = 0; i < rowsOf.length; i++) {
        const base = rowsOf[i]! * C;
        const v = f.val[i]!;
        for (let k = 0; k < C; k++) {
          const g = (z[k]! - (k === y ? 1 : 0)) * v + l2 * W[base + k]!;
          G[base + k]! += g * g;
          W[base + k]! -= (lr * g) / Math.sqrt(G[base + k]!);
        }
      }
    }
  }
  return {
    version: 1,
    intents: INTENTS,
    vocab,
    weights: Float32Array.from(W),
    threshold: opts.threshold ?? DEFAULT_THRESHOLD,
    dataHash: opts.dataHash ?? '',
  };
}

/**
 * The default fallback threshold: chosen on cross-validation of the training data (bot/nlu/eval.ts,
 * `shopstream nlu eval`), where it keeps most right answers and turns most wrong ones into fallback.
 */
export const DEFAULT_THRESHOLD = 0.3;

export function classify(model: NluModel, normalizedText: string): Classified {
  const C = model.intents.length;
  const f = featurize(normalizedText);
  const z = new Float64Array(C);
  let known = 0;
  for (let i = 0; i < f.idx.length - 1; i++) {
    const r = model.vocab.get(f.idx[i]!);
    if (r === undefined) continue;
    known++;
    const base = r * C;
    for (let k = 0; k < C; k++) z[k]! += model.weights[base + k]! * f.val[i]!;
  }
  const bias = model.vocab.get(f.idx[f.idx.length - 1]!);
  if (bias !== undefined)
    for (let k = 0; k < C; k++) z[k]! += model.weights[bias * C + k]! * f.val[f.idx.length - 1]!;
  softmaxInto(z);
  let top = 0;
  for (let k = 1; k < C; k++) if (z[k]! > z[top]!) top = k;
  const scores = Object.fromEntries(model.intents.map((i, k) => [i, z[k]!])) as Record<Intent, number>;
  const best = model.intents[top]!;
  if (known === 0) return { intent: FALLBACK, confidence: 0, best, scores };
  const confidence = z[top]!;
  return { intent: confidence >= model.threshold ? best : FALLBACK, confidence, best, scores };
}

// ---- serialization: the cached model ---------------------------------------------------------------

export interface NluModelJson {
  version: 1;
  intents: string[];
  threshold: number;
  dataHash: string;
  /** Hashed feature indices, in row order. */
  features: number[];
  /** Float32 weights, little-endian, base64. */
  weights: string;
}

export function modelToJson(m: NluModel): NluModelJson {
  const features = new Array<number>(m.vocab.size);
  for (const [h, r] of m.vocab) features[r] = h;
  return {
    version: 1,
    intents: [...m.intents],
    threshold: m.threshold,
    dataHash: m.dataHash,
    features,
    weights: Buffer.from(m.weights.buffer, m.weights.byteOffset, m.weights.byteLength).toString('base64'),
  };
}

export function modelFromJson(j: NluModelJson): NluModel {
  if (j.version !== 1 || j.intents.join() !== INTENTS.join())
    throw new Error('cached intent model is of another version or intent set');
  const bytes = Buffer.from(j.weights, 'base64');
  const weights = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  if (weights.length !== j.features.length * INTENTS.length)
    throw new Error('cached intent model is damaged');
  return {
    version: 1,
    intents: INTENTS,
    vocab: new Map(j.features.map((h, r) => [h, r])),
    weights,
    threshold: j.threshold,
    dataHash: j.dataHash,
  };
}
