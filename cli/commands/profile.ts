// `shopstream profile <userId>`: what shopstream knows about a shopper right now.
import { loadCatalog } from '../../catalog';
import type { Config } from '../../infra/config';
import { connectNats } from '../../infra/nats';
import { halfLivesOf, topInterests } from '../../streams/processors/interest/model';
import { ProfileStore } from '../../streams/processors/interest/store';
import { segment } from '../../streams/processors/interest/tags';
import { names, userKey } from '../../streams/topology';
import { recommendationsFor } from './recommendations';

const fmt = (xs: { feature: string; weight: number }[]): string =>
  xs.length === 0 ? '(none)' : xs.map((x) => `${x.feature} ${x.weight.toFixed(2)}`).join(', ');

export async function profile(config: Config, opts: Record<string, unknown>): Promise<number> {
  const shopId = typeof opts['shop'] === 'string' ? opts['shop'] : 'demo-shop';
  const id = String(opts['userId']);
  const key = userKey(opts['anonymous'] ? { anonymousId: id } : { userId: id });
  const catalog = loadCatalog(config.interest.catalogFile || undefined);
  const nc = await connectNats(config.nats, 'shopstream-profile');
  try {
    const kv = await nc.jetstream().views.kv(names(config.nats.prefix).profilesBucket, { bindOnly: true });
    const { state, revision } = await new ProfileStore(kv, catalog.features).load(shopId, key);
    if (revision === 0) {
      console.error(
        `no profile for ${key} in shop ${shopId} (is the pipeline service running? npx shopstream serve --detach)`,
      );
      return 1;
    }
    const now = Date.now();
    const halfLives = halfLivesOf(config.interest);
    const seg = segment(state, now, config.tiers);
    const c = state.counters;
    console.log(
      `${key} @ ${shopId}: ${c.events} events, ${c.orders} orders, ${(c.spendMinor / 100).toFixed(2)} spent; last seen ${new Date(state.lastEventAt).toISOString()}`,
    );
    console.log(
      `  short-term interests (half-life ${config.interest.shortHalfLifeMs / 60_000} min): ${fmt(topInterests(state.short, now, halfLives.shortMs, catalog, 5))}`,
    );
    console.log(
      `  long-term interests (half-life ${config.interest.longHalfLifeMs / 86_400_000} d):  ${fmt(topInterests(state.long, now, halfLives.longMs, catalog, 5))}`,
    );
    console.log(`  tier: ${seg.tier} (${seg.tierReason})`);
    console.log(`  tags: ${seg.tags.length === 0 ? '(none)' : ''}`);
    for (const t of seg.tags) console.log(`    ${t.tag}: ${t.reason}`);
    const traits = Object.entries(state.traits ?? {});
    if (traits.length > 0)
      console.log(`  traits (identify): ${traits.map(([name, [value]]) => `${name}=${value}`).join(', ')}`);
    const recs = await recommendationsFor(nc, config, catalog, {
      shopId,
      ...(opts['anonymous'] ? { anonymousId: id } : { userId: id }),
      state,
      now,
      k: Number(opts['k'] ?? 10),
    });
    console.log(`  recommendations (${recs.via}):`);
    for (const r of recs.items) {
      const p = catalog.bySku.get(r.sku);
      console.log(
        `    ${r.sku.padEnd(10)} ${(p?.nameEn ?? '').padEnd(34)} ${r.score.toFixed(3)}  ${r.reasons.join('; ')}`,
      );
    }
    return 0;
  } finally {
    await nc.close();
  }
}
