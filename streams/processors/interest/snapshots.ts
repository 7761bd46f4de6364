// Interest snapshots for analysts: every changed profile, at a time, as one row of
// interest_snapshots (top interests short and long, tags, tier, order totals).
import type { ClickHouseClient } from '../../../infra/clickhouse/client';
import type { Catalog } from '../../../catalog/types';
import type { Config } from '../../../infra/config';
import { toClickHouseTime } from '../../sinks/clickhouse/rows';
import { topCategory, topInterests, type HalfLives, type ProfileState } from './model';
import { segment } from './tags';

export interface SnapshotRow {
  shop_id: string;
  user_key: string;
  taken_at: string;
  tier: string;
  tags: string[];
  top_category: string;
  top_short: [string, number][];
  top_long: [string, number][];
  events: number;
  orders: number;
  spend_minor: number;
  last_event_at: string;
}

export function snapshotRow(
  s: ProfileState,
  takenAt: number,
  catalog: Catalog,
  halfLives: HalfLives,
  tiers: Config['tiers'],
): SnapshotRow {
  const seg = segment(s, takenAt, tiers);
  const pairs = (xs: { feature: string; weight: number }[]): [string, number][] =>
    xs.map((x) => [x.feature, x.weight]);
  return {
    shop_id: s.shopId,
    user_key: s.userKey,
    taken_at: toClickHouseTime(takenAt),
    tier: seg.tier,
    tags: seg.tags.map((t) => t.tag),
    top_category: topCategory(s, takenAt, halfLives, catalog) ?? '',
    top_short: pairs(topInterests(s.short, takenAt, halfLives.shortMs, catalog, 5)),
    top_long: pairs(topInterests(s.long, takenAt, halfLives.longMs, catalog, 5)),
    events: s.counters.events,
    orders: s.counters.orders,
    spend_minor: s.counters.spendMinor,
    last_event_at: toClickHouseTime(s.lastEventAt),
  };
}

export async function writeSnapshots(
  ch: ClickHouseClient,
  database: string,
  rows: SnapshotRow[],
): Promise<void> {
  if (rows.length === 0) return;
  await ch.insert({ table: `${database}.interest_snapshots`, values: rows, format: 'JSONEachRow' });
}
