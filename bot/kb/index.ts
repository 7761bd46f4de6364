// The knowledge base as the bot uses it: the entries of a folder, indexed, and kept current: with
// `watch`, a change to the folder (an entry edited, a file added) is picked up within a second,
// without a restart. A bad edit never takes the base down: the last good one stays and the error is
// reported (onError). version() is a short hash of every entry's id and version, shown in replies.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { KbHit } from '../dialogue/ports';
import { loadEntries, type KbEntry } from './entries';
import { buildIndex, type KbIndex } from './search';

export { KbError, loadEntries, parseEntries, type KbEntry } from './entries';
export { buildIndex, CONFIDENT_COVERAGE, kbTokens } from './search';

/** The shipped entries. */
export const ENTRIES_DIR = path.join(__dirname, 'entries');

export interface KnowledgeBase {
  search(text: string, opts: { intent?: string; lang: 'zh' | 'en' }): KbHit[];
  version(): string;
  entries(): readonly KbEntry[];
  /** Reads the folder again now (watching does this on every change). */
  reload(): void;
  close(): void;
}

export function kbVersionOf(entries: readonly KbEntry[]): string {
  const h = createHash('sha256');
  for (const e of entries) h.update(`${e.id}@${e.version}\n`);
  return h.digest('hex').slice(0, 12);
}

export function openKnowledgeBase(opts: {
  dir?: string;
  watch?: boolean;
  onReload?(version: string): void;
  onError?(err: Error): void;
}): KnowledgeBase {
  const dir = opts.dir ?? ENTRIES_DIR;
  let entries = loadEntries(dir); // the first load must succeed: a service does not start on a bad base
  let index: KbIndex = buildIndex(entries);
  let version = kbVersionOf(entries);
  let lastSource = '';

  const sourceOf = (): string =>
    fs
      .readdirSync(dir)
      .filter((f) => /\.ya?ml$/.test(f))
      .sort()
      .map((f) => `${f}\n${fs.readFileSync(path.join(dir, f), 'utf8')}`)
      .join('\n');
  lastSource = sourceOf();

  const reload = (): void => {
    try {
      const source = sourceOf();
      if (source === lastSource) return;
      const next = loadEntries(dir);
      entries = next;
      index = buildIndex(next);
      version = kbVersionOf(next);
      lastSource = source;
      opts.onReload?.(version);
    } catch (err) {
      opts.onError?.(err as Error);
    }
  };

  let watcher: fs.FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  let poll: NodeJS.Timeout | undefined;
  if (opts.watch) {
    const soon = (): void => {
      clearTimeout(timer);
      timer = setTimeout(reload, 200);
      timer.unref();
    };
    try {
      watcher = fs.watch(dir, soon);
      watcher.on('error', (err) => opts.onError?.(err));
    } catch (err) {
      opts.onError?.(err as Error);
    }
    // file systems that do not report changes (network mounts): a slow poll as well
    poll = setInterval(reload, 5000);
    poll.unref();
  }

  return {
    search: (text, o) => index.search(text, o),
    version: () => version,
    entries: () => entries,
    reload,
    close() {
      watcher?.close();
      clearTimeout(timer);
      clearInterval(poll);
    },
  };
}
