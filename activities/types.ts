// What workflows and activities share: request and result shapes, the activity interface that
// proxyActivities is typed with, and the business error types. No I/O here: workflow code may import
// this module (the only activities/ module it may import values from).
import type { PayloadMap } from '../schemas/events';
import type { Channel, CouponBudget, Tier } from '../workflows/dsl';

/** ApplicationFailure types of business errors: non-retryable, the flow decides what to do. */
export const ActivityErrorType = {
  CouponBudgetExhausted: 'CouponBudgetExhausted',
  ChannelNotConfigured: 'ChannelNotConfigured',
  /** An unknown message template, or a variable it needs is missing or malformed. */
  TemplateInvalid: 'TemplateInvalid',
  /** The channel's receiver refused the message (HTTP 4xx other than 408, 409, 425, 429). */
  ChannelRejected: 'ChannelRejected',
  /** The worker was built without an agent queue (ActivityDeps.agentQueue): escalations cannot be queued. */
  AgentQueueNotConfigured: 'AgentQueueNotConfigured',
  /** The worker was built without a supervisor notifier (ActivityDeps.supervisors). */
  SupervisorNotifierNotConfigured: 'SupervisorNotifierNotConfigured',
  /** raisePriority for a conversation the agent queue has no ticket for. */
  TicketNotFound: 'TicketNotFound',
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

export type FlowEventType =
  | 'reminder_sent'
  | 'coupon_issued'
  | 'coupon_redeemed'
  | 'flow_entered'
  | 'conversation_escalated'
  | 'agent_assigned'
  | 'escalation_ended';

/** An event a flow publishes; `key` makes its event id, so publishing it twice is one event. */
export type FlowEvent = {
  [T in FlowEventType]: {
    type: T;
    shopId: string;
    userId: string;
    occurredAt: number;
    key: string;
    /**
     * The time in the event id when it is not occurredAt: an event published from a local activity
     * pins it to the workflow's start (see pinnedId in workflows/message-step.ts).
     */
    idAt?: number;
    properties: PayloadMap[T];
  };
}[FlowEventType];

export type PublishedFlowEvent = FlowEvent & { eventId: string };

// ---- chat escalation ---------------------------------------------------------------------------------

/** explicit_request, low_confidence, negative_sentiment, or another the bot gives. */
export type EscalationReason = string;
export type QueuePriority = 'normal' | 'high';

export interface TranscriptTurn {
  /** user, bot or agent. */
  role: string;
  text: string;
}

/** What the agent sees of the user: tier, interests, recent orders... whatever the profile gives. */
export type ProfileSummary = Record<string, unknown>;

export interface EnqueueForAgentRequest {
  shopId: string;
  conversationId: string;
  userId: string;
  reason: EscalationReason;
  priority: QueuePriority;
  profileSummary?: ProfileSummary;
  transcript: TranscriptTurn[];
  suggestedReplies: string[];
  /** Workflow time of the handoff and the two SLA deadlines, epoch ms. */
  escalatedAt: number;
  firstResponseDueAt: number;
  resolutionDueAt: number;
  /** The same for every attempt: enqueueing it again is not a second queue entry. */
  key: string;
}

export interface EnqueuedConversation {
  ticketId: string;
}

export interface RaisePriorityRequest {
  shopId: string;
  conversationId: string;
  ticketId?: string;
  priority: QueuePriority;
  key: string;
}

export interface CloseTicketRequest {
  shopId: string;
  conversationId: string;
  ticketId?: string;
  /** How the conversation ended: resolved, or abandoned (the user left). */
  exit: 'resolved' | 'abandoned';
  agentId?: string;
  key: string;
}

export type EscalationBreach = 'first_response_sla_breach' | 'resolution_sla_breach';

export interface NotifySupervisorRequest {
  shopId: string;
  conversationId: string;
  userId: string;
  level: number;
  /** first_response_sla_breach (no agent accepted in time) or resolution_sla_breach. */
  reason: EscalationBreach;
  /** Since the handoff. */
  waitedMs: number;
  agentId?: string;
  ticketId?: string;
  key: string;
}

/** The flow events of an escalation (conversation_escalated per level, agent_assigned). */
export type EscalationEvent = Extract<
  FlowEvent,
  { type: 'conversation_escalated' | 'agent_assigned' | 'escalation_ended' }
>;

export interface EscalationActivities {
  enqueueForAgent(req: EnqueueForAgentRequest): Promise<EnqueuedConversation>;
  raisePriority(req: RaisePriorityRequest): Promise<void>;
  notifySupervisor(req: NotifySupervisorRequest): Promise<void>;
  /** The conversation ended: the desk closes its ticket (the agent is free for the next one). */
  closeTicket(req: CloseTicketRequest): Promise<void>;
  /** The flows' publishEvent (one activity for every flow), as the escalation workflow calls it. */
  publishEvent(event: EscalationEvent): Promise<void>;
}

/** Every activity the worker registers: the flows' and the escalation's (publishEvent is shared). */
export interface Activities extends EscalationActivities {
  sendMessage(req: SendMessageRequest): Promise<SendMessageResult>;
  issueCoupon(req: IssueCouponRequest): Promise<IssuedCoupon>;
  reserveMessageSlot(req: ReserveSlotRequest): Promise<ReserveSlotResult>;
  publishEvent(event: FlowEvent): Promise<void>;
}
