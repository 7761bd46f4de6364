// The recommendation service: NATS request-reply on `<prefix>.svc.recommend`, queue group
// `recommend`, so any number of instances share the load (each request goes to one of them).
//
//   request  {"shopId":"demo-shop","userId":"u1","context":{"cartSkus":["CM-0003"],"text":"..."},"k":10}
//   reply    {"items":[{"sku":"BEAN-0007","score":0.61,"reasons":["bought together with ..."]}],"tookMs":0.4}
//   or       {"error":"k: must be an integer from 1 to 100","code":"BAD_REQUEST"}
//
// Profiles come from the KV profiles bucket (ProfileStore), through a small in-memory LRU cache with
// a short TTL (default 2 s): a user asking again within the TTL is answered without a KV read, and a
// profile is never more than the TTL behind the interest processor. Concurrent misses for one user
// share one read. Rule sets (category and sku level, per shop) come from the KV rules bucket: loaded
// on a shop's first request, refreshed in the background (default every 30 s), and replaced as soon
// as the mining job writes new ones (a KV watch on the bucket).
//
// The typed client is `requestRecommendations(nc, prefix, request)` (client.ts); the request and reply
// shapes are in protocol.ts.
import {
  KvWatchInclude,
  type KV,
  type KvEntry,
  type Msg,
  type NatsConnection,
  type Subscription,
} from 'nats';
import type { Catalog } from '../../../catalog/types';
import type { Config } from '../../../infra/config';
import type { Logger } from '../../../infra/logger';
import { names, userKey } from '../../topology';
import { checkTopology } from '../../topology-apply';
import { halfLivesOf, type ProfileState } from '../interest/model';
import { ProfileStore } from '../interest/store';
import type { BasketLevel } from './baskets';
import { createRecommender, DEFAULT_K, type RecommendWeights } from './recommend';
import { loadRules, rulesKey } from './rules-store';
import type { RuleSet } from './rules';
import {
  parseRecommendRequest,
  type RecommendErrorReply,
  type RecommendReply,
  type RecommendRequest,
} from './protocol';
import { TtlLru } from './ttl-lru';

export { DEFAULT_REQUEST_TIMEOUT_MS, RecommendServiceError, requestRecommendations } from './client';
export {
  parseRecommendRequest,
  RecommendRequestError,
  type RecommendErrorCode,
  type RecommendErrorReply,
  type RecommendReply,
  type RecommendRequest,
} from './protocol';

export const RECOMMEND_QUEUE = 'recommend';
export const DEFAULT_CACHE_TTL_MS = 2_000;
export const DEFAULT_CACHE_SIZE = 10_000;
export const DEFAULT_RULES_REFRESH_MS = 30_000;

export interface RecommendServiceStats {
  requests: number;
  badRequests: number;
  errors: number;
  profileCacheHits: number;
  profileLoads: number;
  rulesLoads: number;
}

export interface RecommendService {
  /** Drains the subscription (requests already received are answered), then stops the background work. */
  stop(): Promise<void>;
  stats(): RecommendServiceStats;
}

export interface RecommendServiceOptions {
  nc: NatsConnection;
  config: Config;
  catalog: Catalog;
  logger: Logger;
  /** How long a loaded profile answers requests (default 2 s). */
  cacheTtlMs?: number;
  /** Profiles kept in memory (default 10,000). */
  cacheSize?: number;
  /** How often rule sets are reloaded in the background (default 30 s). */
  rulesRefreshMs?: number;
  weights?: Partial<RecommendWeights>;
  /** The clock (epoch ms); tests and benchmarks may fix it. */
  now?: () => number;
}

interface ShopRules {
  category?: RuleSet;
  sku?: RuleSet;
}

const LEVELS: readonly BasketLevel[] = ['category', 'sku'];

export async function startRecommendService(opts: RecommendServiceOptions): Promise<RecommendService> {
  const { nc, config, catalog, logger } = opts;
  const clock = opts.now ?? Date.now;
  const n = names(config.nats.prefix);
  await checkTopology(await nc.jetstreamManager(), config, {
    streams: [],
    buckets: [n.profilesBucket, n.rulesBucket],
  });
  const js = nc.jetstream();
  const profiles = new ProfileStore(
    await js.views.kv(n.profilesBucket, { bindOnly: true }),
    catalog.features,
  );
  const rulesKv: KV = await js.views.kv(n.rulesBucket, { bindOnly: true });
  const recommender = createRecommender(catalog, opts.weights);
  const halfLives = halfLivesOf(config.interest);
  const stats: RecommendServiceStats = {
    requests: 0,
    badRequests: 0,
    errors: 0,
    profileCacheHits: 0,
    profileLoads: 0,
    rulesLoads: 0,
  };

  // ---- profiles: LRU + TTL, one KV read per user however many concurrent misses
  const cache = new TtlLru<ProfileState | null>(
    opts.cacheSize ?? DEFAULT_CACHE_SIZE,
    opts.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS,
  );
  const loading = new Map<string, Promise<ProfileState | null>>();
  const profileOf = async (shopId: string, key: string): Promise<ProfileState | undefined> => {
    const id = `${shopId}\0${key}`;
    const hit = cache.get(id, Date.now());
    if (hit !== undefined) {
      stats.profileCacheHits++;
      return hit ?? undefined;
    }
    let p = loading.get(id);
    if (!p) {
      stats.profileLoads++;
      p = profiles
        .load(shopId, key)
        .then(({ state, revision }) => {
          const value = revision === 0 ? null : state;
          cache.set(id, value, Date.now());
          return value;
        })
        .finally(() => loading.delete(id));
      loading.set(id, p);
    }
    return (await p) ?? undefined;
  };

  // ---- rules: per shop, loaded on first use, refreshed and watched
  const rules = new Map<string, ShopRules>();
  const rulesLoading = new Map<string, Promise<ShopRules>>();
  /** rules key -> [shop, level], for the shops this instance serves */
  const watchedKeys = new Map<string, [string, BasketLevel]>();
  const loadShopRules = async (shopId: string): Promise<ShopRules> => {
    const [category, sku] = await Promise.all(LEVELS.map((level) => loadRules(rulesKv, shopId, level)));
    stats.rulesLoads++;
    const r: ShopRules = {};
    if (category) r.category = category;
    if (sku) r.sku = sku;
    rules.set(shopId, r);
    for (const level of LEVELS) watchedKeys.set(rulesKey(shopId, level), [shopId, level]);
    return r;
  };
  const rulesOf = async (shopId: string): Promise<ShopRules> => {
    const known = rules.get(shopId);
    if (known) return known;
    let p = rulesLoading.get(shopId);
    if (!p) {
      p = loadShopRules(shopId).finally(() => rulesLoading.delete(shopId));
      rulesLoading.set(shopId, p);
    }
    return p;
  };
  let refreshing = false;
  const refresh = async (): Promise<void> => {
    if (refreshing) return;
    refreshing = true;
    try {
      for (const shopId of [...rules.keys()]) await loadShopRules(shopId);
    } catch (err) {
      logger.warn(
        { err: (err as Error).message },
        'recommend: rules refresh failed; keeping the rules loaded',
      );
    } finally {
      refreshing = false;
    }
  };
  const timer = setInterval(() => void refresh(), opts.rulesRefreshMs ?? DEFAULT_RULES_REFRESH_MS);
  timer.unref();
  const watcher = await rulesKv.watch({ include: KvWatchInclude.UpdatesOnly });
  const watching = (async () => {
    for await (const e of watcher as AsyncIterable<KvEntry>) {
      const target = watchedKeys.get(e.key);
      if (!target) continue; // a shop this instance has not served yet: loaded on its first request
      const [shopId, level] = target;
      const current = { ...(rules.get(shopId) ?? {}) };
      try {
        if (e.operation === 'PUT' && e.value.length > 0)
          current[level] = JSON.parse(Buffer.from(e.value).toString('utf8')) as RuleSet;
        else delete current[level];
        rules.set(shopId, current);
        logger.info({ shopId, level, revision: e.revision }, 'recommend: rules updated');
      } catch (err) {
        logger.warn({ shopId, level, err: (err as Error).message }, 'recommend: unreadable rules ignored');
      }
    }
  })().catch((err: unknown) => {
    // the connection closed under the watch: the periodic refresh keeps the rules current
    logger.warn({ err: (err as Error).message }, 'recommend: rules watch ended');
  });

  // ---- requests
  const reply = (m: Msg, body: RecommendReply | RecommendErrorReply): void => {
    if (m.reply) m.respond(Buffer.from(JSON.stringify(body)));
  };
  const inflight = new Set<Promise<void>>();
  const handle = async (m: Msg): Promise<void> => {
    const started = performance.now();
    stats.requests++;
    let req: RecommendRequest;
    try {
      req = parseRecommendRequest(m.data);
    } catch (err) {
      stats.badRequests++;
      reply(m, { error: (err as Error).message, code: 'BAD_REQUEST' });
      return;
    }
    try {
      const key = userKey(req);
      const [profile, shopRules] = await Promise.all([
        key ? profileOf(req.shopId, key) : Promise.resolve(undefined),
        rulesOf(req.shopId),
      ]);
      const items = recommender.recommend({
        profile,
        rules: shopRules,
        now: clock(),
        halfLives,
        context: req.context,
        k: req.k ?? DEFAULT_K,
      });
      reply(m, { items, tookMs: Math.round((performance.now() - started) * 1000) / 1000 });
    } catch (err) {
      stats.errors++;
      logger.error({ shopId: req.shopId, err: (err as Error).message }, 'recommend: request failed');
      reply(m, { error: `recommendation failed: ${(err as Error).message}`, code: 'INTERNAL' });
    }
  };
  const sub: Subscription = nc.subscribe(n.recommendSubject, {
    queue: RECOMMEND_QUEUE,
    callback: (err, m) => {
      if (err) {
        logger.warn({ err: err.message }, 'recommend: subscription error');
        return;
      }
      const p = handle(m)
        .catch((e: unknown) => logger.error({ err: (e as Error).message }, 'recommend: could not reply'))
        .finally(() => inflight.delete(p));
      inflight.add(p);
    },
  });
  // a round trip to the server: once this resolves, the subscription is registered there, so a
  // request sent from any connection finds this instance
  await nc.flush();
  logger.info({ subject: n.recommendSubject, queue: RECOMMEND_QUEUE }, 'recommend service listening');

  let stopped: Promise<void> | undefined;
  return {
    stop: () =>
      (stopped ??= (async () => {
        clearInterval(timer);
        try {
          if (!nc.isClosed() && !sub.isClosed()) await sub.drain();
        } catch (err) {
          // the connection is draining or closed: its own drain delivers what was received
          logger.debug({ err: (err as Error).message }, 'recommend: subscription drain');
        }
        await Promise.allSettled([...inflight]);
        watcher.stop();
        await watching;
      })()),
    stats: () => ({ ...stats }),
  };
}
