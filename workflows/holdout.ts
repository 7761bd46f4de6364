// The holdout group: a stable share of users who get no messages from a flow, so its uplift can be
// measured against them. Pure and deterministic (the same user is in the same bucket on every worker,
// on replay and after a restart); salted with the flow name so one flow's holdout is not every flow's.

import { fnv1a } from '../schemas/hash';

/** The user's bucket, 0..99, for a flow. */
export function holdoutBucket(flowName: string, userId: string): number {
  return fnv1a(`${flowName}:${userId}`) % 100;
}

/** True for the `percent` lowest buckets: about that share of users. */
export function isHeldOut(flowName: string, userId: string, percent: number): boolean {
  return holdoutBucket(flowName, userId) < percent;
}
