// What analysts ask first (`shopstream report`): events by type and the view -> cart -> checkout ->
// order funnel, orders and abandoned carts, chat escalations. Counts are exact (FINAL collapses any
// duplicate that slipped past the sink); the funnel uses windowFunnel over each user's strict order
// (time, then sequence). The SQL is in analytics/queries/.
import type { Sql } from '../infra/clickhouse/sql';
import { buildEscalationReport, formatEscalationReport, type EscalationReport } from './escalation-report';
import { pct, usd } from './format';
import { QUERIES_DIR, loadQuery, num, runQuery, scopeParams, type ReportScope } from './queries';

export type { ReportScope };

export interface Report {
  byType: { event_type: string; events: number }[];
  funnel: { step: string; users: number }[];
  orders: number;
  revenueMinor: number;
  abandonedCarts: number;
  /** Chat escalations; none when there was no handoff. */
  escalations: EscalationReport;
}

/** The funnel's steps, in the order queries/funnel.sql counts them (s1..s4). */
export const FUNNEL_STEPS = [
  'product_viewed',
  'cart_item_added',
  'checkout_started',
  'order_placed',
] as const;

const Q = {
  byType: loadQuery(QUERIES_DIR, 'events-by-type'),
  funnel: loadQuery(QUERIES_DIR, 'funnel'),
  orders: loadQuery(QUERIES_DIR, 'orders'),
  storedCount: loadQuery(QUERIES_DIR, 'stored-count'),
  busiestUser: loadQuery(QUERIES_DIR, 'busiest-user'),
};

export async function buildReport(sql: Sql, scope: ReportScope): Promise<Report> {
  const params = scopeParams(scope);
  const byType = await runQuery<{ event_type: string; events: string | number }>(sql, Q.byType, params);
  const [f] = await runQuery<Record<string, string | number>>(sql, Q.funnel, params);
  const [o] = await runQuery<{
    orders: string | number;
    revenue: string | number;
    abandoned: string | number;
  }>(sql, Q.orders, params);
  return {
    byType: byType.map((r) => ({ event_type: r.event_type, events: num(r.events) })),
    funnel: FUNNEL_STEPS.map((step, i) => ({ step, users: num(f?.[`s${i + 1}`]) })),
    orders: num(o?.orders),
    revenueMinor: num(o?.revenue),
    abandonedCarts: num(o?.abandoned),
    escalations: await buildEscalationReport(sql, scope),
  };
}

/** Rows stored and unique events in the scope (no FINAL: a duplicate row counts in `rows`). */
export async function countStored(sql: Sql, scope: ReportScope): Promise<{ rows: number; unique: number }> {
  const [r] = await runQuery<{ rows: string | number; unique: string | number }>(
    sql,
    Q.storedCount,
    scopeParams(scope),
  );
  return { rows: num(r?.rows), unique: num(r?.unique) };
}

/** The signed-in user with the most events of the run; undefined when there is none. */
export async function busiestUser(sql: Sql, scope: Required<ReportScope>): Promise<string | undefined> {
  const [r] = await runQuery<{ user_id: string }>(sql, Q.busiestUser, scopeParams(scope));
  return r?.user_id;
}

export function formatReport(r: Report): string {
  const lines: string[] = [];
  lines.push('Events by type');
  for (const t of r.byType) lines.push(`  ${t.event_type.padEnd(28)} ${String(t.events).padStart(8)}`);
  lines.push('');
  lines.push('Conversion funnel (users, within 24h, in order)');
  const first = r.funnel[0]?.users ?? 0;
  r.funnel.forEach((s, i) => {
    const prev = i === 0 ? s.users : r.funnel[i - 1]!.users;
    lines.push(
      `  ${s.step.padEnd(20)} ${String(s.users).padStart(7)}   step ${pct(s.users, prev)}   overall ${pct(s.users, first)}`,
    );
  });
  lines.push('');
  lines.push(`Orders: ${r.orders}   revenue: ${usd(r.revenueMinor)}   abandoned carts: ${r.abandonedCarts}`);
  if (r.escalations.handoffs.length > 0) {
    lines.push('');
    lines.push(formatEscalationReport(r.escalations));
  }
  return lines.join('\n');
}
