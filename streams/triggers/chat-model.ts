// The pure half of the chat triggers: which action a chat or desk event asks for, the conversation
// record kept in the conversations bucket (its turns, in order, bounded), and what an agent gets at a
// handoff (transcript, profile summary, suggested replies). No I/O: unit-tested alone. The consumer
// that applies them is escalation-triggers.ts.
import type { ProfileSummary, TranscriptTurn } from '../../activities/types';
import type { Catalog } from '../../catalog';
import type { Config } from '../../infra/config';
import { chatRoleName, type Envelope, type EventType } from '../../schemas/events';
import { escalationWorkflowId, type EscalationInput } from '../../workflows/escalation';
import type { Duration } from '../../schemas/time';
import { topInterests, type HalfLives } from '../processors/interest/model';
import type { ProfileStore } from '../processors/interest/store';
import { segment } from '../processors/interest/tags';
import { kvKey } from '../../schemas/kv-keys';
import { userKey } from '../topology';

/** The event types the chat triggers consume. */
export const CHAT_TRIGGER_TYPES = [
  'chat_turn',
  'handoff_requested',
  'agent_accepted',
  'conversation_closed',
] as const satisfies readonly EventType[];
export type ChatTriggerType = (typeof CHAT_TRIGGER_TYPES)[number];

/** Turns kept per conversation: what the agent reads before answering. */
export const MAX_TURNS = 20;

export interface EscalationDeadlines {
  firstResponseDeadline: Duration;
  resolutionDeadline: Duration;
}
/** An agent accepts within 5 minutes, the conversation is resolved within an hour, from the handoff. */
export const ESCALATION_DEADLINES: EscalationDeadlines = {
  firstResponseDeadline: '5m',
  resolutionDeadline: '1h',
};

/** The configured deadlines (ESCALATION_FIRST_RESPONSE, ESCALATION_RESOLUTION), in whole seconds. */
export function escalationDeadlines(cfg: {
  escalationFirstResponseMs: number;
  escalationResolutionMs: number;
}): EscalationDeadlines {
  const secs = (ms: number): Duration => `${Math.max(1, Math.round(ms / 1000))}s`;
  return {
    firstResponseDeadline: secs(cfg.escalationFirstResponseMs),
    resolutionDeadline: secs(cfg.escalationResolutionMs),
  };
}

// ---- pure: events to actions -------------------------------------------------------------------------

export type ChatRole = 'user' | 'bot' | 'agent';

export interface StoredTurn {
  eventId: string;
  /** The producer's turn_index (0 when it does not number turns). */
  index: number;
  role: ChatRole;
  text: string;
  /** Event time, epoch ms. */
  at: number;
  agentId?: string;
  /** messageSent reached the escalation for this turn (user and agent turns of escalated conversations). */
  signalled?: boolean;
}

/** One conversation's record in the conversations bucket. */
export interface ConversationRecord {
  v: 1;
  shopId: string;
  conversationId: string;
  userId: string;
  /** The last MAX_TURNS turns, by turn index then event time. */
  turns: StoredTurn[];
  /** 'open' once a handoff started the escalation; 'ended' once it was closed. */
  escalation?: 'open' | 'ended';
  /** The handoff that started it. */
  handoffEventId?: string;
}

interface ConversationRef {
  shopId: string;
  userId: string;
  conversationId: string;
  workflowId: string;
  eventId: string;
  /** The event's time (occurred_at), epoch ms: SLA figures count from the desk's clock. */
  at: number;
}

export type CloseExit = 'resolved' | 'user_left';

export type ChatAction =
  | (ConversationRef & { kind: 'turn'; turn: StoredTurn })
  | (ConversationRef & {
      kind: 'handoff';
      reason: string;
      intent: string;
      confidence: number;
      turnIndex: number;
      /** The bot's suggestions for the agent, in the user's language (empty: none given). */
      suggestions: string[];
    })
  | (ConversationRef & { kind: 'accepted'; agentId: string })
  | (ConversationRef & { kind: 'closed'; exit: CloseExit; agentId?: string })
  | (ConversationRef & { kind: 'unknown_close'; reason: string })
  | { kind: 'none'; reason: string };

/** What one event asks of the escalation flows. Pure. */
export function triggerFor(envelope: Envelope, type: EventType): ChatAction {
  const shopId = envelope.shopId;
  const userId = userKey(envelope);
  if (!userId) return { kind: 'none', reason: 'no user id or anonymous id' };
  const payload =
    type === 'chat_turn'
      ? envelope.chatTurn
      : type === 'handoff_requested'
        ? envelope.handoffRequested
        : type === 'agent_accepted'
          ? envelope.agentAccepted
          : type === 'conversation_closed'
            ? envelope.conversationClosed
            : undefined;
  if (payload === undefined) return { kind: 'none', reason: `${type} triggers nothing` };
  const conversationId = payload?.conversationId;
  if (!conversationId) return { kind: 'none', reason: `${type} without a conversation id` };
  const ref: ConversationRef = {
    shopId,
    userId,
    conversationId,
    workflowId: escalationWorkflowId(shopId, conversationId),
    eventId: envelope.eventId,
    at: Number(envelope.occurredAt),
  };
  switch (type) {
    case 'chat_turn': {
      const t = envelope.chatTurn!;
      const role = chatRoleName(t.role);
      if (role === 'unspecified') return { kind: 'none', reason: 'chat turn without a role' };
      const turn: StoredTurn = {
        eventId: envelope.eventId,
        index: t.turnIndex ?? 0,
        role,
        text: t.text ?? '',
        at: Number(envelope.occurredAt),
      };
      if (t.agentId) turn.agentId = t.agentId;
      return { ...ref, kind: 'turn', turn };
    }
    case 'handoff_requested': {
      const h = envelope.handoffRequested!;
      return {
        ...ref,
        kind: 'handoff',
        reason: h.reason || 'unspecified',
        intent: h.intent ?? '',
        confidence: h.confidence ?? 0,
        turnIndex: h.turnIndex ?? 0,
        suggestions: h.suggestedReplies ?? [],
      };
    }
    case 'agent_accepted': {
      const a = envelope.agentAccepted!;
      if (!a.agentId) return { kind: 'none', reason: 'agent_accepted without an agent id' };
      return { ...ref, kind: 'accepted', agentId: a.agentId };
    }
    default: {
      const c = envelope.conversationClosed!;
      const reason = c.reason ?? '';
      if (reason !== 'resolved' && reason !== 'user_left') return { ...ref, kind: 'unknown_close', reason };
      return { ...ref, kind: 'closed', exit: reason, ...(c.agentId ? { agentId: c.agentId } : {}) };
    }
  }
}

// ---- pure: the conversation record ---------------------------------------------------------------------

export function emptyConversation(
  shopId: string,
  conversationId: string,
  userId: string,
): ConversationRecord {
  return { v: 1, shopId, conversationId, userId, turns: [] };
}

/** The same turn delivered again: same event id, or a re-sent copy (same index, role and text). */
export function isSameTurn(a: StoredTurn, b: StoredTurn): boolean {
  return a.eventId === b.eventId || (a.index === b.index && a.role === b.role && a.text === b.text);
}

const turnOrder = (a: StoredTurn, b: StoredTurn): number => a.index - b.index || a.at - b.at;

/**
 * The record with the turn added in order, keeping the last `max`; undefined when the turn is already
 * stored or older than every kept turn of a full record (nothing to write).
 */
export function addTurn(
  record: ConversationRecord,
  turn: StoredTurn,
  max = MAX_TURNS,
): ConversationRecord | undefined {
  if (record.turns.some((t) => isSameTurn(t, turn))) return undefined;
  if (record.turns.length >= max && turnOrder(turn, record.turns[0]!) < 0) return undefined;
  const turns = [...record.turns, turn].sort(turnOrder).slice(-max);
  return { ...record, turns };
}

/** The record with the turn's messageSent marked as delivered; undefined if there is nothing to mark. */
export function markSignalled(record: ConversationRecord, eventId: string): ConversationRecord | undefined {
  const i = record.turns.findIndex((t) => t.eventId === eventId);
  if (i < 0 || record.turns[i]!.signalled) return undefined;
  const turns = record.turns.map((t, j) => (j === i ? { ...t, signalled: true } : t));
  return { ...record, turns };
}

/** What the agent reads: the kept turns in order, roles as words. */
export function transcriptOf(record: ConversationRecord | undefined): TranscriptTurn[] {
  return (record?.turns ?? []).map((t) => ({ role: t.role, text: t.text }));
}

/**
 * Whether a stored turn's messageSent is still owed to the escalation: user and agent turns (the bot
 * is not a party once a human took over) of an open escalation, not yet delivered.
 */
export function owesMessageSent(
  record: ConversationRecord | undefined,
  eventId: string,
): StoredTurn | undefined {
  if (record?.escalation !== 'open') return undefined;
  const t = record.turns.find((x) => x.eventId === eventId);
  return t && t.role !== 'bot' && !t.signalled ? t : undefined;
}

export function encodeConversation(record: ConversationRecord): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(record));
}

/** The stored record, or undefined when the bytes are not one (treated as a new conversation). */
export function decodeConversation(bytes: Uint8Array): ConversationRecord | undefined {
  try {
    const r = JSON.parse(new TextDecoder().decode(bytes)) as Partial<ConversationRecord>;
    return r?.v === 1 && Array.isArray(r.turns) ? (r as ConversationRecord) : undefined;
  } catch {
    return undefined;
  }
}

export function conversationKey(shopId: string, conversationId: string): string {
  return kvKey(shopId, conversationId);
}

// ---- pure: what the agent gets -------------------------------------------------------------------------

const REPLIES = {
  orderStatus: 'Could you share your order number? I will check where your parcel is.',
  returns: 'I can help with that return: which order and which item is it about?',
  coupon: 'Let me check which coupons and discounts apply to your cart.',
  product: 'Which product (and size or colour) are you looking at? I will check stock for you.',
  payment: 'Sorry about the payment trouble: which order is it, and what did the checkout show?',
  recommend: 'Happy to recommend something: what will you use it for, and what budget do you have in mind?',
  apology: 'I am sorry about the trouble. I am here now and will sort this out with you.',
  unsure: 'Sorry our assistant could not answer that. Could you tell me a bit more about what you need?',
  hello: 'Hi, you are now talking to our support team. How can I help?',
} as const;

/** The intent's topic, by keywords of the bot's intent label (order_status, return_item, ...). */
function topicOf(intent: string): keyof typeof REPLIES | undefined {
  const i = intent.toLowerCase();
  if (/order|track|deliver|ship|parcel|arriv/.test(i)) return 'orderStatus';
  if (/return|refund|exchange/.test(i)) return 'returns';
  if (/coupon|discount|promo|voucher/.test(i)) return 'coupon';
  if (/pay|charge|invoice|billing/.test(i)) return 'payment';
  if (/recommend|suggest/.test(i)) return 'recommend';
  if (/stock|size|availab|product|colou?r/.test(i)) return 'product';
  return undefined;
}

/**
 * Replies the agent can send with one click: an opening that fits why the bot handed over, then one
 * for the topic the bot recognised, if any. Pure; at most 3, no duplicates.
 */
export function suggestedReplies(reason: string, intent = ''): string[] {
  const out: string[] = [];
  if (reason === 'negative_sentiment') out.push(REPLIES.apology);
  else if (reason === 'low_confidence') out.push(REPLIES.unsure);
  else out.push(REPLIES.hello);
  const topic = topicOf(intent);
  if (topic) out.push(REPLIES[topic]);
  else if (reason !== 'low_confidence') out.push(REPLIES.unsure);
  return [...new Set(out)].slice(0, 3);
}

/** The workflow input for a handoff. Pure. */
export function escalationInputFor(
  action: Extract<ChatAction, { kind: 'handoff' }>,
  record: ConversationRecord | undefined,
  deadlines: EscalationDeadlines,
  profileSummary?: ProfileSummary,
): EscalationInput {
  return {
    shopId: action.shopId,
    conversationId: action.conversationId,
    userId: action.userId,
    reason: action.reason,
    firstResponseDeadline: deadlines.firstResponseDeadline,
    resolutionDeadline: deadlines.resolutionDeadline,
    ...(profileSummary ? { profileSummary } : {}),
    transcript: transcriptOf(record),
    // the bot's own, from its understanding of the conversation; fixed lines when nobody gave any
    suggestedReplies:
      action.suggestions.length > 0 ? action.suggestions : suggestedReplies(action.reason, action.intent),
    requestedAt: action.at,
  };
}

/**
 * A profileOf backed by the interest processor's profiles: tier, behaviour tags, top long- and
 * short-term interests (catalog feature names), order count. `known: false` for a user with no profile.
 */
export function profileSummaryFromProfiles(
  store: ProfileStore,
  catalog: Catalog,
  halfLives: HalfLives,
  tiers: Config['tiers'],
) {
  return async (shopId: string, user: string): Promise<ProfileSummary> => {
    const { state, revision } = await store.load(shopId, user);
    const now = Date.now();
    const seg = segment(state, now, tiers);
    return {
      known: revision > 0,
      tier: seg.tier,
      tags: seg.tags.map((t) => t.tag),
      topInterests: topInterests(state.long, now, halfLives.longMs, catalog, 5).map((i) => i.feature),
      recentInterests: topInterests(state.short, now, halfLives.shortMs, catalog, 3).map((i) => i.feature),
      orders: state.counters.orders,
    };
  };
}
