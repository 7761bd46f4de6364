import { createClickHouse } from '../../infra/clickhouse/client';
import { migrate } from '../../analytics/migrate';
import type { Config } from '../../infra/config';

export async function migrateCommand(config: Config): Promise<void> {
  const ch = createClickHouse(config.clickhouse);
  try {
    const applied = await migrate(ch, config.clickhouse.database);
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'ClickHouse schema is up to date');
  } finally {
    await ch.close();
  }
}
