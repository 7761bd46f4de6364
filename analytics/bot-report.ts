// The bot's service: containment (conversations never handed to a human), handoff rate, answered
// share, reply latency percentiles. The SQL is analytics/queries/bot-service.sql over the chat_turns
// view (migration 0004).
import type { Sql } from '../infra/clickhouse/sql';
import { QUERIES_DIR, loadQuery, num, runQuery } from './queries';

export interface BotReport {
  conversations: number;
  contained: number;
  handedOver: number;
  botReplies: number;
  answered: number;
  replyMs: { p50: number; p95: number; p99: number };
}

const Q = { service: loadQuery(QUERIES_DIR, 'bot-service') };

type N = number | string;

export async function buildBotReport(
  sql: Sql,
  scope: { database: string; from: number; to: number; producerId?: string },
): Promise<BotReport> {
  const [r] = await runQuery<Record<string, N>>(sql, Q.service, {
    db: scope.database,
    from: scope.from / 1000,
    to: scope.to / 1000,
    producer: scope.producerId ?? '',
  });
  return {
    conversations: num(r?.['conversations']),
    contained: num(r?.['contained']),
    handedOver: num(r?.['handed_over']),
    botReplies: num(r?.['bot_replies']),
    answered: num(r?.['answered']),
    replyMs: { p50: num(r?.['reply_p50_ms']), p95: num(r?.['reply_p95_ms']), p99: num(r?.['reply_p99_ms']) },
  };
}

const pct = (a: number, b: number): string => (b === 0 ? '-' : `${((100 * a) / b).toFixed(1)}%`);

export function formatBotReport(r: BotReport): string {
  return [
    'Customer-service bot',
    `  conversations ${String(r.conversations).padStart(27)}`,
    `  contained (no human) ${String(r.contained).padStart(20)}   ${pct(r.contained, r.conversations)}`,
    `  handed to a human ${String(r.handedOver).padStart(23)}   ${pct(r.handedOver, r.conversations)}`,
    `  bot replies ${String(r.botReplies).padStart(29)}   answered ${pct(r.answered, r.botReplies)}`,
    `  first response p50 / p95 / p99 ${`${r.replyMs.p50} / ${r.replyMs.p95} / ${r.replyMs.p99} ms`.padStart(22)}`,
  ].join('\n');
}
