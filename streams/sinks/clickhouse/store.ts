// How the sink stores rows: pure helpers for telling ClickHouse's data rejections from outages, and
// for cutting a batch into inserts ClickHouse accepts.
import type { EventRow } from './rows';

/**
 * ClickHouse error codes that say nothing about the rows: the server, the table or the credentials
 * are not right (yet). Rows failing with these are kept and retried in place, never dead-lettered.
 * Any other ClickHouse error on an insert (CANNOT_PARSE_*, VIOLATED_CONSTRAINT, ...) blames the data.
 */
const OPERATIONAL_CODES = new Set([
  '16', // NO_SUCH_COLUMN_IN_TABLE: a migration is missing
  '60', // UNKNOWN_TABLE
  '81', // UNKNOWN_DATABASE
  '159', // TIMEOUT_EXCEEDED
  '164', // READONLY
  '202', // TOO_MANY_SIMULTANEOUS_QUERIES
  '203', // NO_FREE_CONNECTION
  '209', // SOCKET_TIMEOUT
  '210', // NETWORK_ERROR
  '225', // NO_ZOOKEEPER
  '236', // ABORTED
  '241', // MEMORY_LIMIT_EXCEEDED
  '242', // TABLE_IS_READ_ONLY
  '243', // NOT_ENOUGH_SPACE
  '252', // TOO_MANY_PARTS (merges behind; inserts never span more than 100 partitions here)
  '319', // UNKNOWN_STATUS_OF_INSERT
  '394', // QUERY_WAS_CANCELLED
  '425', // SYSTEM_ERROR
  '497', // ACCESS_DENIED
  '516', // AUTHENTICATION_FAILED
  '999', // KEEPER_EXCEPTION
]);

export type InsertFailure =
  | { kind: 'unavailable'; code: string; message: string }
  | { kind: 'rejected'; code: string; type: string; message: string };

/** A ClickHouse error (`code` and `type` from the server) blames the rows unless it is operational. */
export function classifyInsertError(err: unknown): InsertFailure {
  const e = (err ?? {}) as { code?: unknown; type?: unknown; message?: unknown; name?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(err);
  const code = typeof e.code === 'string' || typeof e.code === 'number' ? String(e.code) : '';
  // a server answer carries a numeric code and its type name; sockets and timeouts carry neither
  const fromServer = /^\d+$/.test(code) && typeof e.type === 'string';
  if (!fromServer || OPERATIONAL_CODES.has(code)) return { kind: 'unavailable', code, message };
  return { kind: 'rejected', code, type: e.type as string, message };
}

/** The events table's partition key, PARTITION BY toYYYYMM(occurred_at), from the row's time text. */
export function partitionOfRow(row: EventRow): string {
  return row.occurred_at.slice(0, 7);
}

/** ClickHouse's default max_partitions_per_insert_block: more in one insert fails the whole insert. */
export const MAX_PARTITIONS_PER_INSERT = 100;

/** Rows cut into inserts of at most MAX_PARTITIONS_PER_INSERT partitions each (one, normally). */
export function byPartitionGroups<T extends { row: EventRow }>(
  items: T[],
  max = MAX_PARTITIONS_PER_INSERT,
): T[][] {
  const byPartition = new Map<string, T[]>();
  for (const it of items) {
    const p = partitionOfRow(it.row);
    const list = byPartition.get(p);
    if (list) list.push(it);
    else byPartition.set(p, [it]);
  }
  if (byPartition.size <= max) return items.length > 0 ? [items] : [];
  const groups: T[][] = [];
  let current: T[] = [];
  let partitions = 0;
  for (const list of byPartition.values()) {
    if (partitions === max) {
      groups.push(current);
      current = [];
      partitions = 0;
    }
    current.push(...list);
    partitions++;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}
