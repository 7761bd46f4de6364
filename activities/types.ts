// What workflows and activities share: request and result shapes, the activity interface that
// proxyActivities is typed with, and the business error types. No I/O here: workflow code may import
// this module (the only activities/ module it may import values from).
import type { PayloadMap } from '../schemas/events';
import type { Channel, CouponBudget, Tier } from '../workflows/dsl';

/** ApplicationFailure types of business errors: non-retryable, the flow decides what to do. */
export const ActivityErrorType = {
  CouponBudgetExhausted: 'CouponBudgetExhausted',
  ChannelNotConfigured: 'ChannelNotConfigured',
} as const;

export interface Recipient {
  shopId: string;
  userId: string;
}

export interface SendMessageRequest extends Recipient {
  channel: Channel;
  template: string;
  vars: Record<string, string | number>;
  /** The same for every attempt of one message: adapters pass it on so a retry is not a second send. */
  idempotencyKey: string;
}

export interface SendMessageResult {
  messageId: string;
  sentAt: number;
}

export interface IssueCouponRequest extends Recipient {
  campaign: string;
  budget: CouponBudget;
  tier: Tier;
  amountMinor: number;
  currency?: string;
  /** Workflow time of the step; the expiry is counted from the first issue. */
  issuedAt: number;
  expiresAt: number;
}

export interface IssuedCoupon {
  code: string;
  campaign: string;
  tier: Tier;
  amountMinor: number;
  currency?: string;
  issuedAt: number;
  expiresAt: number;
  /** False when this user already had the coupon (a retry or a replay): nothing new was spent. */
  newlyIssued: boolean;
}

export interface ReserveSlotRequest extends Recipient {
  /** The user-local day, 'YYYY-MM-DD'. */
  localDay: string;
  cap: number;
  /** One message: reserving the same key again is granted without using another slot. */
  key: string;
}

export interface ReserveSlotResult {
  granted: boolean;
  /** Slots used that day, this one included when granted. */
  used: number;
}

type FlowEventType = 'reminder_sent' | 'coupon_issued';

/** An event a flow publishes; `key` makes its event id, so publishing it twice is one event. */
export type FlowEvent = {
  [T in FlowEventType]: {
    type: T;
    shopId: string;
    userId: string;
    occurredAt: number;
    key: string;
    properties: PayloadMap[T];
  };
}[FlowEventType];

export type PublishedFlowEvent = FlowEvent & { eventId: string };

export interface Activities {
  sendMessage(req: SendMessageRequest): Promise<SendMessageResult>;
  issueCoupon(req: IssueCouponRequest): Promise<IssuedCoupon>;
  reserveMessageSlot(req: ReserveSlotRequest): Promise<ReserveSlotResult>;
  publishEvent(event: FlowEvent): Promise<void>;
}
