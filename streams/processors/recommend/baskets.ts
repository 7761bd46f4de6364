// Order baskets for association-rule mining (rules.ts), read from the events table: one basket per
// order, the distinct categories or skus of its products.
//
// order_placed rows keep their products in the `properties` JSON ({"products":[{"sku":..,
// "category":..}],...}, snake_case: streams/sinks/clickhouse/rows.ts). FINAL collapses a duplicate
// event (same event_id, hence same sort key) that slipped past the sink; grouping by (shop_id,
// order_id) merges an order recorded under two event ids. Values travel as query parameters; only
// the database name, an identifier validated by config (and here), is interpolated.
import type { Sql } from '../../../infra/clickhouse/sql';
import { toClickHouseTime } from '../../sinks/clickhouse/rows';

export type BasketLevel = 'category' | 'sku';

export interface LoadBasketsOptions {
  database: string;
  /** Only this shop's orders; all shops when absent (an order is still one shop's). */
  shopId?: string;
  /** Only orders placed at or after this time. */
  since?: Date;
  /** What a basket holds: the products' categories, or their skus. */
  level: BasketLevel;
  /** At most this many baskets, the most recent orders first. */
  limit?: number;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * One basket per order (items sorted, distinct, empty values left out; orders without any item are
 * skipped), most recent orders first (ties by order id), so the result is deterministic.
 */
export async function loadBaskets(sql: Sql, opts: LoadBasketsOptions): Promise<string[][]> {
  if (!IDENTIFIER.test(opts.database)) throw new Error(`invalid database name: ${opts.database}`);
  if (opts.level !== 'category' && opts.level !== 'sku')
    throw new Error(`invalid level: ${String(opts.level)}`);
  if (opts.limit !== undefined && !(Number.isInteger(opts.limit) && opts.limit >= 0))
    throw new Error(`invalid limit: ${opts.limit}`);
  if (opts.since !== undefined && Number.isNaN(opts.since.getTime()))
    throw new Error('invalid since: not a date');

  const where = ["event_type = 'order_placed'", "order_id != ''"];
  const params: Record<string, unknown> = { field: opts.level };
  if (opts.shopId !== undefined) {
    where.push('shop_id = {shopId:String}');
    params['shopId'] = opts.shopId;
  }
  if (opts.since !== undefined) {
    where.push("occurred_at >= toDateTime64({since:String}, 3, 'UTC')");
    params['since'] = toClickHouseTime(opts.since.getTime());
  }
  let limit = '';
  if (opts.limit !== undefined) {
    limit = 'LIMIT {limit:UInt64}';
    params['limit'] = opts.limit;
  }
  const rows = await sql.query<{ items: string[] }>(
    `SELECT arraySort(groupUniqArrayArray(order_items)) AS items
     FROM (
       SELECT shop_id, order_id, occurred_at,
              arrayFilter(x -> x != '',
                arrayMap(p -> JSONExtractString(p, {field:String}), JSONExtractArrayRaw(properties, 'products'))
              ) AS order_items
       FROM ${opts.database}.events FINAL
       WHERE ${where.join(' AND ')}
     )
     GROUP BY shop_id, order_id
     HAVING length(items) > 0
     ORDER BY max(occurred_at) DESC, shop_id, order_id
     ${limit}`,
    params,
  );
  return rows.map((r) => r.items);
}
