// `make demo`: the local stack, the pipeline service, simulated shop traffic through the producer
// SDK, then a report read from ClickHouse. Ends with `events sent: N` and `events stored: N`.
import { requireSecret, type Config } from '../../infra/config';
import { couponCode } from '../../coupons/coupon-ledger';
import type { Tier } from '../../workflows/dsl';
import { sqlOverHttp } from '../../infra/clickhouse/sql';
import { ensureServiceRunning } from '../../infra/stack/service';
import { localEnvFile } from '../../infra/stack/local-env';
import { ensureWorkersRunning } from '../../infra/stack/worker';
import { stackUp } from '../../infra/stack/stack';
import {
  buildReport,
  busiestUser,
  countStored,
  formatReport,
  type ReportScope,
} from '../../analytics/report';
import { buildRecoveryReport, formatRecoveryReport } from '../../analytics/recovery-report';
import type { Sql } from '../../infra/clickhouse/sql';
import { fnv1a } from '../../schemas/hash';
import { createProducer } from '../../streams/producer/producer';
import { summarizeDeadLetters } from '../../streams/dlq';
import { connectNats } from '../../infra/nats';
import { adminUrl } from '../sql';
import { campaignBudgets } from './report';
import { headlineFigures } from '../../analytics/headlines';
import { isEmbedded } from '../../infra/clickhouse/client';
import { profile } from './profile';
import { runSimulatorWithProgress } from './simulate';
import { demoCatalog } from '../../demo/catalog';
import { planHistory } from '../../demo/history';
import { buildFlowsReport, formatFlowsReport } from '../../analytics/flows-report';
import { buildBotReport, formatBotReport } from '../../analytics/bot-report';
import {
  heldOutOpenCarts,
  reminderProgress,
  remindedOpenCarts,
  unredeemedCoupons,
  type RemindedCart,
} from '../../demo/come-back';
import { sleep } from '../../infra/sleep';
import { DEMO_TIMING } from '../../demo/timing';

const GARBAGE = 3;

export async function demo(config: Config, opts: Record<string, unknown>): Promise<number> {
  const users = Number(opts['users'] ?? 4000);
  const seed = Number(opts['seed'] ?? 42);
  const say = (line: string): void => console.log(`  ${line}`);

  console.log('1/5 local stack (NATS JetStream, Temporal)');
  await stackUp(config, say);
  console.log(
    '2/5 pipeline service (ClickHouse sink, HTTP collector, admin, cart, coupon and chat triggers), flow worker and chat worker',
  );
  // the shipped flows in seconds instead of hours and days (a variable already set wins)
  const env = { ...DEMO_TIMING, ...process.env };
  await ensureServiceRunning(config, say, env);
  await ensureWorkersRunning(config, say, env);

  // this run's own cart and order ids, so its carts get new recovery flows even with the same seed
  const cartTag = `-${Date.now().toString(36)}`;
  const since = Date.now();
  const history = await sendHistory(config, { users, seed, tag: cartTag });
  say(
    `returning customers: ${history.orders} past orders of ${history.users} users (the last 25 days), so some are repeat or high-value customers`,
  );

  console.log(`3/5 simulated shop: ${users} users browsing, searching, carting, checking out, chatting`);
  const run = await runSimulatorWithProgress(config, { users, seed, garbage: GARBAGE, cartTag });
  say(
    `sent ${run.sent} events in ${(run.durationMs / 1000).toFixed(1)} s (${Math.round(run.sent / (run.durationMs / 1000))}/s), ${run.failed} failed; plus ${GARBAGE} undecodable messages`,
  );

  console.log('4/5 waiting for every event to land in ClickHouse');
  const sql = sqlOverHttp(adminUrl(config), config.admin.token);
  const scope = { database: config.clickhouse.database, producerId: run.producerId };
  const started = Date.now();
  let stored = await countStored(sql, scope);
  while (stored.unique < run.sent && Date.now() - started < 120_000) {
    await new Promise((r) => setTimeout(r, 250));
    stored = await countStored(sql, scope);
  }
  say(`stored ${stored.unique} events ${Date.now() - started} ms after the last send`);

  console.log(
    '5/5 cart recovery: abandoned carts get reminders and coupons, some shoppers come back and buy',
  );
  const recovery = await recoveryPhase(config, sql, scope, since, say);

  const report = await buildReport(sql, scope);
  const nc = await connectNats(config.nats, 'shopstream-demo');
  const dlq = await summarizeDeadLetters(await nc.jetstreamManager(), config.nats.prefix).finally(() =>
    nc.close(),
  );

  console.log('');
  console.log(formatReport(report));
  console.log('');
  console.log(formatRecoveryReport(await buildRecoveryReport(sql, scope), recovery));
  console.log('');
  console.log(formatFlowsReport(await buildFlowsReport(sql, config.clickhouse.database, since)));
  console.log('');
  console.log(
    formatBotReport(
      await buildBotReport(sql, {
        database: config.clickhouse.database,
        producerId: run.producerId,
        from: 0, // the simulated shoppers' turns start hours back
        to: Date.now(),
      }),
    ),
  );
  console.log('');
  console.log(
    `Dead letters in the stream (kept, with a reason; all runs): ${dlq.total}${
      Object.keys(dlq.byReason).length
        ? ` (${Object.entries(dlq.byReason)
            .map(([r, c]) => `${r}: ${c}`)
            .join(', ')})`
        : ''
    }; see npx shopstream dlq list`,
  );
  // one shopper's live profile: interests, tags, tier and recommendations with their reasons
  const busiest = await busiestUser(sql, scope);
  if (busiest) {
    console.log('');
    console.log(`Interest profile of the busiest shopper (npx shopstream profile ${busiest}):`);
    await profile(config, { userId: busiest, shop: 'demo-shop', k: 5 });
  }
  console.log('');
  console.log('Headline figures (the last 24 hours):');
  const range = { database: config.clickhouse.database, from: new Date(since - 86_400_000), to: new Date() };
  for (const line of await headlineFigures(sql, range, { budgets: campaignBudgets() })) say(line);
  console.log('');
  console.log('The stack is still running. Explore:');
  console.log(`  live dashboard: ${adminUrl(config)}/dashboard`);
  console.log(
    `  npx shopstream query "SELECT event_type, count() FROM ${config.clickhouse.database}.events FINAL GROUP BY event_type"`,
  );
  console.log(
    '  npx shopstream report | npx shopstream dlq list | npx shopstream profile <userId> | npx shopstream stack status',
  );
  console.log(
    `  metrics: ${adminUrl(config)}/metrics   collector: http://${config.collector.host}:${config.collector.port}/v1/events`,
  );
  console.log(`  Temporal UI: http://127.0.0.1:${config.stack.temporalUiPort}`);
  if (isEmbedded(config.clickhouse) && config.analyst.password)
    console.log(
      `  ClickHouse for your own tools (read-only): http://${config.analyst.host}:${config.analyst.port} user ${config.analyst.user}, password ANALYST_PASSWORD in ${localEnvFile()}`,
    );
  console.log('Stop everything with: make down');
  console.log('');
  console.log(`events sent: ${run.sent}`);
  console.log(`events stored: ${stored.rows}`);
  return run.sent === stored.rows && run.failed === 0 ? 0 : 1;
}

/** The demo tier flow's coupon campaign. */
const TIER_CAMPAIGN = 'tier-coupons';

/** Waits until the reminders of the run's carts stop coming (stable for `quietMs`), at most `maxMs`. */
async function settleReminders(
  sql: Sql,
  scope: Required<ReportScope>,
  opts: { quietMs: number; maxMs: number },
): Promise<{ reminders: number; withCoupon: number; settled: boolean }> {
  const started = Date.now();
  let last = await reminderProgress(sql, scope);
  let stableSince = Date.now();
  while (Date.now() - started < opts.maxMs) {
    await sleep(1000);
    const now = await reminderProgress(sql, scope);
    if (now.reminders !== last.reminders) stableSince = Date.now();
    last = now;
    if (now.reminders > 0 && Date.now() - stableSince >= opts.quietMs) return { ...last, settled: true };
  }
  return { ...last, settled: false };
}

/**
 * While the flows run, shoppers with a reminded, still open cart come back and order, deterministically
 * by cart id: 10% right after the first reminder; after the coupon step 35% of those whose reminder
 * carried a coupon (with the code) and 15% of the others. Each order ends its cart's flow (no more
 * reminders). The orders come from a producer of their own, so the simulator's `events sent` stays
 * exact. Ends when no reminder came for a few seconds.
 */
async function recoveryPhase(
  config: Config,
  sql: Sql,
  scope: Required<ReportScope>,
  since: number,
  say: (line: string) => void,
): Promise<{ orders: number; withCoupon: number }> {
  const started = Date.now();
  const producerId = `${scope.producerId}-back`;
  const producer = await createProducer({ nats: config.nats, shopId: 'demo-shop', producerId });
  const secret = requireSecret(config.coupons.secret, 'COUPON_SECRET');
  const codeOf = (userId: string, campaign: string, tier: string): string =>
    couponCode(secret, { shopId: 'demo-shop', userId, campaign, tier: tier as Tier });
  const decided = new Map<string, number>(); // cart id -> the step its shopper decided at
  const decidedOnce = new Set<string>(); // tier coupons and held-out carts: one decision each
  const catalog = demoCatalog();
  let orders = 0;
  let withCoupon = 0;
  let tierRedemptions = 0;
  let heldOutOrders = 0;
  let last = { reminders: -1, withCoupon: 0 };
  let stableSince = Date.now();
  /** The shopper orders the cart they left, with the coupon's discount when they use one. */
  const orderCart = async (
    c: Pick<RemindedCart, 'cartId' | 'userId' | 'items' | 'totalMinor' | 'currency'>,
    coupon?: { code: string; amountMinor: number },
  ): Promise<void> => {
    const discount = coupon ? Math.min(coupon.amountMinor, c.totalMinor) : 0;
    orders++;
    await producer.track('order_placed', {
      userId: c.userId,
      channel: 'app',
      properties: {
        orderId: `o-${c.cartId}-back`,
        cartId: c.cartId,
        products: c.items,
        totalMinor: c.totalMinor - discount,
        currency: c.currency,
        ...(coupon ? { couponCode: coupon.code, discountMinor: discount } : {}),
      },
    });
  };
  try {
    while (Date.now() - started < 200_000) {
      await sleep(1000);
      const now = await reminderProgress(sql, scope);
      if (now.reminders !== last.reminders) stableSince = Date.now();
      last = now;
      // the demo flow takes about 20 s from a cart's last change: wait at least that, then until
      // no reminder came for 8 s
      if (now.reminders > 0 && Date.now() - started > 30_000 && Date.now() - stableSince >= 8000) break;
      if (now.reminders === 0 && Date.now() - started > 60_000) break; // no flows running
      // tier coupons: 40% of the shoppers use theirs on a new order
      for (const open of await unredeemedCoupons(sql, scope.database, TIER_CAMPAIGN, since)) {
        if (decidedOnce.has(open.ref)) continue;
        decidedOnce.add(open.ref);
        // the shopper has the code from the message; the demo derives it as the ledger did
        const c = { ...open, code: codeOf(open.userId, TIER_CAMPAIGN, open.tier) };
        if (fnv1a(`tier-coupon:${c.code}`) % 100 >= 40) continue;
        const p = catalog.products[fnv1a(c.code) % catalog.products.length]!;
        const gross = Math.max(p.priceMinor, c.amountMinor * 2);
        const quantity = Math.ceil(gross / p.priceMinor);
        tierRedemptions++;
        orders++;
        await producer.track('order_placed', {
          userId: c.userId,
          channel: 'app',
          properties: {
            orderId: `o-${c.code}`,
            products: [
              { sku: p.sku, productId: p.sku, category: p.category, priceMinor: p.priceMinor, quantity },
            ],
            totalMinor: p.priceMinor * quantity - c.amountMinor,
            discountMinor: c.amountMinor,
            couponCode: c.code,
            currency: 'USD',
          },
        });
      }
      // the holdout group gets no reminder; 8% of those shoppers come back on their own
      for (const c of await heldOutOpenCarts(sql, scope.database, scope.producerId)) {
        if (decidedOnce.has(c.cartId)) continue;
        decidedOnce.add(c.cartId);
        if (fnv1a(`organic:${c.cartId}`) % 100 >= 8) continue;
        heldOutOrders++;
        await orderCart({ ...c, currency: 'USD' });
      }
      for (const c of await remindedOpenCarts(sql, scope)) {
        const stage = c.step >= 3 ? 3 : 1;
        if ((decided.get(c.cartId) ?? 0) >= stage) continue;
        decided.set(c.cartId, stage);
        const chance = stage === 1 ? 10 : c.couponRef ? 35 : 15;
        if (fnv1a(`come-back:${stage}:${c.cartId}`) % 100 >= chance) continue;
        if (c.couponRef) withCoupon++;
        await orderCart(
          c,
          c.couponRef
            ? { code: codeOf(c.userId, c.couponCampaign, c.couponTier), amountMinor: c.couponAmountMinor }
            : undefined,
        );
      }
    }
  } finally {
    await producer.close();
  }
  if (last.reminders <= 0) {
    say(
      'no reminders: is the flow worker running and the service started with the demo timing (FLOW_TIME_SCALE=360)? (make down, then make demo)',
    );
    return { orders, withCoupon };
  }
  const backScope = { database: scope.database, producerId };
  const waitStart = Date.now();
  while ((await countStored(sql, backScope)).unique < orders && Date.now() - waitStart < 60_000)
    await sleep(250);
  const settled = await settleReminders(sql, scope, { quietMs: 3000, maxMs: 30_000 });
  say(
    `${orders} shoppers came back and ordered (${withCoupon} with a cart coupon, ${tierRedemptions} with a tier coupon, ${heldOutOrders} of the holdout group on their own); ${settled.reminders} reminders (${settled.withCoupon} with a coupon); ${
      settled.settled
        ? `flows settled ${((Date.now() - started) / 1000).toFixed(1)} s after the last event`
        : `stopped waiting ${((Date.now() - started) / 1000).toFixed(1)} s after the last event with reminders still arriving: the report shows what landed so far`
    }`,
  );
  return { orders, withCoupon };
}

/** Sends the returning customers' past orders (demo/history.ts) through a producer of their own. */
async function sendHistory(
  config: Config,
  opts: { users: number; seed: number; tag: string },
): Promise<{ orders: number; users: number }> {
  const planned = planHistory({ ...opts, now: Date.now() });
  const producer = await createProducer({
    nats: config.nats,
    shopId: 'demo-shop',
    producerId: `history${opts.tag}`,
  });
  try {
    await Promise.all(
      planned.map((o) =>
        producer.track('order_placed', {
          userId: o.userId,
          channel: 'web',
          occurredAt: o.occurredAt,
          timeZone: o.timeZone,
          properties: o.properties,
        }),
      ),
    );
  } finally {
    await producer.close();
  }
  return { orders: planned.length, users: new Set(planned.map((o) => o.userId)).size };
}
