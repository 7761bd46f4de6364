// The flows' activities, built from their clients: tests pass in-memory ones, the worker real ones.
// Business failures are non-retryable ApplicationFailures with a type from ActivityErrorType;
// anything else is thrown as is and retried by Temporal.
import { ApplicationFailure } from '@temporalio/activity';
import { deriveEventId } from '../schemas/ulid';
import type { Channel } from '../workflows/dsl';
import type { MessageChannel } from './channels';
import type { CouponLedger } from './coupon-ledger';
import type { MessageSlots } from './message-slots';
import { ActivityErrorType, type Activities, type PublishedFlowEvent } from './types';

export interface ActivityDeps {
  /** The configured channels; a flow step on another channel fails with ChannelNotConfigured. */
  channels: Partial<Record<Channel, MessageChannel>>;
  ledger: CouponLedger;
  slots: MessageSlots;
  publish: (event: PublishedFlowEvent) => Promise<void>;
  now?: () => number;
}

export function createActivities(deps: ActivityDeps): Activities {
  const now = deps.now ?? Date.now;
  return {
    async sendMessage(req) {
      const channel = deps.channels[req.channel];
      if (!channel)
        throw ApplicationFailure.nonRetryable(
          `channel '${req.channel}' is not configured`,
          ActivityErrorType.ChannelNotConfigured,
        );
      const to = { shopId: req.shopId, userId: req.userId };
      const { messageId } = await channel.send(to, req.template, req.vars, {
        idempotencyKey: req.idempotencyKey,
      });
      return { messageId, sentAt: now() };
    },

    async issueCoupon(req) {
      const outcome = await deps.ledger.issue(req);
      if (!outcome.ok)
        throw ApplicationFailure.nonRetryable(outcome.detail, ActivityErrorType.CouponBudgetExhausted);
      return outcome.coupon;
    },

    reserveMessageSlot: (req) => deps.slots.reserve(req),

    publishEvent: (event) => deps.publish({ ...event, eventId: deriveEventId(event.occurredAt, event.key) }),
  };
}

export { createLogChannel, type LogChannel, type LoggedMessage, type MessageChannel } from './channels';
export { couponCode, createMemoryCouponLedger, type CouponLedger, type IssueOutcome } from './coupon-ledger';
export { createMemoryMessageSlots, type MessageSlots } from './message-slots';
export * from './types';
