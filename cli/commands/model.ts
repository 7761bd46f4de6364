import { backfillModel } from '../../analytics/model';
import { migrate } from '../../analytics/migrate';
import { loadCatalog } from '../../catalog';
import { createClickHouse } from '../../infra/clickhouse/client';
import type { Config } from '../../infra/config';

/**
 * Rebuilds the analysts' model from events alone: migrations, the catalog, the hourly rollup. On the
 * embedded database the pipeline service must be stopped (it owns the data directory: the error says so).
 */
export async function backfill(config: Config): Promise<void> {
  const ch = createClickHouse(config.clickhouse);
  try {
    const applied = await migrate(ch, config.clickhouse.database);
    const catalog = loadCatalog(config.interest.catalogFile || undefined).products;
    const t0 = Date.now();
    const r = await backfillModel(ch, config.clickhouse.database, catalog);
    console.log(
      `model rebuilt from ${r.events} events in ${Date.now() - t0} ms: ${r.hourlyRows} hourly rows, ${r.catalogProducts} catalog products${applied.length ? `; migrations applied: ${applied.join(', ')}` : ''}`,
    );
  } finally {
    await ch.close();
  }
}
