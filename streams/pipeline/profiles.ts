// Components around user profiles: the interest processor (which shares the catalog, the half-lives
// and the profile store), its snapshots to ClickHouse, the association-rules job and the
// recommendation service.
import { loadCatalog } from '../../catalog';
import { sqlFromClient } from '../../infra/clickhouse/sql';
import { halfLivesOf } from '../processors/interest/model';
import { createInterestProcessor } from '../processors/interest/processor';
import { openProfileStore } from '../processors/interest/store';
import { snapshotChanged } from '../processors/interest/snapshots';
import { scheduleRulesJob } from '../processors/recommend/rules-job';
import { startRecommendService } from '../processors/recommend/service';
import { names } from '../topology';
import { fromLoop, type Component, type PipelineContext, type Shared } from './component';

/**
 * What the interest processor, the triggers and the bot share: the catalog, the half-lives and the
 * profile store (KV). Its own component, so a process can run the bot or the triggers without the
 * interest processor (`serve --only bot,triggers`).
 */
export const profiles: Component = {
  name: 'profiles',
  async start(ctx) {
    const { nc, config } = ctx;
    const catalog = loadCatalog(config.interest.catalogFile || undefined);
    ctx.provide('catalog', catalog);
    ctx.provide('halfLives', halfLivesOf(config.interest));
    ctx.provide(
      'profiles',
      await openProfileStore(nc, names(config.nats.prefix).profilesBucket, catalog.features),
    );
    return { stop: () => Promise.resolve() };
  },
};

export const interest: Component = {
  name: 'interest',
  async start(ctx) {
    const { nc, config, logger } = ctx;
    const catalog = needed(ctx, 'catalog', 'the interest processor');
    const proc = await createInterestProcessor({
      nc,
      config,
      catalog,
      logger: logger.child({ component: 'interest' }),
      store: needed(ctx, 'profiles', 'the interest processor'),
      ...(ctx.get('leases') ? { leases: ctx.get('leases')! } : {}),
    });
    ctx.provide('interest', proc);
    logger.info(
      { products: catalog.products.length, features: catalog.features.size },
      'interest processor running',
    );
    return fromLoop(proc);
  },
};

/** A shared value a component cannot start without. */
export function needed<K extends keyof Shared>(ctx: PipelineContext, key: K, who: string): Shared[K] {
  const v = ctx.get(key);
  if (!v) throw new Error(`${who} needs the component that provides ${key} before it`);
  return v;
}

/**
 * Changed profiles to ClickHouse every INTEREST_SNAPSHOT_INTERVAL, and once more on stop (it stops
 * before the interest processor: components stop in reverse). A failed snapshot keeps its profiles
 * for the next one.
 */
/** Changed users that trigger a snapshot before its interval. */
export const SNAPSHOT_EARLY_AT = 5000;

export const snapshots: Component = {
  name: 'snapshots',
  start(ctx) {
    const { config, logger } = ctx;
    const ch = needed(ctx, 'clickhouse', 'snapshots');
    const catalog = needed(ctx, 'catalog', 'snapshots');
    const halfLives = needed(ctx, 'halfLives', 'snapshots');
    const proc = needed(ctx, 'interest', 'snapshots');
    const snapshot = () =>
      snapshotChanged(proc, ch, config.clickhouse.database, Date.now(), catalog, halfLives, config.tiers);
    let running: Promise<unknown> | undefined;
    const take = (): void => {
      running ??= snapshot()
        .catch((err: Error) => logger.error({ err: err.message }, 'interest snapshot failed'))
        .finally(() => (running = undefined));
    };
    const timer = setInterval(take, config.interest.snapshotIntervalMs);
    // many users changed (a peak): snapshot now, so their states do not pile up in memory
    const early = setInterval(() => proc.changedCount() >= SNAPSHOT_EARLY_AT && take(), 1000);
    timer.unref();
    early.unref();
    return Promise.resolve({
      stop: async () => {
        clearInterval(timer);
        clearInterval(early);
        await running;
        await snapshot();
      },
    });
  },
};

export const rulesJob: Component = {
  name: 'rules',
  async start(ctx) {
    const { nc, config, logger } = ctx;
    const ch = needed(ctx, 'clickhouse', 'the rules job');
    const kv = await nc.jetstream().views.kv(names(config.nats.prefix).rulesBucket, { bindOnly: true });
    const job = scheduleRulesJob(sqlFromClient(ch), kv, config, logger.child({ component: 'rules' }));
    void job.runNow();
    return { stop: () => job.stop() };
  },
};

export const recommend: Component = {
  name: 'recommend',
  async start(ctx) {
    const { nc, config, logger } = ctx;
    const service = await startRecommendService({
      nc,
      config,
      catalog: needed(ctx, 'catalog', 'the recommendation service'),
      logger: logger.child({ component: 'recommend' }),
    });
    logger.info({ subject: names(config.nats.prefix).recommendSubject }, 'recommendation service listening');
    return { stop: () => service.stop() };
  },
};
