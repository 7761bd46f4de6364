// Tier changes, pure: applying an event that moves a user to another value tier (tags.ts tierOf)
// yields a tier_changed event for that user.
//
// Deterministic: the tier depends only on order and refund counters, never on the clock, so the tier
// before and after an event is the same live and replayed; the event's id is derived from the causing
// event (deriveEventId), its occurred_at is the causing event's, and its sequence is the causing
// message's stream sequence. A redelivered message therefore gives the very same tier_changed event,
// which JetStream (Nats-Msg-Id, within the duplicate window) and ClickHouse (event_id) drop.
//
// A user's first tier ('new', where everyone starts) is not a change. The change is recorded in the
// state (pendingTierChanges) when it is applied, so it is published again if the causing message is
// redelivered after the state was written but before the message was acked.
import type { Catalog } from '../../../catalog/types';
import type { Config } from '../../../infra/config';
import {
  SCHEMA_VERSION,
  channelValue,
  type Envelope,
  type EnvelopeInit,
  type EventType,
} from '../../../schemas/events';
import { deriveEventId } from '../../../schemas/ulid';
import {
  applyEvent,
  MAX_PENDING_TIER_CHANGES,
  type Applied,
  type HalfLives,
  type ProfileState,
  type TierChange,
} from './model';
import { tierOf } from './tags';

/** producer_id of the events the interest processor publishes. */
export const INTEREST_PRODUCER_ID = 'interest-processor';

/** Applies one event (model.ts applyEvent) and records the tier change it causes, if any. */
export function applyAndTrackTier(
  s: ProfileState,
  e: Envelope,
  type: EventType,
  seq: number,
  catalog: Catalog,
  halfLives: HalfLives,
  tiers: Config['tiers'],
  /** When the message reached JetStream (model.ts applyEvent). */
  arrivedAt?: number,
): Applied & { change?: TierChange } {
  const before = tierOf(s.counters, tiers).tier;
  const result = applyEvent(s, e, type, seq, catalog, halfLives, arrivedAt);
  if (!result.applied) return result;
  const after = tierOf(s.counters, tiers);
  if (after.tier === before) return result;
  const change: TierChange = {
    seq,
    causeEventId: e.eventId,
    occurredAt: e.occurredAt,
    userId: e.userId ?? '',
    anonymousId: e.anonymousId ?? '',
    previousTier: before,
    tier: after.tier,
    reason: after.reason,
  };
  s.pendingTierChanges.push(change);
  if (s.pendingTierChanges.length > MAX_PENDING_TIER_CHANGES)
    s.pendingTierChanges.splice(0, s.pendingTierChanges.length - MAX_PENDING_TIER_CHANGES);
  return { ...result, change };
}

/** The tier changes to publish for messages being handled now: those caused by these sequences. */
export function tierChangesFor(s: ProfileState, seqs: ReadonlySet<number>): TierChange[] {
  return s.pendingTierChanges.filter((c) => seqs.has(c.seq));
}

/** The id of the tier_changed event a causing event gives: the same on every redelivery. */
export function tierChangedEventId(shopId: string, change: TierChange): string {
  return deriveEventId(change.occurredAt, `${shopId}:tier_changed:${change.causeEventId}`);
}

/** The tier_changed event for a change, for the user of the causing event. */
export function tierChangedEnvelope(shopId: string, change: TierChange): EnvelopeInit {
  return {
    eventId: tierChangedEventId(shopId, change),
    schemaVersion: SCHEMA_VERSION,
    shopId,
    userId: change.userId,
    anonymousId: change.anonymousId,
    channel: channelValue('server'),
    occurredAt: change.occurredAt,
    sequence: change.seq,
    producerId: INTEREST_PRODUCER_ID,
    tierChanged: { tier: change.tier, previousTier: change.previousTier, reason: change.reason },
  };
}
