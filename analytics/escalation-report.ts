// Chat escalations: handoffs by reason (the scope's own events), and what the escalation workflows
// made of those conversations (their events come from the worker's producer, so matched by
// conversation id): levels reached, the wait for an agent, SLA attainment, how they closed. The SQL
// is in analytics/queries/escalation-*.sql.
import type { Sql } from '../infra/clickhouse/sql';
import { pct } from './format';
import { QUERIES_DIR, loadQuery, num, runQuery, scopeParams, type ReportScope } from './queries';

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

const Q = {
  handoffs: loadQuery(QUERIES_DIR, 'escalation-handoffs'),
  levels: loadQuery(QUERIES_DIR, 'escalation-levels'),
  waits: loadQuery(QUERIES_DIR, 'escalation-waits'),
  closed: loadQuery(QUERIES_DIR, 'escalation-closed'),
  sla: loadQuery(QUERIES_DIR, 'escalation-sla'),
  startLag: loadQuery(QUERIES_DIR, 'escalation-start-lag'),
};

type N = number | string;

export async function buildEscalationReport(sql: Sql, scope: ReportScope): Promise<EscalationReport> {
  const params = scopeParams(scope);
  const handoffs = await runQuery<{ reason: string; n: N }>(sql, Q.handoffs, params);
  const [levels] = await runQuery<{ escalated: N; l2: N; l3: N }>(sql, Q.levels, params);
  const [waits] = await runQuery<{ assigned: N; p50: N; p90: N }>(sql, Q.waits, params);
  const closed = await runQuery<{ reason: string; n: N }>(sql, Q.closed, params);
  const [sla] = await runQuery<Record<'frMet' | 'frMissed' | 'resMet' | 'resMissed', N>>(sql, Q.sla, params);
  const [lag] = await runQuery<{ p50: N; p90: N }>(sql, Q.startLag, params);
  return {
    handoffs: handoffs.map((r) => ({ reason: r.reason || '(none)', handoffs: num(r.n) })),
    escalated: num(levels?.escalated),
    level2: num(levels?.l2),
    level3: num(levels?.l3),
    assigned: num(waits?.assigned),
    waitP50Ms: num(waits?.p50),
    waitP90Ms: num(waits?.p90),
    closed: closed.map((r) => ({ reason: r.reason || '(none)', conversations: num(r.n) })),
    startLagP50Ms: num(lag?.p50),
    startLagP90Ms: num(lag?.p90),
    sla: {
      firstResponse: { met: num(sla?.frMet), missed: num(sla?.frMissed) },
      resolution: { met: num(sla?.resMet), missed: num(sla?.resMissed) },
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
