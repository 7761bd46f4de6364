// Cart recovery: reminders by step, recovered orders. Scoped to the carts of one run (the cart ids
// that run's producer's events carry); the flows' events come from the worker's producer and
// come-back orders from another, so they are matched by cart. The SQL is in
// analytics/queries/recovery-*.sql.
import type { Sql } from '../infra/clickhouse/sql';
import { usd } from './format';
import { QUERIES_DIR, loadQuery, num, runQuery, type ReportScope } from './queries';

export interface RecoveryReport {
  /** Carts of the run that got at least one reminder. */
  remindedCarts: number;
  reminders: { template: string; step: number; sent: number }[];
  /** Orders placed after a reminder for their cart. */
  recoveredOrders: number;
  recoveredRevenueMinor: number;
}

const Q = {
  reminders: loadQuery(QUERIES_DIR, 'recovery-reminders'),
  carts: loadQuery(QUERIES_DIR, 'recovery-carts'),
  orders: loadQuery(QUERIES_DIR, 'recovery-orders'),
};

type N = number | string;

export async function buildRecoveryReport(sql: Sql, scope: Required<ReportScope>): Promise<RecoveryReport> {
  const params = { db: scope.database, producer: scope.producerId };
  const reminders = await runQuery<{ template: string; step: N; sent: N }>(sql, Q.reminders, params);
  const [carts] = await runQuery<{ carts: N }>(sql, Q.carts, params);
  const [recovered] = await runQuery<{ orders: N; revenue: N }>(sql, Q.orders, params);
  return {
    remindedCarts: num(carts?.carts),
    reminders: reminders.map((r) => ({ template: r.template, step: num(r.step), sent: num(r.sent) })),
    recoveredOrders: num(recovered?.orders),
    recoveredRevenueMinor: num(recovered?.revenue),
  };
}

/** The report, with what the demo's come-back shoppers did (`comeBack`). */
export function formatRecoveryReport(
  r: RecoveryReport,
  comeBack: { orders: number; withCoupon: number },
): string {
  const lines: string[] = [];
  lines.push('Cart recovery (Temporal flows, demo windows in seconds)');
  lines.push(`  carts reminded ${String(r.remindedCarts).padStart(26)}`);
  lines.push(`  reminders sent ${String(r.reminders.reduce((s, x) => s + x.sent, 0)).padStart(25)}`);
  for (const t of r.reminders)
    lines.push(`    step ${t.step} ${t.template.padEnd(26)} ${String(t.sent).padStart(6)}`);
  lines.push('  coupons issued and redeemed: see Coupons by campaign and tier below');
  lines.push(
    `  shoppers who came back and ordered: ${comeBack.orders} (${comeBack.withCoupon} with the coupon code)`,
  );
  lines.push(
    `  recovered orders (placed after a reminder for the cart): ${r.recoveredOrders}   revenue ${usd(r.recoveredRevenueMinor)}`,
  );
  return lines.join('\n');
}
