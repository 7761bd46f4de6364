// Where a command's SQL goes: a ClickHouse server when CLICKHOUSE_URL is set; otherwise the running
// pipeline service (it owns the embedded database); otherwise the embedded database directly. Always
// read-only at the engine (infra/clickhouse/readonly.ts), and checked before it is sent.
import { isEmbedded } from '../infra/clickhouse/client';
import { checkReadOnlySql, openReadOnlyClickHouse } from '../infra/clickhouse/readonly';
import { sqlFromClient, sqlOverHttp, type Sql } from '../infra/clickhouse/sql';
import type { Config } from '../infra/config';

export function adminUrl(config: Config): string {
  return `http://${config.admin.host}:${config.admin.port}`;
}

export async function serviceAnswers(config: Config): Promise<boolean> {
  try {
    const res = await fetch(`${adminUrl(config)}/healthz`, { signal: AbortSignal.timeout(1000) });
    return res.ok;
  } catch {
    return false;
  }
}

export async function openSql(
  config: Config,
): Promise<{ sql: Sql; via: string; close: () => Promise<void> }> {
  if (isEmbedded(config.clickhouse) && (await serviceAnswers(config))) {
    return {
      sql: sqlOverHttp(adminUrl(config), config.admin.token),
      via: `pipeline service at ${adminUrl(config)}`,
      close: () => Promise.resolve(),
    };
  }
  const ch = await openReadOnlyClickHouse(config.clickhouse);
  const direct = sqlFromClient(ch);
  return {
    sql: { query: (sql, params) => direct.query(checkReadOnlySql(sql), params) },
    via: isEmbedded(config.clickhouse)
      ? `embedded ClickHouse at ${config.clickhouse.dataDir}`
      : config.clickhouse.url,
    close: () => ch.close(),
  };
}
