// Interest and recommendation quality on simulated shoppers with hidden true preferences
// (demo/simulator.ts planShopper), in process, with the real model code: no servers needed.
//   npx tsx bench/quality.ts                       (make bench-quality)
//   QUALITY_USERS=5000 QUALITY_SEED=7 npx tsx bench/quality.ts
//   QUALITY_WEIGHTS='{"popularity":0}' npx tsx bench/quality.ts    (try other recommender weights)
//
// Method
//   1. Each shopper's history is several sessions days apart (5-9). The split is in time, at the
//      start of the shopper's second-to-last session: every event before it is training, the orders
//      from it on are the shopper's "next purchases". Nothing after the split is seen by the model.
//   2. Training events go through the wire format (protobuf encode/decode) and applyEvent, with
//      stream sequences, into a profile per shopper (the interest processor's state).
//   3. Association rules are mined (mineRules) from the training orders of all shoppers, at the
//      category level and at the sku level, as the scheduled rules job does from ClickHouse.
//   4. Figures:
//      top_category_match  share of shoppers with >= 20 training events whose top long-term
//                          category at the split (topCategory) is their hidden preferred category.
//      precision_at_10     mean over eligible shoppers of |R ∩ N| / 10, where R = recommend() at the
//                          split time (profile and rules only, no context, k = 10) and N = the distinct
//                          skus of the shopper's next purchases that they had not bought in training.
//                          Eligible: N is not empty. Both recommenders exclude what the shopper
//                          bought in training, so an item bought again could not count for either.
//      popularity_precision_at_10
//                          the same for a most-popular baseline: the skus in most training orders
//                          (ties by sku), without the shopper's own training purchases, top 10.
//   The hidden preferences are read only to score top_category_match: the recommender, the profile
//   and the rules never see them.
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { loadCatalog } from '../catalog';
import { planShopper, type PlannedEvent, type SimShopper } from '../demo/simulator';
import { loadConfig } from '../infra/config';
import { decodeEnvelope, encodeEnvelope } from '../schemas/codec';
import { SCHEMA_VERSION, channelValue, payloadField, type EnvelopeInit } from '../schemas/events';
import {
  applyEvent,
  emptyState,
  topCategory,
  halfLivesOf,
  type ProfileState,
} from '../streams/processors/interest/model';
import { createRecommender, type RecommendWeights } from '../streams/processors/recommend/recommend';
import { mineRules } from '../streams/processors/recommend/rules';

const USERS = Number(process.env['QUALITY_USERS'] ?? 3000);
const SEED = Number(process.env['QUALITY_SEED'] ?? 42);
const OUT = process.env['QUALITY_OUT'] ?? path.join(__dirname, '..', 'quality-results.json');
const WEIGHTS = JSON.parse(process.env['QUALITY_WEIGHTS'] ?? '{}') as Partial<RecommendWeights>;
const K = 10;
const MIN_EVENTS = 20;
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 8, 1);
const SHOP = 'quality-shop';
/** Mining thresholds: sku pairs seen in a handful of orders count; categories need more. */
const SKU_RULES = { minSupport: 0.0005, minConfidence: 0.01, maxItemsetLength: 2 };
const CATEGORY_RULES = { minSupport: 0.005, minConfidence: 0.05, maxItemsetLength: 2 };

function toEnvelope(user: SimShopper, e: PlannedEvent, i: number): EnvelopeInit {
  const input = e.input;
  return {
    eventId: `${user.userId}-${i}`,
    schemaVersion: SCHEMA_VERSION,
    shopId: SHOP,
    userId: input.userId ?? '',
    anonymousId: '',
    sessionId: input.sessionId ?? '',
    channel: channelValue(input.channel),
    occurredAt: Number(input.occurredAt),
    sequence: i + 1,
    producerId: 'quality',
    [payloadField(e.type)]: input.properties,
  };
}

interface Shopper {
  sim: SimShopper;
  splitAt: number;
  trainingEvents: number;
  profile: ProfileState;
  /** Distinct skus bought after the split, not bought before it. */
  next: Set<string>;
}

function main(): void {
  const started = performance.now();
  const catalog = loadCatalog();
  const config = loadConfig();
  const halfLives = halfLivesOf(config.interest);

  // 1-2. simulate, split, build profiles
  const shoppers: Shopper[] = [];
  for (let i = 0; i < USERS; i++) {
    const sim = planShopper(SEED, i, catalog, T0 + (i % 28) * DAY);
    const split = Math.max(1, sim.sessions.length - 2);
    const splitAt = sim.sessions[split]!.startedAt;
    const profile = emptyState(SHOP, sim.userId, catalog.features.size);
    let trainingEvents = 0;
    sim.events.forEach((e, j) => {
      if (Number(e.input.occurredAt) >= splitAt) return;
      const d = decodeEnvelope(encodeEnvelope(toEnvelope(sim, e, j)));
      if (!d.ok) throw new Error(`simulated event does not decode: ${d.detail}`);
      applyEvent(profile, d.envelope, d.type, j + 1, catalog, halfLives);
      trainingEvents++;
    });
    const before = new Set(sim.orders.filter((o) => o.occurredAt < splitAt).flatMap((o) => o.skus));
    const next = new Set(
      sim.orders
        .filter((o) => o.occurredAt >= splitAt)
        .flatMap((o) => o.skus)
        .filter((s) => !before.has(s)),
    );
    shoppers.push({ sim, splitAt, trainingEvents, profile, next });
  }
  const simulatedMs = performance.now() - started;

  // 3. rules and popularity from training orders only
  const trainingOrders = shoppers.flatMap((s) => s.sim.orders.filter((o) => o.occurredAt < s.splitAt));
  const skuBaskets = trainingOrders.map((o) => o.skus);
  const categoryBaskets = skuBaskets.map((b) => [
    ...new Set(b.map((sku) => catalog.bySku.get(sku)!.category)),
  ]);
  const rules = {
    sku: mineRules(skuBaskets, SKU_RULES),
    category: mineRules(categoryBaskets, CATEGORY_RULES),
  };
  const orderCount = new Map<string, number>();
  for (const b of skuBaskets) for (const sku of b) orderCount.set(sku, (orderCount.get(sku) ?? 0) + 1);
  const popular = [...orderCount]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([sku]) => sku);

  // 4. figures
  const recommender = createRecommender(catalog, WEIGHTS);
  let withEvents = 0;
  let matches = 0;
  let eligible = 0;
  let recHits = 0;
  let popHits = 0;
  let nextItems = 0;
  const started4 = performance.now();
  for (const s of shoppers) {
    if (s.trainingEvents >= MIN_EVENTS) {
      withEvents++;
      if (topCategory(s.profile, s.splitAt, halfLives, catalog) === s.sim.preferredCategory) matches++;
    }
    if (s.next.size === 0) continue;
    eligible++;
    nextItems += s.next.size;
    const recs = recommender.recommend({ profile: s.profile, rules, now: s.splitAt, halfLives, k: K });
    recHits += recs.filter((r) => s.next.has(r.sku)).length;
    const own = new Set(s.profile.purchased);
    popHits += popular
      .filter((sku) => !own.has(sku))
      .slice(0, K)
      .filter((sku) => s.next.has(sku)).length;
  }
  const recommendMs = performance.now() - started4;

  const round = (x: number): number => Math.round(x * 10_000) / 10_000;
  const precision = eligible ? recHits / (K * eligible) : 0;
  const popularity = eligible ? popHits / (K * eligible) : 0;
  const results = {
    top_category_match: round(withEvents ? matches / withEvents : 0),
    precision_at_10: round(precision),
    popularity_precision_at_10: round(popularity),
    precision_ratio: popularity > 0 ? round(precision / popularity) : null,
    users: {
      simulated: USERS,
      with_20_training_events: withEvents,
      top_category_matched: matches,
      with_next_purchases: eligible,
      next_purchase_items: nextItems,
    },
    hits: { recommend: recHits, popularity: popHits },
    training: {
      events: shoppers.reduce((sum, s) => sum + s.trainingEvents, 0),
      orders: trainingOrders.length,
      sku_rules: rules.sku.rules.length,
      category_rules: rules.category.rules.length,
    },
    settings: {
      seed: SEED,
      k: K,
      weights: recommender.weights,
      min_training_events: MIN_EVENTS,
      half_lives_ms: halfLives,
      sku_rules: SKU_RULES,
      category_rules: CATEGORY_RULES,
    },
    timing_ms: {
      simulate_and_profiles: Math.round(simulatedMs),
      recommend_all: Math.round(recommendMs),
      total: Math.round(performance.now() - started),
    },
    acceptance: {
      top_category_match_at_least_0_9: withEvents > 0 && matches / withEvents >= 0.9,
      precision_at_least_twice_popularity: precision >= 2 * popularity && precision > 0,
    },
  };
  writeFileSync(OUT, `${JSON.stringify(results, null, 2)}\n`);
  console.log(
    `quality over ${USERS} simulated shoppers (seed ${SEED}):\n` +
      `  top_category_match          ${results.top_category_match.toFixed(4)}  (${matches} of ${withEvents} shoppers with >= ${MIN_EVENTS} training events)\n` +
      `  precision_at_10             ${results.precision_at_10.toFixed(4)}  (${eligible} shoppers with next purchases, ${nextItems} items)\n` +
      `  popularity_precision_at_10  ${results.popularity_precision_at_10.toFixed(4)}  (most-popular baseline; ratio ${results.precision_ratio ?? 'n/a'})\n` +
      `  training: ${results.training.events} events, ${results.training.orders} orders, ` +
      `${results.training.sku_rules} sku rules, ${results.training.category_rules} category rules\n` +
      `  ${results.timing_ms.total} ms; written to ${path.relative(process.cwd(), OUT) || OUT}`,
  );
  const ok =
    results.acceptance.top_category_match_at_least_0_9 &&
    results.acceptance.precision_at_least_twice_popularity;
  if (!ok) {
    console.error('quality below the acceptance bar (top_category_match >= 0.9, precision >= 2x popularity)');
    process.exitCode = 1;
  }
}

main();
