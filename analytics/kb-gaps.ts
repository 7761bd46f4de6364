// The questions the bot could not answer (analytics/queries/kb-gaps.sql), for `shopstream kb gaps`,
// which groups them by similarity (bot/kb/gaps.ts).
import type { Sql } from '../infra/clickhouse/sql';
import { QUERIES_DIR, loadQuery, num, runQuery } from './queries';

const Q = loadQuery(QUERIES_DIR, 'kb-gaps');

export async function unansweredQuestions(
  sql: Sql,
  scope: { database: string; from: number; to: number },
): Promise<{ text: string; intent: string; n: number }[]> {
  const rows = await runQuery<{ text: string; intent: string; n: string | number }>(sql, Q, {
    db: scope.database,
    from: scope.from / 1000,
    to: scope.to / 1000,
  });
  return rows.map((r) => ({ text: r.text, intent: r.intent, n: num(r.n) }));
}
