// Interest snapshots for analysts: every changed profile, at a time, as one row of
// interest_snapshots (top interests short and long, tags, tier, order totals).
//
// top_short / top_long are `Array(Tuple(feature String, weight Float64))`: a named tuple, which
// ClickHouse reads in JSONEachRow as an object with the element names (input_format_json_named_
// tuples_as_objects, on by default in ClickHouse and chDB), never as a JSON array: `[name, weight]`
// pairs fail the whole insert with "expected '{' (while reading the value of key top_short)". The
// setting is passed with each insert so a server with another default reads the same rows.
//
// Times are clamped to what DateTime64(3) holds, so one profile with an odd time never fails the
// insert of everyone's snapshots.
import type { ClickHouseClient } from '../../../infra/clickhouse/client';
import type { Catalog } from '../../../catalog/types';
import type { Config } from '../../../infra/config';
import { toClickHouseTime } from '../../sinks/clickhouse/rows';
import { topCategory, topInterests, type HalfLives, type ProfileState } from './model';
import { decodeState } from './state-codec';
import type { Changed } from './store';
import { segment } from './tags';

/** One element of top_short / top_long: the named tuple's fields as a JSON object. */
export interface InterestPair {
  feature: string;
  weight: number;
}

/** DateTime64(3)'s range (1900-01-01 .. 2299-12-31 23:59:59.999 UTC). */
const MIN_CH_TIME = Date.UTC(1900, 0, 1);
const MAX_CH_TIME = Date.UTC(2299, 11, 31, 23, 59, 59, 999);
const chTime = (ms: number): string =>
  toClickHouseTime(Number.isFinite(ms) ? Math.min(MAX_CH_TIME, Math.max(MIN_CH_TIME, ms)) : 0);

export interface SnapshotRow {
  shop_id: string;
  user_key: string;
  taken_at: string;
  tier: string;
  tags: string[];
  top_category: string;
  top_short: InterestPair[];
  top_long: InterestPair[];
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
  const pairs = (xs: { feature: string; weight: number }[]): InterestPair[] =>
    xs.map((x) => ({ feature: x.feature, weight: x.weight }));
  return {
    shop_id: s.shopId,
    user_key: s.userKey,
    taken_at: chTime(takenAt),
    tier: seg.tier,
    tags: seg.tags.map((t) => t.tag),
    top_category: topCategory(s, takenAt, halfLives, catalog) ?? '',
    top_short: pairs(topInterests(s.short, takenAt, halfLives.shortMs, catalog, 5)),
    top_long: pairs(topInterests(s.long, takenAt, halfLives.longMs, catalog, 5)),
    events: s.counters.events,
    orders: s.counters.orders,
    spend_minor: s.counters.spendMinor,
    last_event_at: chTime(s.lastEventAt),
  };
}

export async function writeSnapshots(
  ch: ClickHouseClient,
  database: string,
  rows: SnapshotRow[],
): Promise<void> {
  if (rows.length === 0) return;
  await ch.insert({
    table: `${database}.interest_snapshots`,
    values: rows,
    format: 'JSONEachRow',
    clickhouse_settings: { input_format_json_named_tuples_as_objects: 1 },
  });
}

/** Snapshot rows made between two yields of the event loop. */
const SNAPSHOT_SLICE = 200;

/** Where changed profiles come from: the interest processor (processor.ts). */
export interface ChangedProfiles {
  takeChanged(): Map<string, Changed>;
  /** Puts back profiles whose snapshot could not be stored (a newer change of the same user wins). */
  restoreChanged(m: Map<string, Changed>): void;
}

/**
 * Writes one snapshot row per profile changed since the last call; when the insert fails, the
 * profiles are put back for the next call (nothing is lost while ClickHouse is away) and the error
 * is thrown. Returns how many rows were stored.
 */
export async function snapshotChanged(
  source: ChangedProfiles,
  ch: ClickHouseClient,
  database: string,
  now: number,
  catalog: Catalog,
  halfLives: HalfLives,
  tiers: Config['tiers'],
): Promise<number> {
  const taken = source.takeChanged();
  if (taken.size === 0) return 0;
  try {
    // decoded one at a time (only the rows, a few hundred bytes each, are held at once), yielding
    // the event loop every SNAPSHOT_SLICE rows: 20,000 in one go blocked it for seconds, long enough
    // for the processors' fetches to time out with messages on the wire (redelivered 30 s later)
    const rows: SnapshotRow[] = [];
    for (const c of taken.values()) {
      rows.push(snapshotRow(decodeState(c.bytes, catalog.features), now, catalog, halfLives, tiers));
      if (rows.length % SNAPSHOT_SLICE === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await writeSnapshots(ch, database, rows);
    return rows.length;
  } catch (err) {
    source.restoreChanged(taken);
    throw err;
  }
}
