// Knowledge-base entries as data: YAML files in one folder (one per policy area), each a list of
// entries with a stable id, a version bumped on every change, the intent it answers, a title, the
// questions shoppers ask (several phrasings, Chinese and English) and the answer in both languages.
// Loading is strict: a wrong field, a missing language, a duplicate id or an oversized text is an
// error that names the file and the entry, and nothing of a bad folder is used.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';

export const KB_INTENTS = [
  'shipping_info',
  'return_refund',
  'payment_invoice',
  'coupon_promotion',
  'account_address',
  'order_tracking',
  'size_fit',
  'product_info',
] as const;

export interface Bilingual {
  zh: string;
  en: string;
}

export interface KbEntry {
  id: string;
  version: number;
  intent: (typeof KB_INTENTS)[number];
  title: Bilingual;
  questions: { zh: string[]; en: string[] };
  answer: Bilingual;
  /** The file it came from (for errors and `kb check`). */
  file: string;
}

const ID_RE = /^[a-z][a-z0-9_]*(\.[a-z0-9][a-z0-9_-]*)+$/;
const MAX_FILE_BYTES = 512 * 1024;
const MAX_ENTRIES = 2000;
const MAX_TITLE = 200;
const MAX_QUESTION = 300;
const MAX_QUESTIONS = 50;
const MAX_ANSWER = 2000;

export class KbError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${path.basename(file)}: ${message}`);
    this.name = 'KbError';
  }
}

function text(v: unknown, max: number, where: string, file: string): string {
  if (typeof v !== 'string' || v.trim() === '') throw new KbError(file, `${where} must be non-empty text`);
  if (v.length > max) throw new KbError(file, `${where} is over ${max} characters`);
  return v.trim();
}

function bilingual(v: unknown, max: number, where: string, file: string): Bilingual {
  const o = (v ?? {}) as Record<string, unknown>;
  if (typeof v !== 'object' || Array.isArray(v)) throw new KbError(file, `${where} must have zh and en`);
  return { zh: text(o['zh'], max, `${where}.zh`, file), en: text(o['en'], max, `${where}.en`, file) };
}

function questions(v: unknown, where: string, file: string): { zh: string[]; en: string[] } {
  const o = (v ?? {}) as Record<string, unknown>;
  const list = (lang: 'zh' | 'en'): string[] => {
    const l = o[lang];
    if (!Array.isArray(l) || l.length === 0) throw new KbError(file, `${where}.${lang} must list questions`);
    if (l.length > MAX_QUESTIONS)
      throw new KbError(file, `${where}.${lang} has over ${MAX_QUESTIONS} questions`);
    return l.map((q, i) => text(q, MAX_QUESTION, `${where}.${lang}[${i}]`, file));
  };
  return { zh: list('zh'), en: list('en') };
}

/** The entries of one file's text; throws KbError naming the file and entry. */
export function parseEntries(source: string, file: string): KbEntry[] {
  let doc: unknown;
  try {
    doc = parse(source, { maxAliasCount: 0, uniqueKeys: true });
  } catch (err) {
    throw new KbError(file, `not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return [];
  if (!Array.isArray(doc)) throw new KbError(file, 'must be a list of entries');
  return doc.map((raw, i): KbEntry => {
    const e = (raw ?? {}) as Record<string, unknown>;
    const id = typeof e['id'] === 'string' ? e['id'] : '';
    const where = id ? `entry ${id}` : `entry ${i + 1}`;
    if (!ID_RE.test(id)) throw new KbError(file, `${where}: id must look like area.name (lower case)`);
    const known = new Set(['id', 'version', 'intent', 'title', 'questions', 'answer']);
    const extra = Object.keys(e).filter((k) => !known.has(k));
    if (extra.length > 0) throw new KbError(file, `${where}: unknown field ${extra.join(', ')}`);
    const version = e['version'];
    if (typeof version !== 'number' || !Number.isInteger(version) || version < 1)
      throw new KbError(file, `${where}: version must be a whole number from 1`);
    const intent = e['intent'];
    if (!(KB_INTENTS as readonly unknown[]).includes(intent))
      throw new KbError(file, `${where}: intent must be one of ${KB_INTENTS.join(', ')}`);
    return {
      id,
      version,
      intent: intent as KbEntry['intent'],
      title: bilingual(e['title'], MAX_TITLE, `${where} title`, file),
      questions: questions(e['questions'], `${where} questions`, file),
      answer: bilingual(e['answer'], MAX_ANSWER, `${where} answer`, file),
      file,
    };
  });
}

/** Every entry of a folder's *.yaml / *.yml files, in file order; throws on the first bad one. */
export function loadEntries(dir: string): KbEntry[] {
  const files = fs
    .readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
  const out: KbEntry[] = [];
  const seen = new Map<string, string>();
  for (const f of files) {
    const file = path.join(dir, f);
    const stat = fs.statSync(file);
    if (stat.size > MAX_FILE_BYTES) throw new KbError(file, `over ${MAX_FILE_BYTES} bytes`);
    for (const e of parseEntries(fs.readFileSync(file, 'utf8'), file)) {
      const other = seen.get(e.id);
      if (other) throw new KbError(file, `entry ${e.id}: id already used in ${path.basename(other)}`);
      seen.set(e.id, file);
      out.push(e);
    }
    if (out.length > MAX_ENTRIES) throw new KbError(file, `over ${MAX_ENTRIES} entries in all`);
  }
  return out;
}
