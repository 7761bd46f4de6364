// The named reports' headline figures in a few lines, for the end of `make demo`: conversion, the
// recovery uplift with its interval, coupon redemption, and the service figures.
import type { Sql } from '../infra/clickhouse/sql';
import { findReport, type ReportOptions, type ReportRange } from './named-reports';

type Row = Record<string, string | number | null>;
const n = (v: string | number | null | undefined): number => Number(v ?? 0);
const pctOf = (v: string | number | null | undefined): string =>
  v === null || v === undefined ? '-' : `${(100 * Number(v)).toFixed(1)}%`;

async function rowsOf(sql: Sql, name: string, range: ReportRange, opts: ReportOptions): Promise<Row[][]> {
  return (await findReport(name)!.run(sql, range, opts)).map((s) => s.rows);
}

export async function headlineFigures(
  sql: Sql,
  range: ReportRange,
  opts: ReportOptions = {},
): Promise<string[]> {
  const [[...funnel] = []] = await rowsOf(sql, 'funnel', range, opts);
  const [recovery = []] = await rowsOf(sql, 'recovery', range, opts);
  const [coupons = []] = await rowsOf(sql, 'coupons', range, opts);
  const [service = []] = await rowsOf(sql, 'service', range, opts);
  const viewed = funnel.reduce((a, r) => a + n(r['viewed']), 0);
  const ordered = funnel.reduce((a, r) => a + n(r['ordered']), 0);
  const lines = [
    `funnel: ${viewed} shoppers viewed, ${ordered} ordered within 24 h (${pctOf(viewed ? ordered / viewed : null)})   npx shopstream report funnel`,
  ];
  for (const r of recovery)
    lines.push(
      `recovery ${String(r['flow'])}: ${n(r['recovered'])}/${n(r['treatment_carts'])} carts recovered (${pctOf(r['recovery_rate'])}) vs holdout ${n(r['holdout_recovered'])}/${n(r['holdout_carts'])} (${pctOf(r['holdout_rate'])}); uplift ${r['uplift_pts'] ?? '-'} points, 95% CI [${r['ci95_low_pts'] ?? '-'}, ${r['ci95_high_pts'] ?? '-'}], ${String(r['significance'])}   npx shopstream report recovery`,
    );
  const issued = coupons.reduce((a, r) => a + n(r['issued']), 0);
  const redeemed = coupons.reduce((a, r) => a + n(r['redeemed']), 0);
  lines.push(
    `coupons: ${issued} issued, ${redeemed} redeemed (${pctOf(issued ? redeemed / issued : null)})   npx shopstream report coupons`,
  );
  const [recs = []] = await rowsOf(sql, 'recommendations', range, opts);
  for (const r of recs)
    lines.push(
      `recommendations by ${String(r['source'])}: ${n(r['impressions'])} shown, ${n(r['clicks'])} clicked (${pctOf(r['click_rate'])}), ${n(r['orders_24h'])} ordered within 24 h (${pctOf(r['order_rate'])} of clicks)   npx shopstream report recommendations`,
    );
  const bot = service.find((r) => r['responder'] === 'bot');
  const human = service.find((r) => r['responder'] === 'human');
  if (bot)
    lines.push(
      `service: ${n(bot['conversations'])} conversations, ${pctOf(bot['containment'])} contained by the bot, first response p50/p95/p99 ${bot['first_response_p50'] ?? '-'}/${bot['first_response_p95'] ?? '-'}/${bot['first_response_p99'] ?? '-'} ms; human first response SLA met ${pctOf(human?.['first_response_sla'])}   npx shopstream report service`,
    );
  return lines;
}
