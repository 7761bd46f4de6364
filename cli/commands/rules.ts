import type { Config } from '../../infra/config';
import { connectNats } from '../../infra/nats';
import { mineAllShops } from '../../streams/processors/recommend/rules-job';
import { names } from '../../streams/topology';
import { openSql } from '../sql';

export async function rules(config: Config): Promise<void> {
  const { sql, close } = await openSql(config);
  const nc = await connectNats(config.nats, 'shopstream-rules');
  try {
    const kv = await nc.jetstream().views.kv(names(config.nats.prefix).rulesBucket, { bindOnly: true });
    const results = await mineAllShops(sql, kv, config);
    if (results.length === 0) console.log('no orders in ClickHouse yet: nothing to mine');
    for (const r of results)
      console.log(`${r.shopId} ${r.level.padEnd(8)} ${r.baskets} baskets -> ${r.rules} rules in ${r.ms} ms`);
  } finally {
    await nc.close();
    await close();
  }
}
