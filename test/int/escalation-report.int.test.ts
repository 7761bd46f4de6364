// The demo's chat escalation report from the events table (embedded ClickHouse): handoffs by reason,
// levels reached, the wait for an agent, and SLA attainment from escalation_ended (undecided
// deadlines counted in neither met nor missed; a duplicate row counted once).
import { sqlFromClient, type Sql } from '../../infra/clickhouse/sql';
import { decodeEnvelope, encodeEnvelope } from '../../schemas/codec';
import type { EnvelopeInit, EventType, PayloadMap } from '../../schemas/events';
import { toEventRow, type EventRow } from '../../streams/sinks/clickhouse/rows';
import { buildEscalationReport, formatEscalationReport } from '../../analytics/escalation-report';
import { startTestClickHouse, type TestClickHouse } from '../../infra/stack/test-clickhouse';
import { buildEnvelope } from '../helpers/events';

let chs: TestClickHouse;
let sql: Sql;
let db: string;
let seq = 0;

const T0 = Date.UTC(2026, 10, 24, 12, 0, 0);

function row<T extends EventType>(
  type: T,
  at: number,
  payload: PayloadMap[T],
  producerId = 'desk',
): EventRow {
  const init: EnvelopeInit = buildEnvelope(type, { occurredAt: at, producerId }, payload);
  const decoded = decodeEnvelope(encodeEnvelope(init));
  if (!decoded.ok) throw new Error(`bad test envelope: ${decoded.detail}`);
  return toEventRow(decoded.envelope, decoded.type, ++seq);
}

type Verdict = 'met' | 'missed' | 'undecided';

/** One handed-over conversation, as the desk and the escalation workflow record it. */
function conversation(
  id: string,
  reason: string,
  end: {
    exit: string;
    level: number;
    startLagMs: number;
    waitMs?: number;
    fr: Verdict;
    res: Verdict;
    closed: string;
  },
): EventRow[] {
  const rows = [
    row('handoff_requested', T0, { conversationId: id, reason }),
    row('conversation_escalated', T0 + end.startLagMs, { conversationId: id, reason, level: 1 }, 'worker'),
  ];
  if (end.level >= 2)
    rows.push(
      row(
        'conversation_escalated',
        T0 + 2,
        { conversationId: id, reason: 'first_response_sla_breach', level: 2 },
        'worker',
      ),
    );
  if (end.waitMs !== undefined)
    rows.push(
      row(
        'agent_assigned',
        T0 + end.waitMs,
        { conversationId: id, agentId: 'a1', waitMs: end.waitMs },
        'worker',
      ),
    );
  rows.push(
    row('conversation_closed', T0 + 60_000, { conversationId: id, reason: end.closed }),
    row(
      'escalation_ended',
      T0 + 60_001,
      {
        conversationId: id,
        exit: end.exit,
        level: end.level,
        firstResponseMs: end.waitMs ?? 0,
        firstResponseSla: end.fr,
        resolutionSla: end.res,
      },
      'worker',
    ),
  );
  return rows;
}

beforeAll(async () => {
  chs = await startTestClickHouse();
  sql = sqlFromClient(chs.ch);
  db = chs.config.database;
  const rows = [
    ...conversation('c1', 'explicit_request', {
      startLagMs: 1000,
      exit: 'resolved',
      level: 1,
      waitMs: 4_000,
      fr: 'met',
      res: 'met',
      closed: 'resolved',
    }),
    ...conversation('c2', 'explicit_request', {
      startLagMs: 2000,
      exit: 'resolved',
      level: 2,
      waitMs: 9_000,
      fr: 'missed',
      res: 'met',
      closed: 'resolved',
    }),
    ...conversation('c3', 'negative_sentiment', {
      startLagMs: 3000,
      exit: 'resolved',
      level: 1,
      waitMs: 2_000,
      fr: 'met',
      res: 'missed',
      closed: 'resolved',
    }),
    // left before any deadline: both undecided
    ...conversation('c4', 'low_confidence', {
      startLagMs: 10000,
      exit: 'abandoned',
      level: 1,
      fr: 'undecided',
      res: 'undecided',
      closed: 'user_left',
    }),
  ];
  await chs.ch.insert({ table: `${db}.events`, values: rows, format: 'JSONEachRow' });
  // the first conversation's end stored twice (a duplicate that slipped past the sink)
  const again = rows.filter((r) => r.event_type === 'escalation_ended').slice(0, 1);
  await chs.ch.insert({ table: `${db}.events`, values: again, format: 'JSONEachRow' });
}, 60_000);

afterAll(async () => {
  await chs?.stop();
});

it('counts SLA attainment from escalation_ended: met and missed per deadline, undecided in neither', async () => {
  const r = await buildEscalationReport(sql, { database: db, producerId: 'desk' });
  expect(r.handoffs).toEqual([
    { reason: 'explicit_request', handoffs: 2 },
    { reason: 'low_confidence', handoffs: 1 },
    { reason: 'negative_sentiment', handoffs: 1 },
  ]);
  expect(r).toMatchObject({ escalated: 4, level2: 1, level3: 0, assigned: 3 });
  expect(r.sla).toEqual({ firstResponse: { met: 2, missed: 1 }, resolution: { met: 2, missed: 1 } });
  expect(r.startLagP50Ms).toBeGreaterThanOrEqual(2000);
  expect(r.startLagP50Ms).toBeLessThanOrEqual(3000);
  expect(r.startLagP90Ms).toBe(10_000);
  const text = formatEscalationReport(r);
  expect(text).toMatch(/first response within SLA\s+2\s+66\.7% of 3 decided \(1 missed\)/);
  expect(text).toMatch(/escalation flows run\s+4\s+started p50 [23]\.0 s, p90 10\.0 s after the handoff/);
  expect(text).toMatch(/resolved within SLA\s+2\s+66\.7% of 3 decided \(1 missed\)/);
});

it('shows no attainment when nothing was decided', async () => {
  const r = await buildEscalationReport(sql, { database: db, producerId: 'nobody' });
  expect(r.sla).toEqual({ firstResponse: { met: 0, missed: 0 }, resolution: { met: 0, missed: 0 } });
  expect(formatEscalationReport(r)).toMatch(/first response within SLA\s+0\s+-\s+of 0 decided/);
});
