// The flows' activities, built from their clients: tests pass in-memory ones, the worker real ones.
// Chat escalation's (agent queue, supervisors) come from ./escalation; their clients are optional deps.
// Business failures are non-retryable ApplicationFailures with a type from ActivityErrorType;
// anything else is thrown as is and retried by Temporal.
import { ApplicationFailure } from '@temporalio/activity';
import { deriveEventId } from '../schemas/ulid';
import type { Channel } from '../workflows/dsl';
import type { MessageChannel } from './channels';
import { withCouponRef, type CouponLedger } from '../coupons/coupon-ledger';
import {
  createEscalationActivities,
  unconfiguredAgentQueue,
  unconfiguredSupervisorNotifier,
  type AgentQueue,
  type SupervisorNotifier,
} from './escalation';
import type { MessageSlots } from './message-slots';
import { ActivityErrorType, type Activities, type PublishedFlowEvent } from './types';

export interface ActivityDeps {
  /** The configured channels; a flow step on another channel fails with ChannelNotConfigured. */
  channels: Partial<Record<Channel, MessageChannel>>;
  ledger: CouponLedger;
  slots: MessageSlots;
  publish: (event: PublishedFlowEvent) => Promise<void>;
  /** Chat escalation's human queue; without it enqueueForAgent and raisePriority fail with AgentQueueNotConfigured. */
  agentQueue?: AgentQueue;
  /** Without it notifySupervisor fails with SupervisorNotifierNotConfigured. */
  supervisors?: SupervisorNotifier;
  now?: () => number;
}

export function createActivities(deps: ActivityDeps): Activities {
  const now = deps.now ?? Date.now;
  const escalation = createEscalationActivities({
    queue: deps.agentQueue ?? unconfiguredAgentQueue,
    supervisors: deps.supervisors ?? unconfiguredSupervisorNotifier,
    publish: deps.publish,
  });
  return {
    enqueueForAgent: (req) => escalation.enqueueForAgent(req),
    raisePriority: (req) => escalation.raisePriority(req),
    notifySupervisor: (req) => escalation.notifySupervisor(req),
    closeTicket: (req) => escalation.closeTicket(req),

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

    // a code leaves only as its ref: the events table is read by analysts
    publishEvent: (event) =>
      deps.publish({
        ...withCouponRef(event, (code) => deps.ledger.ref(code)),
        eventId: deriveEventId(event.idAt ?? event.occurredAt, event.key),
      }),
  };
}

export { createLogChannel, type LogChannel, type LoggedMessage, type MessageChannel } from './channels';
export {
  createEscalationActivities,
  createMemoryAgentQueue,
  createMemorySupervisorNotifier,
  type AgentConfig,
  type AgentQueue,
  type AgentTicket,
  type EscalationDeps,
  type MemoryAgentQueue,
  type MemoryAgentQueueOptions,
  type MemorySupervisorNotifier,
  type RoutingStrategy,
  type SupervisorNotification,
  type SupervisorNotifier,
} from './escalation';
export {
  couponCode,
  couponRef,
  createMemoryCouponLedger,
  maskCode,
  withCouponRef,
  type CouponLedger,
  type IssueOutcome,
} from '../coupons/coupon-ledger';
export { createMemoryMessageSlots, type MessageSlots } from './message-slots';
export * from './types';
