// What the analysts ask of the flows, from the events alone: coupons issued and redeemed by campaign
// and tier (coupon_issued, coupon_redeemed), and each flow's uplift: how many users in the treatment
// and in the holdout group (flow_entered) ordered after entering (for cart flows: that cart). Scoped
// to flows entered since `since` (one demo run). The SQL is in analytics/queries/coupons.sql and
// uplift.sql.
import type { Sql } from '../infra/clickhouse/sql';
import { QUERIES_DIR, loadQuery, num as n, runQuery } from './queries';

export interface CouponRow {
  campaign: string;
  tier: string;
  issued: number;
  issuedMinor: number;
  redeemed: number;
  discountMinor: number;
}

export interface UpliftRow {
  flow: string;
  group: 'treatment' | 'holdout';
  entered: number;
  converted: number;
}

export interface FlowsReport {
  coupons: CouponRow[];
  uplift: UpliftRow[];
}

const Q = {
  coupons: loadQuery(QUERIES_DIR, 'coupons'),
  uplift: loadQuery(QUERIES_DIR, 'uplift'),
};

export async function buildFlowsReport(sql: Sql, db: string, since: number): Promise<FlowsReport> {
  const params = { db, since: since / 1000 };
  const coupons = await runQuery<{
    campaign: string;
    tier: string;
    issued: number | string;
    issued_minor: number | string;
    redeemed: number | string;
    discount: number | string;
  }>(sql, Q.coupons, params);
  // a user converted when they ordered after entering (a cart flow: an order of that cart)
  const uplift = await runQuery<{
    flow: string;
    holdout: number | string;
    entered: number | string;
    converted: number | string;
  }>(sql, Q.uplift, params);
  return {
    coupons: coupons.map((r) => ({
      campaign: r.campaign,
      tier: r.tier,
      issued: n(r.issued),
      issuedMinor: n(r.issued_minor),
      redeemed: n(r.redeemed),
      discountMinor: n(r.discount),
    })),
    uplift: uplift.map((r) => ({
      flow: r.flow,
      group: n(r.holdout) ? 'holdout' : 'treatment',
      entered: n(r.entered),
      converted: n(r.converted),
    })),
  };
}

const money = (minor: number): string => (minor / 100).toFixed(2);
const pct = (a: number, b: number): string => (b > 0 ? `${((100 * a) / b).toFixed(1)}%` : '-');

export function formatFlowsReport(r: FlowsReport): string {
  const lines: string[] = [];
  lines.push('Coupons by campaign and tier (coupon_issued, coupon_redeemed events)');
  lines.push(
    `  ${'campaign'.padEnd(32)} ${'tier'.padEnd(11)} ${'issued'.padStart(7)} ${'face value'.padStart(11)} ${'redeemed'.padStart(9)} ${'rate'.padStart(6)} ${'discount'.padStart(10)}`,
  );
  for (const c of r.coupons)
    lines.push(
      `  ${c.campaign.padEnd(32)} ${c.tier.padEnd(11)} ${String(c.issued).padStart(7)} ${money(c.issuedMinor).padStart(11)} ${String(c.redeemed).padStart(9)} ${pct(c.redeemed, c.issued).padStart(6)} ${money(c.discountMinor).padStart(10)}`,
    );
  if (r.coupons.length === 0) lines.push('  (none)');
  lines.push('');
  lines.push('Uplift against the holdout group (flow_entered; converted = ordered after entering)');
  const flows = [...new Set(r.uplift.map((u) => u.flow))];
  for (const flow of flows) {
    const t = r.uplift.find((u) => u.flow === flow && u.group === 'treatment');
    const h = r.uplift.find((u) => u.flow === flow && u.group === 'holdout');
    const rate = (u?: UpliftRow): number => (u && u.entered > 0 ? u.converted / u.entered : NaN);
    const diff = rate(t) - rate(h);
    lines.push(
      `  ${flow.padEnd(24)} treatment ${t?.converted ?? 0}/${t?.entered ?? 0} (${pct(t?.converted ?? 0, t?.entered ?? 0)})   holdout ${h?.converted ?? 0}/${h?.entered ?? 0} (${pct(h?.converted ?? 0, h?.entered ?? 0)})   uplift ${Number.isFinite(diff) ? `${(100 * diff).toFixed(1)} points` : '-'}`,
    );
  }
  if (flows.length === 0) lines.push('  (no flow entered)');
  return lines.join('\n');
}
