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
  /** Chat escalations; none when there was no handoff. */
  escalations: EscalationReport;
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
    escalations: await buildEscalationReport(sql, scope),
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
  if (r.escalations.handoffs.length > 0) {
    lines.push('');
    lines.push(formatEscalationReport(r.escalations));
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Cart recovery (the demo's flows): reminders, coupons by tier, recovered orders. Scoped to the carts
// of one simulator run (cart ids that run's events carry); flow events come from the worker's
// producer, come-back orders from the demo's, so they are matched by cart and coupon code.

const scopeCarts = (db: string): string =>
  `(SELECT DISTINCT cart_id FROM ${db}.events WHERE producer_id = {producer:String} AND cart_id != '')`;
/** Coupons issued (any run), one row per code (the events carry the code's ref, never the code). */
const issuedCoupons = (db: string): string =>
  `(SELECT coupon_code, any(tier) AS tier, any(campaign_id) AS campaign, any(discount_minor) AS amount
    FROM ${db}.events FINAL WHERE event_type = 'coupon_issued' GROUP BY coupon_code)`;

export interface RecoveryReport {
  /** Carts of the run that got at least one reminder. */
  remindedCarts: number;
  reminders: { template: string; step: number; sent: number }[];
  /** Orders placed after a reminder for their cart. */
  recoveredOrders: number;
  recoveredRevenueMinor: number;
}

export async function buildRecoveryReport(sql: Sql, scope: Required<ReportScope>): Promise<RecoveryReport> {
  const db = scope.database;
  const params = { producer: scope.producerId };
  const reminders = await sql.query<{ template: string; step: number | string; sent: number | string }>(
    `SELECT JSONExtractString(properties, 'template') AS template,
            min(JSONExtractUInt(properties, 'step')) AS step, count() AS sent
     FROM ${db}.events FINAL
     WHERE event_type = 'reminder_sent' AND cart_id IN ${scopeCarts(db)}
     GROUP BY template ORDER BY step`,
    params,
  );
  const [carts] = await sql.query<{ carts: number | string }>(
    `SELECT uniqExact(cart_id) AS carts FROM ${db}.events
     WHERE event_type = 'reminder_sent' AND cart_id IN ${scopeCarts(db)}`,
    params,
  );
  const [recovered] = await sql.query<{ orders: number | string; revenue: number | string }>(
    `SELECT count() AS orders, sum(o.total_minor) AS revenue
     FROM (SELECT cart_id, occurred_at, total_minor FROM ${db}.events FINAL
           WHERE event_type = 'order_placed' AND cart_id IN ${scopeCarts(db)}) AS o
     INNER JOIN (SELECT cart_id, min(occurred_at) AS first_reminder FROM ${db}.events FINAL
                 WHERE event_type = 'reminder_sent' AND cart_id IN ${scopeCarts(db)} GROUP BY cart_id) AS r
       ON r.cart_id = o.cart_id
     WHERE o.occurred_at > r.first_reminder`,
    params,
  );
  return {
    remindedCarts: Number(carts?.carts ?? 0),
    reminders: reminders.map((r) => ({ template: r.template, step: Number(r.step), sent: Number(r.sent) })),
    recoveredOrders: Number(recovered?.orders ?? 0),
    recoveredRevenueMinor: Number(recovered?.revenue ?? 0),
  };
}

/** Reminder events so far for the run's carts: all, and those carrying a coupon. */
export async function reminderProgress(
  sql: Sql,
  scope: Required<ReportScope>,
): Promise<{ reminders: number; withCoupon: number }> {
  const [r] = await sql.query<{ reminders: number | string; coupons: number | string }>(
    `SELECT count() AS reminders, countIf(coupon_code != '') AS coupons FROM ${scope.database}.events
     WHERE event_type = 'reminder_sent' AND cart_id IN ${scopeCarts(scope.database)}`,
    { producer: scope.producerId },
  );
  return { reminders: Number(r?.reminders ?? 0), withCoupon: Number(r?.coupons ?? 0) };
}

export interface RemindedCart {
  cartId: string;
  userId: string;
  totalMinor: number;
  currency: string;
  items: { sku: string; priceMinor: number; quantity: number }[];
  /** The step of the latest reminder so far. */
  step: number;
  /** The coupon of the latest reminder (its ref, as the events carry it), '' if none; its amount. */
  couponRef: string;
  couponAmountMinor: number;
  /** The coupon's campaign and tier: what its customer's code derives from. */
  couponCampaign: string;
  couponTier: string;
}

/** The run's carts that got a reminder and have no order: who might come back. */
export async function remindedOpenCarts(sql: Sql, scope: Required<ReportScope>): Promise<RemindedCart[]> {
  const db = scope.database;
  const rows = await sql.query<{
    cart_id: string;
    user_id: string;
    total: number | string;
    currency: string;
    items: [string, number | string, number | string][];
    coupon_code: string;
    step: number | string;
    amount: number | string | null;
    campaign: string | null;
    tier: string | null;
  }>(
    `SELECT c.cart_id AS cart_id, c.user_id AS user_id, c.total AS total, c.currency AS currency,
            c.items AS items, r.coupon_code AS coupon_code, r.step AS step, i.amount AS amount,
            i.campaign AS campaign, i.tier AS tier
     FROM (SELECT cart_id, any(user_id) AS user_id, argMaxIf(cart_total_minor, (occurred_at, sequence), event_type LIKE 'cart_item_%') AS total,
                  any(currency) AS currency,
                  groupArrayIf((sku, price_minor, quantity), event_type = 'cart_item_added') AS items,
                  countIf(event_type = 'order_placed') AS orders
           FROM ${db}.events FINAL WHERE producer_id = {producer:String} AND cart_id != ''
           GROUP BY cart_id) AS c
     INNER JOIN (SELECT cart_id, argMax(coupon_code, occurred_at) AS coupon_code,
                        max(JSONExtractUInt(properties, 'step')) AS step FROM ${db}.events FINAL
                 WHERE event_type = 'reminder_sent' AND cart_id IN ${scopeCarts(db)} GROUP BY cart_id) AS r
       ON r.cart_id = c.cart_id
     LEFT JOIN ${issuedCoupons(db)} AS i ON i.coupon_code = r.coupon_code
     WHERE c.orders = 0 AND c.total > 0 AND length(c.items) > 0
     ORDER BY cart_id`,
    { producer: scope.producerId },
  );
  return rows.map((r) => ({
    cartId: r.cart_id,
    userId: r.user_id,
    totalMinor: Number(r.total),
    currency: r.currency || 'USD',
    items: r.items.map(([sku, price, qty]) => ({
      sku,
      priceMinor: Number(price),
      quantity: Math.max(1, Number(qty)),
    })),
    step: Number(r.step),
    couponRef: r.coupon_code,
    couponAmountMinor: r.coupon_code ? Number(r.amount ?? 0) : 0,
    couponCampaign: r.campaign ?? '',
    couponTier: r.tier ?? '',
  }));
}

const money = (minor: number): string => `${(minor / 100).toFixed(2)} USD`;

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
    `  recovered orders (placed after a reminder for the cart): ${r.recoveredOrders}   revenue ${money(r.recoveredRevenueMinor)}`,
  );
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Chat escalations: handoffs by reason (the scope's own events), and what the escalation workflows
// made of those conversations (their events come from the worker's producer, so matched by
// conversation id): levels reached, the wait for an agent, how they closed.

export interface EscalationReport {
  handoffs: { reason: string; handoffs: number }[];
  /** Conversations with at least one conversation_escalated event (level 1: the workflow ran). */
  escalated: number;
  /** No agent within the first-response deadline. */
  level2: number;
  /** Not resolved within the resolution deadline. */
  level3: number;
  assigned: number;
  waitP50Ms: number;
  waitP90Ms: number;
  closed: { reason: string; conversations: number }[];
  /**
   * From the handoff (its event time) to the escalation flow's first step (level 1's event time):
   * how far the triggers and the worker ran behind the desk.
   */
  startLagP50Ms: number;
  startLagP90Ms: number;
  /** From escalation_ended: each deadline met, missed (undecided ones are in neither). */
  sla: { firstResponse: SlaCount; resolution: SlaCount };
}

export interface SlaCount {
  met: number;
  missed: number;
}

export async function buildEscalationReport(sql: Sql, scope: ReportScope): Promise<EscalationReport> {
  const db = scope.database;
  const params = scope.producerId ? { producer: scope.producerId } : {};
  const ownEvents = scope.producerId ? 'AND producer_id = {producer:String}' : '';
  const handedOff = `conversation_id IN (SELECT DISTINCT conversation_id FROM ${db}.events
    WHERE event_type = 'handoff_requested' AND conversation_id != '' ${ownEvents})`;
  const handoffs = await sql.query<{ reason: string; n: number | string }>(
    `SELECT JSONExtractString(properties, 'reason') AS reason, count() AS n FROM ${db}.events FINAL
     WHERE event_type = 'handoff_requested' ${ownEvents} GROUP BY reason ORDER BY n DESC, reason`,
    params,
  );
  const [levels] = await sql.query<{ escalated: number | string; l2: number | string; l3: number | string }>(
    `SELECT uniqExact(conversation_id) AS escalated, uniqExactIf(conversation_id, level >= 2) AS l2,
            uniqExactIf(conversation_id, level >= 3) AS l3
     FROM (SELECT conversation_id, JSONExtractUInt(properties, 'level') AS level FROM ${db}.events FINAL
           WHERE event_type = 'conversation_escalated' AND ${handedOff})`,
    params,
  );
  const [waits] = await sql.query<{ assigned: number | string; p50: number | string; p90: number | string }>(
    `SELECT count() AS assigned, if(count() = 0, 0, quantileExact(0.5)(w)) AS p50,
            if(count() = 0, 0, quantileExact(0.9)(w)) AS p90
     FROM (SELECT JSONExtractInt(properties, 'wait_ms') AS w FROM ${db}.events FINAL
           WHERE event_type = 'agent_assigned' AND ${handedOff})`,
    params,
  );
  const closed = await sql.query<{ reason: string; n: number | string }>(
    `SELECT JSONExtractString(properties, 'reason') AS reason, uniqExact(conversation_id) AS n
     FROM ${db}.events FINAL WHERE event_type = 'conversation_closed' AND ${handedOff}
     GROUP BY reason ORDER BY n DESC, reason`,
    params,
  );
  const [sla] = await sql.query<Record<'frMet' | 'frMissed' | 'resMet' | 'resMissed', number | string>>(
    `SELECT uniqExactIf(conversation_id, fr = 'met') AS frMet, uniqExactIf(conversation_id, fr = 'missed') AS frMissed,
            uniqExactIf(conversation_id, res = 'met') AS resMet,
            uniqExactIf(conversation_id, res = 'missed') AS resMissed
     FROM (SELECT conversation_id, JSONExtractString(properties, 'first_response_sla') AS fr,
                  JSONExtractString(properties, 'resolution_sla') AS res
           FROM ${db}.events FINAL WHERE event_type = 'escalation_ended' AND ${handedOff})`,
    params,
  );
  const [lag] = await sql.query<{ p50: number | string; p90: number | string }>(
    `SELECT if(count() = 0, 0, quantileExact(0.5)(lag)) AS p50, if(count() = 0, 0, quantileExact(0.9)(lag)) AS p90
     FROM (SELECT greatest(0, dateDiff('millisecond', h.at, e.at)) AS lag
           FROM (SELECT conversation_id, min(occurred_at) AS at FROM ${db}.events FINAL
                 WHERE event_type = 'handoff_requested' AND conversation_id != '' ${ownEvents}
                 GROUP BY conversation_id) AS h
           INNER JOIN (SELECT conversation_id, min(occurred_at) AS at FROM ${db}.events FINAL
                       WHERE event_type = 'conversation_escalated' GROUP BY conversation_id) AS e
           USING conversation_id)`,
    params,
  );
  return {
    handoffs: handoffs.map((r) => ({ reason: r.reason || '(none)', handoffs: Number(r.n) })),
    escalated: Number(levels?.escalated ?? 0),
    level2: Number(levels?.l2 ?? 0),
    level3: Number(levels?.l3 ?? 0),
    assigned: Number(waits?.assigned ?? 0),
    waitP50Ms: Number(waits?.p50 ?? 0),
    waitP90Ms: Number(waits?.p90 ?? 0),
    closed: closed.map((r) => ({ reason: r.reason || '(none)', conversations: Number(r.n) })),
    startLagP50Ms: Number(lag?.p50 ?? 0),
    startLagP90Ms: Number(lag?.p90 ?? 0),
    sla: {
      firstResponse: { met: Number(sla?.frMet ?? 0), missed: Number(sla?.frMissed ?? 0) },
      resolution: { met: Number(sla?.resMet ?? 0), missed: Number(sla?.resMissed ?? 0) },
    },
  };
}

export function formatEscalationReport(r: EscalationReport): string {
  const row = (label: string, n: number, extra = ''): string =>
    `  ${label.padEnd(38)} ${String(n).padStart(6)}${extra}`;
  const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
  const lines = ['Chat escalations (handoffs to human agents, Temporal escalation flows)'];
  lines.push(
    row(
      'handoffs',
      r.handoffs.reduce((s, x) => s + x.handoffs, 0),
    ),
  );
  for (const h of r.handoffs) lines.push(row(`  ${h.reason}`, h.handoffs));
  lines.push(
    row(
      'escalation flows run',
      r.escalated,
      r.escalated > 0
        ? `   started p50 ${secs(r.startLagP50Ms)}, p90 ${secs(r.startLagP90Ms)} after the handoff`
        : '',
    ),
  );
  lines.push(row('reached level 2 (no agent in time)', r.level2, `   ${pct(r.level2, r.escalated)}`));
  lines.push(row('reached level 3 (not resolved in time)', r.level3, `   ${pct(r.level3, r.escalated)}`));
  lines.push(
    row(
      'agent assigned',
      r.assigned,
      r.assigned > 0 ? `   wait p50 ${secs(r.waitP50Ms)}, p90 ${secs(r.waitP90Ms)}` : '',
    ),
  );
  const attained = (c: SlaCount): string =>
    `   ${pct(c.met, c.met + c.missed)} of ${c.met + c.missed} decided (${c.missed} missed)`;
  lines.push(row('first response within SLA', r.sla.firstResponse.met, attained(r.sla.firstResponse)));
  lines.push(row('resolved within SLA', r.sla.resolution.met, attained(r.sla.resolution)));
  const closed = (reason: string): number => r.closed.find((c) => c.reason === reason)?.conversations ?? 0;
  lines.push(row('resolved', closed('resolved')));
  lines.push(row('user left', closed('user_left')));
  const other = r.closed.filter((c) => c.reason !== 'resolved' && c.reason !== 'user_left');
  if (other.length > 0)
    lines.push(
      row(
        'closed otherwise',
        other.reduce((s, c) => s + c.conversations, 0),
      ),
    );
  return lines.join('\n');
}
