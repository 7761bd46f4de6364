// What the bot knows, opened once per process: the intent model (bot/nlu, trained from the shipped data
// or read from its cache when the data has not changed) and the knowledge base (bot/kb, reloaded when
// its files change; a bad edit keeps the last good base and is logged). `understand` adds the catalog
// category the text names to the model's slots.
import { loadNlu } from '../../../bot/nlu';
import { openKnowledgeBase } from '../../../bot/kb';
import type { KbHit, Understood } from '../../../bot/dialogue/ports';
import type { Lang } from '../../../bot/dialogue/state';
import type { Catalog } from '../../../catalog/types';
import type { Config } from '../../../infra/config';
import type { Logger } from '../../../infra/logger';

export interface Brain {
  understand(text: string): Understood;
  kbSearch(text: string, opts: { intent?: string; lang: Lang }): KbHit[];
  kbVersion(): string;
  close(): void;
}

/** The catalog category a text names most strongly (its category features), if any. */
export function categoryIn(catalog: Catalog, text: string): string | undefined {
  let best: { name: string; w: number } | undefined;
  for (const [i, w] of catalog.textFeatures(text)) {
    const name = catalog.features.names[i];
    if (name?.startsWith('category:') && (!best || w > best.w)) best = { name, w };
  }
  return best?.name.slice('category:'.length);
}

export function openBrain(deps: { config: Pick<Config, 'bot'>; logger: Logger; catalog?: Catalog }): Brain {
  const { config, logger, catalog } = deps;
  const started = Date.now();
  const nlu = loadNlu({ cacheFile: config.bot.nluCache });
  logger.info({ dataHash: nlu.dataHash, ms: Date.now() - started }, 'intent model ready');
  const kb = openKnowledgeBase({
    dir: config.bot.kbDir,
    watch: config.bot.kbWatch === 'on',
    onReload: (version: string) => logger.info({ kbVersion: version }, 'knowledge base reloaded'),
    onError: (err: Error) =>
      logger.error({ err: err.message }, 'knowledge base edit refused; the last good version stays'),
  });
  return {
    understand(text) {
      const u = nlu.understand(text);
      const category = catalog ? categoryIn(catalog, text) : undefined;
      return { ...u, slots: { ...u.slots, ...(category ? { category } : {}) } };
    },
    kbSearch: (text, opts) => kb.search(text, opts),
    kbVersion: () => kb.version(),
    close: () => kb.close(),
  };
}
