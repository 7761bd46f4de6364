// What analysts ask first: events by type and the view -> cart -> checkout -> order funnel.
// Counts are exact (FINAL collapses any duplicate that slipped past the sink); the funnel uses
// windowFunnel over each user's strict order (time, then sequence).
import type { Sql } from '../infra/clickhouse/sql';

export interface Report {
  byType: { event_type: string; events: number }[];
  funnel: { step: string; users: number }[];
  orders: number;
  revenueMinor: number;
  abandonedCarts: number;
}

export interface ReportScope {
  database: string;
  /** Only events from this producer (one simulator run); all events when empty. */
  producerId?: string;
}

const FUNNEL_STEPS = ['product_viewed', 'cart_item_added', 'checkout_started', 'order_placed'] as const;

export async function buildReport(sql: Sql, scope: ReportScope): Promise<Report> {
  const db = scope.database;
  const where = scope.producerId ? 'WHERE producer_id = {producer:String}' : '';
  const params = scope.producerId ? { producer: scope.producerId } : {};
  const byType = await sql.query<{ event_type: string; events: string | number }>(
    `SELECT event_type, count() AS events FROM ${db}.events FINAL ${where} GROUP BY event_type ORDER BY events DESC`,
    params,
  );
  const [f] = await sql.query<Record<string, string | number>>(
    `SELECT ${FUNNEL_STEPS.map((_, i) => `countIf(level >= ${i + 1}) AS s${i + 1}`).join(', ')}
     FROM (
       SELECT user_key, windowFunnel(86400)(toDateTime(occurred_at), ${FUNNEL_STEPS.map((s) => `event_type = '${s}'`).join(', ')}) AS level
       FROM ${db}.events FINAL ${where}
       GROUP BY user_key
     )`,
    params,
  );
  const [o] = await sql.query<{
    orders: string | number;
    revenue: string | number;
    abandoned: string | number;
  }>(
    `SELECT
       countIf(event_type = 'order_placed') AS orders,
       sumIf(total_minor, event_type = 'order_placed') AS revenue,
       (SELECT count() FROM (
          SELECT cart_id FROM ${db}.events FINAL ${where ? `${where} AND` : 'WHERE'} cart_id != ''
          GROUP BY cart_id HAVING countIf(event_type = 'order_placed') = 0)) AS abandoned
     FROM ${db}.events FINAL ${where}`,
    params,
  );
  return {
    byType: byType.map((r) => ({ event_type: r.event_type, events: Number(r.events) })),
    funnel: FUNNEL_STEPS.map((step, i) => ({ step, users: Number(f?.[`s${i + 1}`] ?? 0) })),
    orders: Number(o?.orders ?? 0),
    revenueMinor: Number(o?.revenue ?? 0),
    abandonedCarts: Number(o?.abandoned ?? 0),
  };
}

export async function countStored(sql: Sql, scope: ReportScope): Promise<{ rows: number; unique: number }> {
  const where = scope.producerId ? 'WHERE producer_id = {producer:String}' : '';
  const [r] = await sql.query<{ rows: string | number; unique: string | number }>(
    `SELECT count() AS rows, uniqExact(event_id) AS unique FROM ${scope.database}.events ${where}`,
    scope.producerId ? { producer: scope.producerId } : {},
  );
  return { rows: Number(r?.rows ?? 0), unique: Number(r?.unique ?? 0) };
}

const pct = (a: number, b: number): string =>
  b === 0 ? '  -  ' : `${((100 * a) / b).toFixed(1).padStart(5)}%`;

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
  lines.push(
    `Orders: ${r.orders}   revenue: ${(r.revenueMinor / 100).toFixed(2)} USD   abandoned carts: ${r.abandonedCarts}`,
  );
  return lines.join('\n');
}
