// Recommendations for the CLI: from the running recommendation service (NATS request-reply), or,
// when none answers, computed here from the same profile and rules.
import type { NatsConnection } from 'nats';
import type { Catalog } from '../../catalog/types';
import type { Config } from '../../infra/config';
import { halfLivesOf, type ProfileState } from '../../streams/processors/interest/model';
import { createRecommender, type Recommendation } from '../../streams/processors/recommend/recommend';
import { loadRules } from '../../streams/processors/recommend/rules-store';
import { RecommendServiceError, requestRecommendations } from '../../streams/processors/recommend/service';
import { names } from '../../streams/topology';

export async function recommendationsFor(
  nc: NatsConnection,
  config: Config,
  catalog: Catalog,
  who: { shopId: string; userId?: string; anonymousId?: string; state: ProfileState; now: number; k: number },
): Promise<{ items: Recommendation[]; via: string }> {
  try {
    const reply = await requestRecommendations(nc, config.nats.prefix, {
      shopId: who.shopId,
      ...(who.userId ? { userId: who.userId } : {}),
      ...(who.anonymousId ? { anonymousId: who.anonymousId } : {}),
      k: who.k,
    });
    return { items: reply.items, via: `recommendation service, ${reply.tookMs.toFixed(1)} ms` };
  } catch (err) {
    if (!(err instanceof RecommendServiceError) || (err.code !== 'NO_SERVICE' && err.code !== 'TIMEOUT'))
      throw err;
  }
  const kv = await nc.jetstream().views.kv(names(config.nats.prefix).rulesBucket, { bindOnly: true });
  const [category, sku] = await Promise.all([
    loadRules(kv, who.shopId, 'category'),
    loadRules(kv, who.shopId, 'sku'),
  ]);
  const items = createRecommender(catalog).recommend({
    profile: who.state,
    rules: { ...(category ? { category } : {}), ...(sku ? { sku } : {}) },
    now: who.now,
    halfLives: halfLivesOf(config.interest),
    k: who.k,
  });
  return { items, via: 'computed locally: no recommendation service answered' };
}
