// The bot's commands: `nlu train | classify | eval` (the intent model, no server needed) and
// `kb check | search | gaps` (the knowledge base; gaps reads ClickHouse).
import * as fs from 'node:fs';
import * as readline from 'node:readline';
import { unansweredQuestions } from '../../analytics/kb-gaps';
import { groupGaps } from '../../bot/kb/gaps';
import { openKnowledgeBase } from '../../bot/kb';
import { crossValidate, evaluate, formatEvaluation } from '../../bot/nlu/eval';
import { INTENTS, loadNlu, readPhrasings, type Example, type Intent } from '../../bot/nlu';
import type { Config } from '../../infra/config';
import { UsageError } from '../run';
import { openSql } from '../sql';

export async function nluTrain(config: Config): Promise<void> {
  if (fs.existsSync(config.bot.nluCache)) fs.rmSync(config.bot.nluCache);
  const t0 = performance.now();
  const nlu = loadNlu({ cacheFile: config.bot.nluCache });
  const ms = Math.round(performance.now() - t0);
  console.log(
    `trained on ${readPhrasings().length} phrasings (data ${nlu.dataHash}) in ${ms} ms: ${nlu.model.vocab.size} features -> ${config.bot.nluCache}`,
  );
  return Promise.resolve();
}

/** The evaluation shape: order_id and size as the user wrote them (a shoe size counts as a size). */
function classified(nlu: ReturnType<typeof loadNlu>, text: string) {
  const u = nlu.understand(text);
  const slots: Record<string, string> = {};
  if (u.slots.orderId) slots['order_id'] = u.slots.orderId;
  const size = u.slots.size ?? u.slots.shoeSize;
  if (size) slots['size'] = size;
  return { text, intent: u.intent, confidence: u.confidence, slots };
}

/**
 * `nlu classify [text]`: one text, or JSON Lines `{"text": ...}` on stdin, one JSON line out per
 * line in, in order. A line that is not such JSON gets `{"error": ...}` in its place.
 */
export async function nluClassify(config: Config, opts: Record<string, unknown>): Promise<void> {
  const nlu = loadNlu({ cacheFile: config.bot.nluCache });
  if (typeof opts['text'] === 'string') {
    console.log(JSON.stringify({ ...classified(nlu, opts['text']), ...fullOf(nlu, opts['text']) }));
    return;
  }
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  const out: string[] = [];
  for await (const line of rl) {
    if (!line.trim()) continue;
    let text: unknown;
    try {
      text = (JSON.parse(line) as { text?: unknown }).text;
    } catch {
      text = undefined;
    }
    out.push(
      JSON.stringify(
        typeof text === 'string' ? classified(nlu, text) : { error: 'expected {"text": "..."}' },
      ),
    );
    if (out.length >= 256) process.stdout.write(`${out.splice(0).join('\n')}\n`);
  }
  if (out.length) process.stdout.write(`${out.join('\n')}\n`);
}

const fullOf = (nlu: ReturnType<typeof loadNlu>, text: string) => {
  const u = nlu.understand(text);
  return { sentiment: u.sentiment, lang: u.lang, allSlots: u.slots };
};

/** `nlu eval [--file f.jsonl]`: cross-validation on the shipped phrasings, or a labelled file. */
export async function nluEval(config: Config, opts: Record<string, unknown>): Promise<void> {
  const file = opts['file'] as string | undefined;
  if (!file) {
    const cv = crossValidate(readPhrasings(), 5);
    console.log(formatEvaluation(cv, '5-fold cross-validation on the shipped phrasings'));
    return Promise.resolve();
  }
  const examples: Example[] = [];
  fs.readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (!line.trim()) return;
      const r = JSON.parse(line) as { text?: unknown; intent?: unknown };
      if (typeof r.text !== 'string' || !(INTENTS as readonly unknown[]).includes(r.intent))
        throw new UsageError(`${file}:${i + 1}: expected {"text", "intent"} with one of the 12 intents`);
      examples.push({ text: r.text, intent: r.intent as Intent });
    });
  const nlu = loadNlu({ cacheFile: config.bot.nluCache });
  console.log(formatEvaluation(evaluate(nlu.model, examples), file));
}

export async function kbCheck(config: Config, opts: Record<string, unknown>): Promise<void> {
  const kb = openKnowledgeBase({ dir: (opts['dir'] as string | undefined) ?? config.bot.kbDir });
  const byIntent = new Map<string, number>();
  for (const e of kb.entries()) byIntent.set(e.intent, (byIntent.get(e.intent) ?? 0) + 1);
  console.log(`${kb.entries().length} entries, version ${kb.version()}`);
  for (const [intent, n] of byIntent) console.log(`  ${intent.padEnd(18)} ${n}`);
  kb.close();
  return Promise.resolve();
}

export async function kbSearch(config: Config, opts: Record<string, unknown>): Promise<void> {
  const kb = openKnowledgeBase({ dir: config.bot.kbDir });
  const text = typeof opts['text'] === 'string' ? opts['text'] : '';
  const lang = opts['lang'] === 'en' || (!opts['lang'] && !/\p{Script=Han}/u.test(text)) ? 'en' : 'zh';
  for (const h of kb.search(text, { lang }))
    console.log(`${h.confident ? '*' : ' '} ${h.id}@${h.version}  ${h.score}  ${h.title ?? ''}`);
  kb.close();
  return Promise.resolve();
}

/** `kb gaps [--days 7]`: the unanswered questions, grouped, with a draft entry for each group. */
export async function kbGaps(config: Config, opts: Record<string, unknown>): Promise<void> {
  const days = Number(opts['days'] ?? 7);
  if (!Number.isFinite(days) || days <= 0) throw new UsageError('--days takes a positive number');
  const { sql, close } = await openSql(config);
  try {
    const to = Date.now();
    const rows = await unansweredQuestions(sql, {
      database: config.clickhouse.database,
      from: to - days * 86_400_000,
      to,
    });
    const gaps = groupGaps(rows);
    if (gaps.length === 0) console.log(`no unanswered questions in the last ${days} days`);
    gaps.forEach((g, i) => {
      console.log(`${i + 1}. asked ${g.asked} times, taken for ${g.intent}`);
      for (const e of g.examples) console.log(`     "${e}"`);
      console.log(g.draft.replace(/^/gm, '     '));
    });
  } finally {
    await close();
  }
}
