// Mined rule sets in the JetStream KV rules bucket, one key per shop and level, so every
// recommender instance reads the same rules the scheduled job mined.
import type { KV } from 'nats';
import { kvKeyPart } from '../../../schemas/kv-keys';
import type { BasketLevel } from './baskets';
import type { RuleSet } from './rules';

export function rulesKey(shopId: string, level: BasketLevel): string {
  return `${kvKeyPart(shopId)}.${level}`;
}

export async function saveRules(kv: KV, shopId: string, level: BasketLevel, rules: RuleSet): Promise<void> {
  await kv.put(rulesKey(shopId, level), Buffer.from(JSON.stringify(rules)));
}

export async function loadRules(kv: KV, shopId: string, level: BasketLevel): Promise<RuleSet | undefined> {
  const e = await kv.get(rulesKey(shopId, level));
  if (!e || e.operation !== 'PUT' || e.value.length === 0) return undefined;
  return JSON.parse(Buffer.from(e.value).toString('utf8')) as RuleSet;
}
