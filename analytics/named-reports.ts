// The analysts' named reports (`shopstream report <name> --from --to --format`): funnel, recovery,
// coupons, service. Each runs parameterized SQL files (analytics/queries/report-*.sql) over a time
// range and answers sections of flat rows, printed by format.ts as a table, CSV or JSON Lines. What
// SQL cannot say well is computed here: rates, the recovery uplift's 95% confidence interval, budget
// used. Counts are exact (FINAL).
import type { Sql } from '../infra/clickhouse/sql';
import { QUERIES_DIR, loadQuery, num, runQuery } from './queries';

export interface ReportRange {
  database: string;
  from: Date;
  to: Date;
}

export interface ReportOptions {
  /** Conversion window (funnel) and recovery window, milliseconds. */
  windowMs?: number;
  /** Each campaign's spend budget in minor units (from the flows' definitions), for `budget_used`. */
  budgets?: ReadonlyMap<string, number>;
}

export interface ReportSection {
  title: string;
  rows: Record<string, string | number | null>[];
}

export interface NamedReport {
  name: string;
  description: string;
  /** The window used when none is given, milliseconds (reports that have one). */
  defaultWindowMs?: number;
  run(sql: Sql, range: ReportRange, opts?: ReportOptions): Promise<ReportSection[]>;
}

const Q = {
  funnel: loadQuery(QUERIES_DIR, 'report-funnel'),
  recovery: loadQuery(QUERIES_DIR, 'report-recovery'),
  coupons: loadQuery(QUERIES_DIR, 'report-coupons'),
  bot: loadQuery(QUERIES_DIR, 'report-service-bot'),
  human: loadQuery(QUERIES_DIR, 'report-service-human'),
  gaps: loadQuery(QUERIES_DIR, 'kb-gaps'),
  recommendations: loadQuery(QUERIES_DIR, 'report-recommendations'),
};

type N = number | string | null;
const DAY_MS = 86_400_000;

const rangeParams = (r: ReportRange): { db: string; from: number; to: number } => ({
  db: r.database,
  from: r.from.getTime() / 1000,
  to: r.to.getTime() / 1000,
});

/** a / b rounded to 4 places; null when b is 0 (a rate of nothing is not 0). */
export const ratio = (a: number, b: number): number | null =>
  b === 0 ? null : Math.round((a / b) * 10_000) / 10_000;

const round = (x: number, places: number): number => Math.round(x * 10 ** places) / 10 ** places;

/** p50/p95/p99 from quantilesExact's array; nulls when nothing was measured. */
function quantiles(q: unknown, measured: number, places = 0): [number | null, number | null, number | null] {
  const a = Array.isArray(q) ? (q as N[]) : [];
  const at = (i: number): number | null =>
    measured > 0 && a[i] !== null && a[i] !== undefined && Number.isFinite(Number(a[i]))
      ? round(Number(a[i]), places)
      : null;
  return [at(0), at(1), at(2)];
}

export interface Uplift {
  /** Treatment rate minus holdout rate (a fraction: 0.05 = 5 points). */
  diff: number;
  low: number;
  high: number;
  /** The 95% interval excludes 0. */
  significant: boolean;
}

/**
 * The difference of two conversion rates with its 95% confidence interval (normal approximation,
 * unpooled standard error: sqrt(p1(1-p1)/n1 + p2(1-p2)/n2)). Undefined when a group is empty.
 */
export function upliftInterval(
  treatment: { n: number; converted: number },
  holdout: { n: number; converted: number },
): Uplift | undefined {
  if (treatment.n === 0 || holdout.n === 0) return undefined;
  const p1 = treatment.converted / treatment.n;
  const p2 = holdout.converted / holdout.n;
  const se = Math.sqrt((p1 * (1 - p1)) / treatment.n + (p2 * (1 - p2)) / holdout.n);
  const diff = p1 - p2;
  const z = 1.959964;
  const low = diff - z * se;
  const high = diff + z * se;
  return { diff, low, high, significant: low > 0 || high < 0 };
}

const funnel: NamedReport = {
  name: 'funnel',
  description: 'view -> cart -> checkout -> order by day and channel of entry, within the conversion window',
  defaultWindowMs: DAY_MS,
  async run(sql, range, opts = {}) {
    const rows = await runQuery<Record<string, N>>(sql, Q.funnel, {
      ...rangeParams(range),
      window_ms: opts.windowMs ?? DAY_MS,
    });
    return [
      {
        title: `Funnel (users, steps in order within ${(opts.windowMs ?? DAY_MS) / 3_600_000} h of a view in the range)`,
        rows: rows.map((r) => {
          const viewed = num(r['viewed']);
          const ordered = num(r['ordered']);
          return {
            day: String(r['day']),
            channel: String(r['channel']),
            viewed,
            carted: num(r['carted']),
            checked_out: num(r['checked_out']),
            ordered,
            view_to_order: ratio(ordered, viewed),
          };
        }),
      },
    ];
  },
};

const recovery: NamedReport = {
  name: 'recovery',
  description: 'abandoned carts, recovered, recovered revenue, uplift against the holdout with a 95% CI',
  defaultWindowMs: 7 * DAY_MS,
  async run(sql, range, opts = {}) {
    const rows = await runQuery<{
      flow: string;
      holdout: N | boolean;
      abandoned: N;
      recovered: N;
      revenue_minor: N;
    }>(sql, Q.recovery, { ...rangeParams(range), window_ms: opts.windowMs ?? 7 * DAY_MS });
    const flows = [...new Set(rows.map((r) => r.flow))];
    const isHoldout = (v: N | boolean): boolean => v === true || v === 1 || v === '1' || v === 'true';
    return [
      {
        title: 'Cart recovery (treatment vs holdout; uplift in percentage points, 95% CI)',
        rows: flows.map((flow) => {
          const t = rows.find((r) => r.flow === flow && !isHoldout(r.holdout));
          const h = rows.find((r) => r.flow === flow && isHoldout(r.holdout));
          const tn = num(t?.abandoned);
          const tc = num(t?.recovered);
          const hn = num(h?.abandoned);
          const hc = num(h?.recovered);
          const u = upliftInterval({ n: tn, converted: tc }, { n: hn, converted: hc });
          const pts = (x: number): number => round(100 * x, 2);
          return {
            flow,
            abandoned: tn + hn,
            treatment_carts: tn,
            recovered: tc,
            recovered_revenue: num(t?.revenue_minor) / 100,
            recovery_rate: ratio(tc, tn),
            holdout_carts: hn,
            holdout_recovered: hc,
            holdout_rate: ratio(hc, hn),
            uplift_pts: u ? pts(u.diff) : null,
            ci95_low_pts: u ? pts(u.low) : null,
            ci95_high_pts: u ? pts(u.high) : null,
            significance: u ? (u.significant ? 'significant' : 'not significant') : 'no holdout',
          };
        }),
      },
    ];
  },
};

const coupons: NamedReport = {
  name: 'coupons',
  description:
    'coupons by campaign and tier: issued, redeemed, rate, discount, revenue per coupon, budget used',
  async run(sql, range, opts = {}) {
    const rows = await runQuery<Record<string, N>>(sql, Q.coupons, rangeParams(range));
    const spentByCampaign = new Map<string, number>();
    for (const r of rows)
      spentByCampaign.set(
        String(r['campaign']),
        (spentByCampaign.get(String(r['campaign'])) ?? 0) + num(r['issued_minor']),
      );
    return [
      {
        title: 'Coupons by campaign and tier (money in major units; budget used: the campaign, all tiers)',
        rows: rows.map((r) => {
          const campaign = String(r['campaign']);
          const issued = num(r['issued']);
          const redeemed = num(r['redeemed']);
          const budget = opts.budgets?.get(campaign);
          return {
            campaign,
            tier: String(r['tier']),
            issued,
            issued_value: num(r['issued_minor']) / 100,
            redeemed,
            redemption_rate: ratio(redeemed, issued),
            discount_given: num(r['discount_minor']) / 100,
            revenue: num(r['revenue_minor']) / 100,
            revenue_per_coupon: issued === 0 ? null : round(num(r['revenue_minor']) / 100 / issued, 2),
            budget_used: budget ? ratio(spentByCampaign.get(campaign) ?? 0, budget) : null,
          };
        }),
      },
    ];
  },
};

const service: NamedReport = {
  name: 'service',
  description:
    'bot containment, handoff rate, first response and resolution p50/p95/p99, SLA, top unanswered',
  async run(sql, range) {
    const params = rangeParams(range);
    const [b] = await runQuery<Record<string, unknown>>(sql, Q.bot, params);
    const [h] = await runQuery<Record<string, unknown>>(sql, Q.human, params);
    const gaps = await runQuery<{ text: string; intent: string; n: N }>(sql, Q.gaps, params);
    const n = (r: Record<string, unknown> | undefined, k: string): number => num(r?.[k] as N);
    const conversations = n(b, 'conversations');
    const [bf50, bf95, bf99] = quantiles(b?.['first_response_ms'], n(b, 'n_replied'));
    const [br50, br95, br99] = quantiles(b?.['resolution_s'], n(b, 'n_resolved'), 1);
    const [hf50, hf95, hf99] = quantiles(h?.['first_response_ms'], n(h, 'n_answered'));
    const [hr50, hr95, hr99] = quantiles(h?.['resolution_s'], n(h, 'n_resolved'), 1);
    const frMet = n(h, 'first_response_met');
    const resMet = n(h, 'resolution_met');
    const byText = new Map<string, number>();
    for (const g of gaps) byText.set(g.text, (byText.get(g.text) ?? 0) + num(g.n));
    return [
      {
        title: 'Service (first response in ms, resolution in s)',
        rows: [
          {
            responder: 'bot',
            conversations,
            contained: n(b, 'contained'),
            containment: ratio(n(b, 'contained'), conversations),
            handoff_rate: ratio(n(b, 'handed_over'), conversations),
            first_response_p50: bf50,
            first_response_p95: bf95,
            first_response_p99: bf99,
            resolved: n(b, 'n_resolved'),
            resolution_p50: br50,
            resolution_p95: br95,
            resolution_p99: br99,
            first_response_sla: null,
            resolution_sla: null,
          },
          {
            responder: 'human',
            conversations: n(h, 'handed_over'),
            contained: null,
            containment: null,
            handoff_rate: null,
            first_response_p50: hf50,
            first_response_p95: hf95,
            first_response_p99: hf99,
            resolved: n(h, 'n_resolved'),
            resolution_p50: hr50,
            resolution_p95: hr95,
            resolution_p99: hr99,
            first_response_sla: ratio(frMet, frMet + n(h, 'first_response_missed')),
            resolution_sla: ratio(resMet, resMet + n(h, 'resolution_missed')),
          },
        ],
      },
      {
        title: 'Top unanswered questions (`shopstream kb gaps` groups them by similarity)',
        rows: [...byText]
          .sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0]))
          .slice(0, 10)
          .map(([text, times]) => ({ question: text, times })),
      },
    ];
  },
};

const recommendations: NamedReport = {
  name: 'recommendations',
  description:
    'impressions, clicks and orders within 24 h of a click, by source (interest, association rule)',
  async run(sql, range) {
    const rows = await runQuery<Record<string, N>>(sql, Q.recommendations, rangeParams(range));
    return [
      {
        title: 'Recommendations by source (orders: the clicked product ordered by the same user within 24 h)',
        rows: rows.map((r) => {
          const impressions = num(r['impressions']);
          const clicks = num(r['clicks']);
          const orders = num(r['orders_24h']);
          return {
            source: String(r['source']),
            impressions,
            clicks,
            click_rate: ratio(clicks, impressions),
            orders_24h: orders,
            order_rate: ratio(orders, clicks),
            revenue: num(r['revenue_minor']) / 100,
          };
        }),
      },
    ];
  },
};

export const NAMED_REPORTS: readonly NamedReport[] = [funnel, recovery, coupons, service, recommendations];

export function findReport(name: string): NamedReport | undefined {
  return NAMED_REPORTS.find((r) => r.name === name);
}
