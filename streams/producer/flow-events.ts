// The `publish` dependency of createActivities on NATS: a flow event (reminder_sent, coupon_issued,
// coupon_redeemed, flow_entered, conversation_escalated, agent_assigned, escalation_ended) becomes a
// protobuf event on the events stream through the producer SDK, like any other event.
//
// Exactly once: createActivities derives the event id from the event's key and time
// (deriveEventId), and the producer publishes with Nats-Msg-Id = event id, so a retried activity (or a
// replayed workflow) publishes a duplicate that JetStream drops within the stream's duplicate window.
import { ApplicationFailure } from '@temporalio/activity';
import type { NatsConnection } from 'nats';
import type { Config } from '../../infra/config';
import { EventValidationError } from '../../schemas/validate';
import { createProducer, type Producer, type TrackReceipt } from './producer';
import { deriveEventId } from '../../schemas/ulid';
import type { FlowEvent, PublishedFlowEvent } from '../../activities/types';

/** ApplicationFailure type of a flow event the schema rejects (a bug: retrying will not help). */
export const INVALID_FLOW_EVENT = 'InvalidFlowEvent';

/** Publishes one flow event; resolves with the producer's receipt (duplicate: true on a retry). */
export async function publishFlowEvent(producer: Producer, event: PublishedFlowEvent): Promise<TrackReceipt> {
  const common = {
    shopId: event.shopId,
    userId: event.userId,
    channel: 'server' as const,
    occurredAt: event.occurredAt,
    eventId: event.eventId,
  };
  try {
    switch (event.type) {
      case 'reminder_sent':
        return await producer.track('reminder_sent', { ...common, properties: event.properties });
      case 'coupon_issued':
        return await producer.track('coupon_issued', { ...common, properties: event.properties });
      case 'coupon_redeemed':
        return await producer.track('coupon_redeemed', { ...common, properties: event.properties });
      case 'flow_entered':
        return await producer.track('flow_entered', { ...common, properties: event.properties });
      case 'conversation_escalated':
        return await producer.track('conversation_escalated', { ...common, properties: event.properties });
      case 'agent_assigned':
        return await producer.track('agent_assigned', { ...common, properties: event.properties });
      case 'escalation_ended':
        return await producer.track('escalation_ended', { ...common, properties: event.properties });
    }
  } catch (err) {
    if (err instanceof EventValidationError)
      throw ApplicationFailure.nonRetryable(`flow event ${event.type}: ${err.message}`, INVALID_FLOW_EVENT);
    throw err; // timeouts and the like: the activity is retried, and the retry is deduplicated
  }
}

/** Publishes a flow event built outside a workflow (a trigger's), with its id derived from its key. */
export function flowEventPublisher(producer: Producer): (event: FlowEvent) => Promise<void> {
  return async (event) => {
    await publishFlowEvent(producer, { ...event, eventId: deriveEventId(event.occurredAt, event.key) });
  };
}

/** `publish` for createActivities, on an existing producer. */
export function natsPublish(producer: Producer): (event: PublishedFlowEvent) => Promise<void> {
  return async (event) => {
    await publishFlowEvent(producer, event);
  };
}

/** A producer for flow events (on `connection` if given) and the `publish` dependency built on it. */
export async function createNatsPublish(
  config: Config,
  connection?: NatsConnection,
): Promise<{ publish: (event: PublishedFlowEvent) => Promise<void>; producer: Producer }> {
  const producer = await createProducer({
    nats: config.nats,
    shopId: 'shopstream',
    ...(connection ? { connection } : {}),
  });
  return { publish: natsPublish(producer), producer };
}
