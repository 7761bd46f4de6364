// The analysts' model (analytics/migrations/0006_model.sql): the catalog dimension it joins, and the
// backfill that rebuilds what is materialized (the hourly rollup) from `events` alone, the source of
// truth. The views need no backfill: they are computed from events FINAL when queried.
import type { ClickHouseClient } from '../infra/clickhouse/client';
import { databaseIdentifier } from './migrate';

export interface CatalogRow {
  sku: string;
  category: string;
  brand: string;
  priceMinor: number;
}

/** Upserts the catalog into catalog_products (the latest load of a sku wins). */
export async function loadCatalogProducts(
  ch: ClickHouseClient,
  database: string,
  products: readonly CatalogRow[],
): Promise<number> {
  const db = databaseIdentifier(database);
  if (products.length === 0) return 0;
  await ch.insert({
    table: `${db}.catalog_products`,
    values: products.map((p) => ({
      sku: p.sku,
      category: p.category,
      brand: p.brand,
      price_minor: p.priceMinor,
    })),
    format: 'JSONEachRow',
  });
  return products.length;
}

/** The rollup's SELECT, as the materialized view runs it on each insert (without FINAL). */
const HOURLY_SELECT = (db: string, final: boolean): string => `
  SELECT toStartOfHour(occurred_at) AS hour, shop_id, event_type, channel, count() AS events,
         uniqState(user_key) AS users, sumIf(total_minor, event_type = 'order_placed') AS revenue_minor
  FROM ${db}.events${final ? ' FINAL' : ''}
  GROUP BY hour, shop_id, event_type, channel`;

export interface BackfillResult {
  catalogProducts: number;
  events: number;
  hourlyRows: number;
}

/**
 * Rebuilds events_hourly from events FINAL (each event once). Run it with the pipeline stopped (the
 * embedded database has one owner anyway): events stored during the rebuild would be counted twice.
 */
export async function backfillModel(
  ch: ClickHouseClient,
  database: string,
  catalog: readonly CatalogRow[] = [],
): Promise<BackfillResult> {
  const db = databaseIdentifier(database);
  const catalogProducts = await loadCatalogProducts(ch, database, catalog);
  await ch.command({ query: `TRUNCATE TABLE ${db}.events_hourly` });
  await ch.command({ query: `INSERT INTO ${db}.events_hourly ${HOURLY_SELECT(db, true)}` });
  const rs = await ch.query({
    query: `SELECT (SELECT count() FROM ${db}.events FINAL) AS events,
                   (SELECT count() FROM (SELECT 1 FROM ${db}.events_hourly GROUP BY hour, shop_id, event_type, channel)) AS hourly`,
    format: 'JSONEachRow',
  });
  const [r] = await rs.json<{ events: string | number; hourly: string | number }>();
  return { catalogProducts, events: Number(r?.events ?? 0), hourlyRows: Number(r?.hourly ?? 0) };
}
