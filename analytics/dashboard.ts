// What the live dashboard shows from ClickHouse (streams/dashboard.ts serves it): running totals,
// events per second by type over the last minutes, and the named reports over the last 24 hours
// (funnel, recovery with its uplift interval, coupons by tier, service). Aggregates only: no user,
// order or conversation id.
import type { Sql } from '../infra/clickhouse/sql';
import { findReport, type ReportRange } from './named-reports';
import { QUERIES_DIR, loadQuery, num, runQuery } from './queries';

const Q = {
  throughput: loadQuery(QUERIES_DIR, 'dash-throughput'),
  totals: loadQuery(QUERIES_DIR, 'dash-totals'),
};

type Row = Record<string, string | number | null>;

export interface DashboardData {
  generatedAt: string;
  totals: { events: number; orders: number; revenue: number; lastIngestedMs: number };
  /** Events per second, by 10-second bucket (epoch seconds) and type. */
  throughput: { t: number; type: string; perSecond: number }[];
  funnel: { viewed: number; carted: number; checkedOut: number; ordered: number };
  recovery: Row[];
  couponsByTier: { tier: string; issued: number; redeemed: number; discount: number }[];
  service: Row[];
}

const rowsOf = async (sql: Sql, name: string, range: ReportRange): Promise<Row[]> =>
  (await findReport(name)!.run(sql, range))[0]?.rows ?? [];

export async function buildDashboardData(
  sql: Sql,
  database: string,
  opts: { now?: number; throughputMinutes?: number } = {},
): Promise<DashboardData> {
  const now = opts.now ?? Date.now();
  const range = { database, from: new Date(now - 86_400_000), to: new Date(now + 60_000) };
  const [totals] = await runQuery<Row>(sql, Q.totals, { db: database });
  const throughput = await runQuery<Row>(sql, Q.throughput, {
    db: database,
    since: (now - (opts.throughputMinutes ?? 10) * 60_000) / 1000,
  });
  const funnel = await rowsOf(sql, 'funnel', range);
  const coupons = await rowsOf(sql, 'coupons', range);
  const byTier = new Map<string, { tier: string; issued: number; redeemed: number; discount: number }>();
  for (const c of coupons) {
    const tier = String(c['tier'] || 'none');
    const t = byTier.get(tier) ?? { tier, issued: 0, redeemed: 0, discount: 0 };
    t.issued += num(c['issued']);
    t.redeemed += num(c['redeemed']);
    t.discount += num(c['discount_given']);
    byTier.set(tier, t);
  }
  const sum = (k: string): number => funnel.reduce((a, r) => a + num(r[k]), 0);
  return {
    generatedAt: new Date(now).toISOString(),
    totals: {
      events: num(totals?.['events']),
      orders: num(totals?.['orders']),
      revenue: num(totals?.['revenue_minor']) / 100,
      lastIngestedMs: num(totals?.['last_ingested_ms']),
    },
    throughput: throughput.map((r) => ({
      t: num(r['t']),
      type: String(r['event_type']),
      perSecond: num(r['events']) / 10,
    })),
    funnel: {
      viewed: sum('viewed'),
      carted: sum('carted'),
      checkedOut: sum('checked_out'),
      ordered: sum('ordered'),
    },
    recovery: await rowsOf(sql, 'recovery', range),
    couponsByTier: [...byTier.values()].sort((a, b) => a.tier.localeCompare(b.tier)),
    service: await rowsOf(sql, 'service', range),
  };
}
