// Recommendation latency: (a) the library call, (b) request-reply through NATS to the service on a
// warm profile cache. Real profiles: simulated shoppers' histories (demo/simulator.ts planShopper)
// applied with the interest model, stored in the KV profiles bucket; rules mined from their orders.
//   npx tsx bench/recommend.ts
//   USERS=2000 REQUESTS=20000 npx tsx bench/recommend.ts
//   NATS_URL=nats://127.0.0.1:4222 npx tsx bench/recommend.ts     (an existing server; else a throwaway one)
// Requests mix no context, a cart (items of the shopper's last order) and chat text, cycling over
// the users. (b) is on a warm cache: a first pass loads every profile, and the cache TTL outlasts
// the run; (b') is the same with the service's default TTL (2 s), so about a third of the requests
// read the profile from KV again; (c) keeps CONCURRENCY requests in flight, for throughput. Client and
// service share this process (two connections). Writes bench-recommend.json.
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { loadCatalog } from '../catalog';
import { planShopper, type SimShopper } from '../demo/simulator';
import { createLogger } from '../infra/logger';
import { decodeEnvelope, encodeEnvelope } from '../schemas/codec';
import { SCHEMA_VERSION, channelValue, payloadField } from '../schemas/events';
import { connectNats } from '../infra/nats';
import { applyEvent, emptyState, halfLivesOf, type ProfileState } from '../streams/processors/interest/model';
import { ProfileStore } from '../streams/processors/interest/store';
import { createRecommender, type RecommendContext } from '../streams/processors/recommend/recommend';
import { mineRules } from '../streams/processors/recommend/rules';
import { saveRules } from '../streams/processors/recommend/rules-store';
import {
  DEFAULT_CACHE_TTL_MS,
  requestRecommendations,
  startRecommendService,
  type RecommendRequest,
} from '../streams/processors/recommend/service';
import { names } from '../streams/topology';
import { applyTopology } from '../streams/topology-apply';
import { startTestNats, type TestNats } from '../infra/stack/test-nats';
import { testConfig } from '../infra/stack/test-config';

const USERS = Number(process.env['USERS'] ?? 1000);
const REQUESTS = Number(process.env['REQUESTS'] ?? 10_000);
const CONCURRENCY = Number(process.env['CONCURRENCY'] ?? 16);
const OUT = path.join(__dirname, '..', 'bench-recommend.json');
const SHOP = 'bench-shop';
const DAY = 86_400_000;
const TEXTS = [
  'drop-proof case',
  '长续航手机',
  'dark roast beans',
  'moisturizer for dry skin',
  'linen shirt',
];

interface Stats {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}
function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.ceil(s.length * p) - 1)]!;
  const r = (x: number): number => Math.round(x * 1000) / 1000;
  return {
    n: s.length,
    p50: r(q(0.5)),
    p95: r(q(0.95)),
    p99: r(q(0.99)),
    max: r(s[s.length - 1]!),
    mean: r(s.reduce((a, b) => a + b, 0) / s.length),
  };
}
const fmt = (s: Stats): string =>
  `p50 ${s.p50.toFixed(3)} ms  p95 ${s.p95.toFixed(3)} ms  p99 ${s.p99.toFixed(3)} ms  max ${s.max.toFixed(2)} ms  (n ${s.n})`;

function contextFor(user: SimShopper, i: number): RecommendContext | undefined {
  switch (i % 3) {
    case 0:
      return undefined;
    case 1: {
      const last = user.orders[user.orders.length - 1];
      return last ? { cartSkus: last.skus.slice(0, 2) } : { text: TEXTS[i % TEXTS.length]! };
    }
    default:
      return { text: TEXTS[i % TEXTS.length]! };
  }
}

async function main(): Promise<void> {
  const catalog = loadCatalog();
  let server: TestNats | undefined;
  const url = process.env['NATS_URL'] ?? (server = await startTestNats()).url;
  const config = testConfig(url, { SHOPSTREAM_PREFIX: `benchrec${Date.now().toString(36)}` });
  const halfLives = halfLivesOf(config.interest);
  const nc = await connectNats(config.nats, 'bench-recommend-service');
  const client = await connectNats(config.nats, 'bench-recommend-client');
  try {
    await applyTopology(await nc.jetstreamManager(), config);
    const n = names(config.nats.prefix);
    const js = nc.jetstream();

    // profiles from simulated histories, ending about now
    const t0 = Date.now() - 60 * DAY;
    const users: SimShopper[] = [];
    const profiles: ProfileState[] = [];
    for (let i = 0; i < USERS; i++) {
      const u = planShopper(1, i, catalog, t0);
      const state = emptyState(SHOP, u.userId, catalog.features.size);
      u.events.forEach((e, j) => {
        const d = decodeEnvelope(
          encodeEnvelope({
            eventId: `${u.userId}-${j}`,
            schemaVersion: SCHEMA_VERSION,
            shopId: SHOP,
            userId: u.userId,
            sessionId: e.input.sessionId ?? '',
            channel: channelValue(e.input.channel),
            occurredAt: Number(e.input.occurredAt),
            sequence: j + 1,
            producerId: 'bench',
            [payloadField(e.type)]: e.input.properties,
          }),
        );
        if (!d.ok) throw new Error(d.detail);
        applyEvent(state, d.envelope, d.type, j + 1, catalog, halfLives);
      });
      users.push(u);
      profiles.push(state);
    }
    const store = new ProfileStore(await js.views.kv(n.profilesBucket, { bindOnly: true }), catalog.features);
    for (let i = 0; i < profiles.length; i += 100)
      await Promise.all(profiles.slice(i, i + 100).map((state) => store.save({ state, revision: 0 })));
    const skuBaskets = users.flatMap((u) => u.orders.map((o) => o.skus));
    const rules = {
      sku: mineRules(skuBaskets, { minSupport: 0.001, minConfidence: 0.01, maxItemsetLength: 2 }),
      category: mineRules(
        skuBaskets.map((b) => [...new Set(b.map((s) => catalog.bySku.get(s)!.category))]),
        { minSupport: 0.005, minConfidence: 0.05, maxItemsetLength: 2 },
      ),
    };
    const rulesKv = await js.views.kv(n.rulesBucket, { bindOnly: true });
    await saveRules(rulesKv, SHOP, 'sku', rules.sku);
    await saveRules(rulesKv, SHOP, 'category', rules.category);
    const events = users.reduce((s, u) => s + u.events.length, 0);
    console.log(
      `${USERS} shoppers (${events} events, ${skuBaskets.length} orders) in KV; ` +
        `${rules.sku.rules.length} sku rules, ${rules.category.rules.length} category rules; ` +
        `catalog ${catalog.products.length} products x ${catalog.features.size} features`,
    );

    // (a) the library call
    const recommender = createRecommender(catalog);
    const now = Date.now();
    const call = (i: number): void => {
      const u = i % USERS;
      recommender.recommend({
        profile: profiles[u],
        rules,
        now,
        halfLives,
        context: contextFor(users[u]!, i),
        k: 10,
      });
    };
    for (let i = 0; i < 1000; i++) call(i); // JIT warm-up
    const lib: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const t = performance.now();
      call(i);
      lib.push(performance.now() - t);
    }
    const library = stats(lib);
    console.log(`(a) library recommend():           ${fmt(library)}`);

    // (b) request-reply through NATS, one request at a time
    const logger = createLogger('silent', 'bench');
    const request = (i: number): RecommendRequest => {
      const u = i % USERS;
      const req: RecommendRequest = { shopId: SHOP, userId: users[u]!.userId, k: 10 };
      const context = contextFor(users[u]!, i);
      if (context) req.context = context;
      return req;
    };
    const sequential = async (
      cacheTtlMs: number,
    ): Promise<{ wall: Stats; service: Stats; hits: number; loads: number }> => {
      const service = await startRecommendService({ nc, config, catalog, logger, cacheTtlMs });
      try {
        for (let i = 0; i < USERS; i++) await requestRecommendations(client, config.nats.prefix, request(i)); // warm
        const before = service.stats();
        const wall: number[] = [];
        const took: number[] = [];
        for (let i = 0; i < REQUESTS; i++) {
          const t = performance.now();
          const r = await requestRecommendations(client, config.nats.prefix, request(i));
          wall.push(performance.now() - t);
          took.push(r.tookMs);
        }
        const after = service.stats();
        return {
          wall: stats(wall),
          service: stats(took),
          hits: after.profileCacheHits - before.profileCacheHits,
          loads: after.profileLoads - before.profileLoads,
        };
      } finally {
        await service.stop();
      }
    };
    const ratio = (x: { hits: number; loads: number }): number =>
      Math.round((x.hits / Math.max(1, x.hits + x.loads)) * 1000) / 1000;
    // warm: every profile cached (TTL longer than the run)
    const warm = await sequential(10 * 60_000);
    console.log(`(b) request-reply, warm cache:      ${fmt(warm.wall)}`);
    console.log(`    of which in the service:        ${fmt(warm.service)}  (hit ratio ${ratio(warm)})`);
    // the service's default TTL (2 s): a profile is re-read from KV once it is 2 s old
    const ttl = await sequential(DEFAULT_CACHE_TTL_MS);
    console.log(`(b') request-reply, TTL ${DEFAULT_CACHE_TTL_MS / 1000} s:        ${fmt(ttl.wall)}`);
    console.log(
      `    of which in the service:        ${fmt(ttl.service)}  (hit ratio ${ratio(ttl)}, ${ttl.loads} KV reads)`,
    );

    // (c) CONCURRENCY requests in flight (default TTL): throughput of one instance
    const service = await startRecommendService({ nc, config, catalog, logger });
    const conc: number[] = [];
    let next = 0;
    const startedC = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < REQUESTS) {
          const i = next++;
          const t = performance.now();
          await requestRecommendations(client, config.nats.prefix, request(i));
          conc.push(performance.now() - t);
        }
      }),
    );
    const concSec = (performance.now() - startedC) / 1000;
    const concurrent = stats(conc);
    console.log(
      `(c) request-reply, ${CONCURRENCY} in flight:     ${fmt(concurrent)}; ${Math.round(REQUESTS / concSec)} requests/s`,
    );
    await service.stop();

    const target = 20;
    const result = {
      at: new Date().toISOString(),
      users: USERS,
      requests: REQUESTS,
      catalog: { products: catalog.products.length, features: catalog.features.size },
      rules: { sku: rules.sku.rules.length, category: rules.category.rules.length },
      library_ms: library,
      request_reply_warm_ms: { ...warm.wall, service: warm.service, cache_hit_ratio: ratio(warm) },
      request_reply_default_ttl_ms: {
        ...ttl.wall,
        service: ttl.service,
        cache_ttl_ms: DEFAULT_CACHE_TTL_MS,
        cache_hit_ratio: ratio(ttl),
        kv_reads: ttl.loads,
      },
      concurrent_ms: {
        concurrency: CONCURRENCY,
        ...concurrent,
        requests_per_s: Math.round(REQUESTS / concSec),
      },
      target_p99_ms: target,
      meets_target: warm.wall.p99 < target && library.p99 < target,
    };
    writeFileSync(OUT, `${JSON.stringify(result, null, 2)}\n`);
    console.log(
      `p99 target ${target} ms on a warm cache: ${result.meets_target ? 'met' : 'NOT met'}; written to ${path.relative(process.cwd(), OUT)}`,
    );
    if (!result.meets_target) process.exitCode = 1;
  } finally {
    await client.drain();
    await nc.drain();
    await server?.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
