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
// The typed client is `requestRecommendations(nc, prefix, request)`.
import {
  KvWatchInclude,
  type KV,
  type KvEntry,
  type Msg,
  type NatsConnection,
  type Subscription,
} from 'nats';
import { z } from 'zod';
import type { Catalog } from '../../../catalog/types';
import type { Config } from '../../../infra/config';
import type { Logger } from '../../../infra/logger';
import { checkTopology, names, userKey } from '../../topology';
import { halfLivesOf, type ProfileState } from '../interest/model';
import { ProfileStore } from '../interest/store';
import type { BasketLevel } from './baskets';
import {
  createRecommender,
  DEFAULT_K,
  MAX_K,
  type RecommendContext,
  type Recommendation,
  type RecommendWeights,
} from './recommend';
import { loadRules, rulesKey } from './rules-store';
import type { RuleSet } from './rules';

export const RECOMMEND_QUEUE = 'recommend';
export const DEFAULT_CACHE_TTL_MS = 2_000;
export const DEFAULT_CACHE_SIZE = 10_000;
export const DEFAULT_RULES_REFRESH_MS = 30_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 2_000;
const MAX_SKUS_IN_CONTEXT = 100;
const MAX_TEXT_LENGTH = 2_000;

export interface RecommendRequest {
  shopId: string;
  /** The customer; or `anonymousId` before login; neither: recommendations from context and rules only. */
  userId?: string;
  anonymousId?: string;
  context?: RecommendContext;
  /** 1..100, default 10. */
  k?: number;
}

export interface RecommendReply {
  items: Recommendation[];
  /** Time the service spent on the request (ms). */
  tookMs: number;
}

export type RecommendErrorCode = 'BAD_REQUEST' | 'INTERNAL';

export interface RecommendErrorReply {
  error: string;
  code: RecommendErrorCode;
}

const skuList = z
  .array(z.string().min(1, 'must not contain empty skus'), { error: 'must be an array of sku strings' })
  .max(MAX_SKUS_IN_CONTEXT, `must list at most ${MAX_SKUS_IN_CONTEXT} skus`);

const requestSchema = z.strictObject(
  {
    shopId: z
      .string({ error: 'is required: the shop to recommend for (a non-empty string)' })
      .trim()
      .min(1, 'is required: the shop to recommend for (a non-empty string)'),
    userId: z.string({ error: 'must be a string' }).optional(),
    anonymousId: z.string({ error: 'must be a string' }).optional(),
    context: z
      .strictObject(
        {
          cartSkus: skuList.optional(),
          viewingSkus: skuList.optional(),
          text: z
            .string({ error: 'must be a string' })
            .max(MAX_TEXT_LENGTH, `must be at most ${MAX_TEXT_LENGTH} characters`)
            .optional(),
        },
        { error: 'must be an object with cartSkus, viewingSkus and text (all optional)' },
      )
      .optional(),
    k: z
      .number({ error: `must be an integer from 1 to ${MAX_K}` })
      .int(`must be an integer from 1 to ${MAX_K}`)
      .min(1, `must be an integer from 1 to ${MAX_K}`)
      .max(MAX_K, `must be an integer from 1 to ${MAX_K}`)
      .optional(),
  },
  { error: 'the request must be a JSON object such as {"shopId":"demo-shop","userId":"u1","k":10}' },
);

export class RecommendRequestError extends Error {
  override readonly name = 'RecommendRequestError';
  readonly code = 'BAD_REQUEST';
}

/**
 * Parses and checks a request (bytes or an already parsed value); throws RecommendRequestError
 * with one message listing every problem by field, e.g. `k: must be an integer from 1 to 100`.
 */
export function parseRecommendRequest(raw: unknown): RecommendRequest {
  let value: unknown = raw;
  if (raw instanceof Uint8Array) {
    const text = Buffer.from(raw).toString('utf8');
    if (!text.trim())
      throw new RecommendRequestError('empty request: send a JSON object with at least shopId');
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new RecommendRequestError(`the request is not valid JSON: ${(err as Error).message}`);
    }
  }
  const parsed = requestSchema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      if (i.code === 'unrecognized_keys')
        return `${[...i.path, ''].join('.')}unknown field(s) ${i.keys.join(', ')} (expected shopId, userId, anonymousId, context{cartSkus, viewingSkus, text}, k)`;
      return i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message;
    });
    throw new RecommendRequestError(problems.join('; '));
  }
  const r = parsed.data;
  const out: RecommendRequest = { shopId: r.shopId };
  if (r.userId) out.userId = r.userId;
  if (r.anonymousId) out.anonymousId = r.anonymousId;
  if (r.context) out.context = r.context;
  if (r.k !== undefined) out.k = r.k;
  return out;
}

/** A small LRU with a TTL per entry (Map keeps insertion order: re-inserting moves a key to the end). */
class TtlLru<V> {
  private readonly entries = new Map<string, { value: V; expires: number }>();
  constructor(
    private readonly size: number,
    private readonly ttlMs: number,
  ) {}

  get(key: string, now: number): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    this.entries.delete(key);
    if (e.expires <= now) return undefined;
    this.entries.set(key, e);
    return e.value;
  }

  set(key: string, value: V, now: number): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expires: now + this.ttlMs });
    while (this.entries.size > this.size) this.entries.delete(this.entries.keys().next().value!);
  }
}

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

export class RecommendServiceError extends Error {
  override readonly name = 'RecommendServiceError';
  constructor(
    message: string,
    readonly code: RecommendErrorCode | 'NO_SERVICE' | 'TIMEOUT',
  ) {
    super(message);
  }
}

/**
 * Asks the recommendation service (any instance) for recommendations. Throws RecommendServiceError:
 * `BAD_REQUEST` (the message says which field), `INTERNAL`, `NO_SERVICE` (nobody listens on the
 * subject), `TIMEOUT`.
 */
export async function requestRecommendations(
  nc: NatsConnection,
  prefix: string,
  req: RecommendRequest,
  timeoutMs: number = DEFAULT_REQUEST_TIMEOUT_MS,
): Promise<RecommendReply> {
  const subject = names(prefix).recommendSubject;
  let m: Msg;
  try {
    m = await nc.request(subject, Buffer.from(JSON.stringify(req)), { timeout: timeoutMs });
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (e.code === '503')
      throw new RecommendServiceError(
        `no recommendation service is listening on ${subject} (start the pipeline service: npx shopstream serve)`,
        'NO_SERVICE',
      );
    if (e.code === 'TIMEOUT')
      throw new RecommendServiceError(`no reply on ${subject} within ${timeoutMs} ms`, 'TIMEOUT');
    throw err;
  }
  const body = JSON.parse(Buffer.from(m.data).toString('utf8')) as RecommendReply | RecommendErrorReply;
  if ('error' in body) throw new RecommendServiceError(body.error, body.code);
  return body;
}
