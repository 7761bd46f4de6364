// The live dashboard in a real browser (Chromium through playwright-core): the page the admin endpoint
// serves loads without console errors, its numbers equal what ClickHouse holds, it updates when new
// events arrive, its charts are drawn, and a screenshot is saved (.data/test-artifacts/dashboard.png).
// Real ClickHouse (embedded) and NATS (consumer lag, dead letters). Skipped, saying why, only when
// /usr/bin/chromium is absent (`make test` installs it).
import { existsSync, mkdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { connect, type NatsConnection } from 'nats';
import { chromium, type Browser } from 'playwright-core';
import type { ClickHouseClient } from '@clickhouse/client';
import { openReadOnlyClickHouse } from '../../infra/clickhouse/readonly';
import { sqlFromClient } from '../../infra/clickhouse/sql';
import { createMetrics } from '../../infra/metrics';
import { startTestClickHouse, type TestClickHouse } from '../../infra/stack/test-clickhouse';
import { testConfig } from '../../infra/stack/test-config';
import { startTestNats, type TestNats } from '../../infra/stack/test-nats';
import type { Config } from '../../infra/config';
import { buildAdmin } from '../../streams/admin';
import { readOperations, registerConsumerMetrics } from '../../streams/dashboard/operations';
import { eventSubject } from '../../streams/topology';
import { dashboardPayload, maskPersonal } from '../../streams/dashboard/routes';
import { ALERT_RULES, createAlerts } from '../../streams/dashboard/alerts';
import { createProducer } from '../../streams/producer/producer';
import { eventsOnStream } from '../../infra/stack/test-nats';
import { publishDeadLetter } from '../../streams/dlq';
import { applyTopology } from '../../streams/topology-apply';
import type { EventRow } from '../../streams/sinks/clickhouse/rows';
import { eventRows, product } from '../helpers/event-rows';

const CHROMIUM = '/usr/bin/chromium';
const present = existsSync(CHROMIUM);
if (!present)
  console.warn(
    `dashboard.int.test.ts skipped: ${CHROMIUM} is absent (make chromium, or apt-get install -y chromium)`,
  );
const maybe = present ? describe : describe.skip;
const ARTIFACTS = path.join(__dirname, '../../.data/test-artifacts');

jest.setTimeout(60_000);

maybe('the live dashboard in Chromium', () => {
  let chs: TestClickHouse;
  let ro: ClickHouseClient;
  let nats: TestNats;
  let nc: NatsConnection;
  let config: Config;
  let app: FastifyInstance;
  let browser: Browser;
  let base: string;
  const now = Date.now();
  const ev = eventRows(now - 3_600_000); // an hour ago: inside the dashboard's 24 hours
  let n = 0;
  const money = { currency: 'USD' } as const;
  const view = (u: string): EventRow =>
    ev('product_viewed', n++, u, { product: product('A', 2500), ...money });
  const cart = (u: string, cartId = `k-${u}`): EventRow =>
    ev('cart_item_added', n++, u, { cartId, product: product('A', 2500), cartTotalMinor: 2500, ...money });
  const checkout = (u: string): EventRow =>
    ev('checkout_started', n++, u, {
      cartId: `k-${u}`,
      products: [product('A', 2500)],
      totalMinor: 2500,
      ...money,
    });
  const order = (u: string, total = 2500, cartId = `k-${u}`): EventRow =>
    ev('order_placed', n++, u, {
      orderId: `o-${u}`,
      cartId,
      products: [product('A', total)],
      totalMinor: total,
      ...money,
    });
  const entered = (u: string, holdout: boolean): EventRow =>
    ev('flow_entered', n++, u, {
      flow: 'cart-recovery',
      workflowId: `wf-${u}`,
      flowVersion: 1,
      holdout,
      cartId: `k-${u}`,
      tier: 'new',
    });
  const ref = (i: number): string => `cr_${String(i).padStart(20, '0')}`;
  const issued = (u: string, i: number, tier: string): EventRow =>
    ev('coupon_issued', n++, u, {
      campaignId: 'tier-coupons',
      couponCode: ref(i),
      tier,
      amountMinor: 500,
      ...money,
    });
  const redeemed = (u: string, i: number): EventRow =>
    ev('coupon_redeemed', n++, u, {
      campaignId: 'tier-coupons',
      couponCode: ref(i),
      orderId: `oc-${i}`,
      discountMinor: 500,
      ...money,
    });
  const turn = (u: string, role: 1 | 2 | 3, text: string, extra = {}): EventRow =>
    ev('chat_turn', n++, u, { conversationId: `cv-${u}`, role, text, channel: 1, turnIndex: 0, ...extra });
  /** A shop's last hour: a funnel, abandoned carts (two recovered, none held out), coupons, chats. */
  const shop = (): EventRow[] => [
    ...[view('f1'), cart('f1'), checkout('f1'), order('f1')], // all four steps
    ...[view('f2'), cart('f2')],
    ...[view('f3'), cart('f3'), checkout('f3')],
    view('f4'),
    ...['r1', 'r2', 'r3', 'r4', 'r5', 'r6'].map((u) => entered(u, false)),
    ...['h1', 'h2', 'h3'].map((u) => entered(u, true)),
    order('r1', 1000),
    order('r2', 1000),
    ...[issued('c1', 1, 'new'), issued('c2', 2, 'new'), issued('c3', 3, 'new'), redeemed('c1', 1)],
    ...[issued('c4', 4, 'repeat'), issued('c5', 5, 'repeat'), redeemed('c4', 4)],
    ...['s1', 's2', 's3'].flatMap((u, i) => [
      turn(u, 1, 'where is my order 2024112233445'),
      turn(u, 2, 'on its way', { answered: true, latencyMs: 120 + 40 * i }),
    ]),
    turn('s4', 1, 'I want a human'),
    turn('s4', 2, 'connecting you', { answered: false, latencyMs: 90 }),
    ev('handoff_requested', n++, 's4', {
      conversationId: 'cv-s4',
      reason: 'asked',
      confidence: 0.9,
      intent: 'human_handoff',
      turnIndex: 1,
    }),
    turn('s4', 3, 'hi, I am Ann'),
    ev('escalation_ended', n++, 's4', {
      conversationId: 'cv-s4',
      exit: 'resolved',
      level: 1,
      agentId: 'a1',
      firstResponseMs: 30_000,
      resolutionMs: 60_000,
      firstResponseSla: 'met',
      resolutionSla: 'met',
    }),
  ];
  const insert = (rows: EventRow[]) =>
    chs.ch.insert({ table: `${chs.config.database}.events`, values: rows, format: 'JSONEachRow' });
  const count = async (where = '1'): Promise<number> => {
    const rs = await chs.ch.query({
      query: `SELECT count() AS n FROM ${chs.config.database}.events FINAL WHERE ${where}`,
      format: 'JSONEachRow',
    });
    return Number((await rs.json<{ n: string }>())[0]!.n);
  };

  beforeAll(async () => {
    [chs, nats, browser] = await Promise.all([
      startTestClickHouse(),
      startTestNats(),
      chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] }),
    ]);
    config = testConfig(nats.url);
    nc = await connect({ servers: nats.url });
    await applyTopology(await nc.jetstreamManager(), config);
    await publishDeadLetter(nc.jetstream(), config.nats.prefix, {
      reason: 'decode_failed',
      detail: 'not protobuf',
      data: new Uint8Array([1, 2, 3]),
    });
    await insert(shop());
    ro = await openReadOnlyClickHouse(chs.config);
    app = buildAdmin({
      metrics: createMetrics(),
      token: 't'.repeat(40),
      health: () => Promise.resolve({ ok: true }),
      stats: () => ({}),
      dashboard: {
        sql: sqlFromClient(ro),
        database: chs.config.database,
        operations: async () => readOperations(await nc.jetstreamManager(), config.nats.prefix),
      },
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  }, 60_000);

  afterAll(async () => {
    // each closed whatever happens to the others (one embedded data directory per process)
    for (const close of [() => browser?.close(), () => app?.close(), () => ro?.close(), () => nc?.close()])
      await Promise.resolve()
        .then(close)
        .catch(() => undefined);
    await Promise.allSettled([chs?.stop(), nats?.stop()]);
  });

  it('shows what ClickHouse holds, updates as events arrive, and draws every chart', async () => {
    // bypassCSP: the test's own probes are evaluated strings, which the page's policy forbids
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, bypassCSP: true });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(`${base}/dashboard?every=300`);
    await page.waitForFunction('Number(document.body.dataset.updates || 0) >= 1', undefined, {
      timeout: 20_000,
    });
    const kpi = async (id: string): Promise<string> => (await page.locator(`#${id}`).textContent()) ?? '';
    expect(await kpi('kpi-events')).toBe(String(await count()));
    expect(await kpi('kpi-orders')).toBe(String(await count("event_type = 'order_placed'")));
    const rs = await chs.ch.query({
      query: `SELECT sumIf(total_minor, event_type = 'order_placed') / 100 AS r FROM ${chs.config.database}.events FINAL`,
      format: 'JSONEachRow',
    });
    expect(await kpi('kpi-revenue')).toBe(Number((await rs.json<{ r: number }>())[0]!.r).toFixed(2));
    expect(await kpi('kpi-conversations')).toBe('4');
    expect(await kpi('kpi-containment')).toBe('75.0%');
    expect(await kpi('kpi-dead-letters')).toBe('1');

    // new events arrive: the page follows without a reload
    await insert([view('f5'), cart('f5')]);
    const expected = String(await count());
    await page.waitForFunction(
      `document.getElementById('kpi-events').textContent === ${JSON.stringify(expected)}`,
      undefined,
      { timeout: 20_000 },
    );
    expect(await kpi('kpi-orders')).toBe(String(await count("event_type = 'order_placed'")));

    // every chart has a canvas with something drawn on it
    const drawn = await page.evaluate<{ id: string; painted: number }[]>(`
      ['throughput', 'funnel', 'recovery', 'coupons', 'containment', 'response', 'sla', 'lag', 'dead-letters'].map((id) => {
        const canvas = document.querySelector('#' + id + ' canvas');
        if (!canvas) return { id, painted: 0 };
        const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
        let painted = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
        return { id, painted };
      })
    `);
    for (const c of drawn) expect({ id: c.id, drawn: c.painted > 100 }).toEqual({ id: c.id, drawn: true });
    // the funnel's numbers are ClickHouse's, counted by hand: f1..f5 viewed, f1 f2 f3 f5 carted, f1 f3
    // checked out, f1 ordered
    const funnel = (await (await fetch(`${base}/dashboard/data`)).json()) as {
      funnel: { viewed: number; ordered: number };
    };
    expect(funnel.funnel).toEqual({ viewed: 5, carted: 4, checkedOut: 2, ordered: 1 });

    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = path.join(ARTIFACTS, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(20_000);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('publishes an alert that starts firing as an alert_changed event, and lists it in the dashboard data', async () => {
    const producer = await createProducer({
      nats: config.nats,
      shopId: 'ops',
      producerId: 'alerts-test',
      connection: nc,
    });
    // the shipped rules, with the bot's threshold under this shop's replies (120 to 200 ms), so it fires
    const rules = ALERT_RULES.map((r) => (r.name === 'BotFirstResponseSlow' ? { ...r, threshold: 100 } : r));
    const alerts = createAlerts({
      rules,
      publish: async (change) => {
        await producer.track('alert_changed', { anonymousId: 'ops', channel: 'server', properties: change });
      },
    });
    const deps = {
      sql: sqlFromClient(ro),
      database: chs.config.database,
      operations: async () => readOperations(await nc.jetstreamManager(), config.nats.prefix),
      alerts: () => alerts.current(),
    };
    const states = await alerts.evaluate(await dashboardPayload(deps));
    expect(states.find((a) => a.name === 'BotFirstResponseSlow')).toMatchObject({ firing: true, value: 200 });
    await producer.close();
    const published = await eventsOnStream(nc, config, 'alert_changed', 5000);
    expect(published.map((e) => e.alertChanged)).toEqual([
      expect.objectContaining({ alert: 'BotFirstResponseSlow', state: 'firing', value: 200, threshold: 100 }),
    ]);
    expect(published[0]).toMatchObject({ shopId: 'ops', anonymousId: 'ops' });
    const payload = await dashboardPayload(deps);
    expect(payload.alerts.filter((a) => a.firing).map((a) => a.name)).toEqual(['BotFirstResponseSlow']);
  });

  it("exports each consumer's pending, ack-pending and redelivered messages as Prometheus gauges", async () => {
    const metrics = createMetrics({ defaults: false });
    registerConsumerMetrics(metrics.registry, () => nc.jetstreamManager(), config.nats.prefix);
    const pending = async (): Promise<number> =>
      Number(
        /shopstream_consumer_pending_messages\{consumer="sink_clickhouse"\} (\d+)/.exec(
          await metrics.registry.metrics(),
        )?.[1] ?? NaN,
      );
    const before = await pending();
    const js = nc.jetstream();
    for (let i = 0; i < 3; i++)
      await js.publish(eventSubject(config.nats.prefix, 0, 'product_viewed'), new Uint8Array([i]), {
        msgID: `m-${i}`,
      });
    await new Promise((r) => setTimeout(r, 600)); // past the one-listing-per-scrape cache
    expect(await pending()).toBe(before + 3);
    const text = await metrics.registry.metrics();
    expect(text).toContain('shopstream_consumer_ack_pending_messages{consumer="sink_clickhouse"} 0');
    expect(text).toMatch(/shopstream_consumer_redelivered_messages\{consumer="interest_p0"\} 0/);
  });

  it('serves ECharts from the package with a strict content policy, and masks personal data in gaps', async () => {
    const res = await fetch(`${base}/dashboard/echarts.min.js`);
    expect(res.status).toBe(200);
    expect((await res.text()).length).toBeGreaterThan(500_000);
    const page = await fetch(`${base}/dashboard`);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(maskPersonal('order 2024112233445 for a@b.com, size 42')).toBe('order 20*** for ***@***, size 42');
  });
});
