// The bot's understanding of one turn: intent (bot/nlu/model.ts, trained from the shipped phrasings
// in bot/nlu/data/<intent>.txt), slots, sentiment and language. `loadNlu` reads the cached model when
// it was trained on exactly the shipped data (sha256 of the files), else trains (a second or two) and
// caches it; `make train-nlu` does the same ahead of time. Nothing is downloaded.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  classify,
  FALLBACK,
  INTENTS,
  modelFromJson,
  modelToJson,
  trainNlu,
  type Example,
  type Intent,
  type NluModel,
  type NluModelJson,
} from './model';
import { sentimentOf, type Sentiment } from './sentiment';
import { extractSlots, type Slots } from './slots';
import { detectLang, normalize } from './text';

export { classify, FALLBACK, INTENTS, trainNlu, type Example, type Intent, type NluModel };
export { extractSlots, type Slots } from './slots';
export { sentimentOf, type Sentiment } from './sentiment';
export { detectLang, normalize } from './text';

export const DATA_DIR = path.join(__dirname, 'data');

export interface Understanding {
  intent: string;
  confidence: number;
  slots: Slots;
  sentiment: Sentiment;
  lang: 'zh' | 'en' | 'mixed';
  /** The text was longer than the bot reads. */
  truncated: boolean;
}

/** The handwritten phrasings of each intent: one per line, `#` comments and blank lines skipped. */
export function readPhrasings(dir = DATA_DIR): Example[] {
  const out: Example[] = [];
  for (const intent of INTENTS) {
    const file = path.join(dir, `${intent}.txt`);
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      const text = line.trim();
      if (text && !text.startsWith('#')) out.push({ text, intent });
    }
  }
  return out;
}

/** sha256 of the training data, in intent order: the cache key of the model. */
export function dataHash(dir = DATA_DIR): string {
  const h = createHash('sha256');
  for (const intent of INTENTS) h.update(intent).update(fs.readFileSync(path.join(dir, `${intent}.txt`)));
  return h.digest('hex').slice(0, 16);
}

const ZH_PREFIX = ['请问', '麻烦问下', '你好，'];
const ZH_SUFFIX = ['？', '呢', '啊'];
const EN_PREFIX = ['excuse me, ', 'quick question: ', 'hello, '];
const EN_SUFFIX = ['?', ' pls', ' asap'];
/** Intents whose phrasings are the whole message: a polite prefix would change what they are. */
const WHOLE = new Set<Intent>(['greeting', 'thanks_bye', 'human_handoff']);

/**
 * Each phrasing, and two variants the way shoppers pad a question: a polite opener or a trailing
 * particle, and a typo (a letter dropped from a long English word). Deterministic: the variant of
 * a phrasing depends on its position only.
 */
export function augment(examples: readonly Example[]): Example[] {
  const out: Example[] = [...examples];
  examples.forEach((e, i) => {
    const zh = /\p{Script=Han}/u.test(e.text);
    const [pre, suf] = zh ? [ZH_PREFIX, ZH_SUFFIX] : [EN_PREFIX, EN_SUFFIX];
    if (!WHOLE.has(e.intent)) out.push({ text: `${pre[i % 3]}${e.text}`, intent: e.intent });
    out.push({ text: `${e.text}${suf[(i + 1) % 3]}`, intent: e.intent });
    const long = /[a-z]{6,}/i.exec(e.text);
    if (long) {
      const at = long.index + 2 + (i % (long[0].length - 3));
      out.push({ text: e.text.slice(0, at) + e.text.slice(at + 1), intent: e.intent });
    }
  });
  return out;
}

export function trainShipped(dir = DATA_DIR): NluModel {
  return trainNlu(augment(readPhrasings(dir)), { dataHash: dataHash(dir) });
}

export interface Nlu {
  understand(text: string): Understanding;
  readonly model: NluModel;
  readonly dataHash: string;
  /** The model was trained now (no valid cache). */
  readonly trained: boolean;
}

export function understandWith(model: NluModel, raw: string): Understanding {
  const n = normalize(raw);
  const c = n.text ? classify(model, n.text) : undefined;
  return {
    intent: c?.intent ?? FALLBACK,
    confidence: Math.round((c?.confidence ?? 0) * 1000) / 1000,
    slots: extractSlots(raw),
    sentiment: sentimentOf(raw),
    lang: detectLang(n.text),
    truncated: n.truncated,
  };
}

/** The cached model, if it was trained on data of this hash (a damaged or stale cache is not used). */
export function readCachedModel(file: string, hash: string): NluModel | undefined {
  if (!fs.existsSync(file)) return undefined;
  try {
    const cached = modelFromJson(JSON.parse(fs.readFileSync(file, 'utf8')) as NluModelJson);
    return cached.dataHash === hash ? cached : undefined;
  } catch {
    return undefined; // damaged or of another version: trained again
  }
}

/** The intent model of the shipped data: from the cache when it matches, else trained and cached. */
export function loadNlu(opts: { cacheFile?: string; dataDir?: string } = {}): Nlu {
  const dir = opts.dataDir ?? DATA_DIR;
  const hash = dataHash(dir);
  let model = opts.cacheFile ? readCachedModel(opts.cacheFile, hash) : undefined;
  const trained = !model;
  if (!model) {
    model = trainShipped(dir);
    if (opts.cacheFile) {
      // written whole, then renamed: a process reading it never sees half a model
      fs.mkdirSync(path.dirname(opts.cacheFile), { recursive: true });
      const tmp = `${opts.cacheFile}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, JSON.stringify(modelToJson(model)));
      fs.renameSync(tmp, opts.cacheFile);
    }
  }
  const m = model;
  return { understand: (text) => understandWith(m, text), model: m, dataHash: hash, trained };
}
