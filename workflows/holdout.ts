// The holdout group: a stable share of users who get no messages from a flow, so its uplift can be
// measured against them. Pure and deterministic (the same user is in the same bucket on every worker,
// on replay and after a restart); salted with the flow name so one flow's holdout is not every flow's.

/** 32-bit FNV-1a of a string's UTF-16 code units (the same hash streams/topology.ts partitions with). */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The user's bucket, 0..99, for a flow. */
export function holdoutBucket(flowName: string, userId: string): number {
  return fnv1a(`${flowName}:${userId}`) % 100;
}

/** True for the `percent` lowest buckets: about that share of users. */
export function isHeldOut(flowName: string, userId: string, percent: number): boolean {
  return holdoutBucket(flowName, userId) < percent;
}
