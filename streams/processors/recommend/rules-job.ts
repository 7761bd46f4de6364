// The scheduled rules job: mines association rules per shop from the orders in ClickHouse, at
// category and at product level, and stores them in the KV rules bucket for the recommenders.
import type { KV } from 'nats';
import type { Sql } from '../../../infra/clickhouse/sql';
import type { Config } from '../../../infra/config';
import type { Logger } from '../../../infra/logger';
import { loadBaskets, type BasketLevel } from './baskets';
import { mineRules } from './rules';
import { saveRules } from './rules-store';

export interface RulesJobResult {
  shopId: string;
  level: BasketLevel;
  baskets: number;
  rules: number;
  ms: number;
}

export async function mineAllShops(
  sql: Sql,
  kv: KV,
  config: Config,
  now = Date.now(),
): Promise<RulesJobResult[]> {
  const db = config.clickhouse.database;
  const shops = await sql.query<{ shop_id: string }>(
    `SELECT DISTINCT shop_id FROM ${db}.events WHERE event_type = 'order_placed' AND occurred_at >= {since:DateTime64(3, 'UTC')}`,
    { since: new Date(now - config.rules.lookbackMs).toISOString().replace('T', ' ').replace('Z', '') },
  );
  const out: RulesJobResult[] = [];
  for (const { shop_id: shopId } of shops) {
    for (const level of ['category', 'sku'] as const) {
      const started = performance.now();
      const baskets = await loadBaskets(sql, {
        database: db,
        shopId,
        since: new Date(now - config.rules.lookbackMs),
        level,
      });
      const rules = mineRules(baskets, {
        minSupport: config.rules.minSupport,
        minConfidence: config.rules.minConfidence,
        maxBasketSize: config.rules.maxBasketSize,
        maxItemsetLength: config.rules.maxItemsetLength,
        maxRules: 5000,
      });
      await saveRules(kv, shopId, level, { ...rules, minedAt: new Date(now).toISOString() });
      out.push({
        shopId,
        level,
        baskets: baskets.length,
        rules: rules.rules.length,
        ms: Math.round(performance.now() - started),
      });
    }
  }
  return out;
}

/** Runs the job now and then every interval until stopped; a failed run is logged and retried next time. */
export function scheduleRulesJob(
  sql: Sql,
  kv: KV,
  config: Config,
  logger: Logger,
): { stop(): Promise<void>; runNow(): Promise<RulesJobResult[]> } {
  let running: Promise<RulesJobResult[]> | undefined;
  const runNow = (): Promise<RulesJobResult[]> => {
    running ??= mineAllShops(sql, kv, config)
      .then((r) => {
        logger.info({ results: r }, 'association rules mined');
        return r;
      })
      .catch((err: Error) => {
        logger.error({ err: err.message }, 'association rules job failed; next run will retry');
        return [];
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const timer = setInterval(() => void runNow(), config.rules.intervalMs);
  timer.unref();
  return {
    runNow,
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
