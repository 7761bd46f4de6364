// Dialogue state: what the bot remembers of one user, across conversations and channels. One record
// per shop and user (the chat processor's KV bucket), written with compare-and-set; the processor
// applies one user's turns in stream order, so the record is the only memory a turn needs.
//
// Two kinds of memory with different lifetimes:
// - the user's slots (size, height and weight, shoe size, budget): facts about the person, kept for
//   USER_SLOT_TTL_MS across conversations and channels: asked once, never again;
// - a conversation's slots (the order, the product in focus): facts about one question, kept for
//   CONVERSATION_SLOT_TTL_MS and dropped when the user moves on ("my other order", a new order id),
//   so one order's details never answer a question about another.
//
// Idempotency: each handled user turn is kept (bounded) with the reply the bot made for it, an
// outbox: a redelivered turn finds its reply here and the processor publishes the same reply again
// (same event id: JetStream drops the copy) instead of answering twice.
import type { ReplyMeta } from './reply';

export type Lang = 'zh' | 'en';

/** A remembered value: what the user wrote, and when. */
export interface Remembered<T> {
  value: T;
  /** As the user wrote it ("SF1234567890", "XL", "175cm 70kg"). */
  raw: string;
  /** Epoch ms of the turn that gave it. */
  at: number;
}

export interface UserSlots {
  size?: Remembered<string>;
  shoeSize?: Remembered<string>;
  heightCm?: Remembered<number>;
  weightKg?: Remembered<number>;
  /** Budget ceiling in the shop's minor units. */
  budgetMinor?: Remembered<number>;
}

export interface ConversationSlots {
  orderId?: Remembered<string>;
  /** The catalog sku discussed. */
  sku?: Remembered<string>;
  /** The catalog category discussed. */
  category?: Remembered<string>;
}

/** The reply made for one user turn: published, or still to publish (the outbox). */
export interface OutboxReply {
  /** The user turn's event id. */
  turnEventId: string;
  /** The reply's event id: derived from the user turn's, so a retry is one event. */
  replyEventId: string;
  text: string;
  meta: ReplyMeta;
  /** A handoff the reply started: its event id (deterministic as well). */
  handoffEventId?: string;
  at: number;
}

export type Escalation = 'none' | 'requested' | 'agent' | 'closed';

export interface ConversationState {
  id: string;
  channel: string;
  startedAt: number;
  lastTurnAt: number;
  slots: ConversationSlots;
  /** Low-confidence turns in a row: two start a handoff. */
  lowConfidenceStreak: number;
  escalation: Escalation;
  /** The slot the bot asked for in its last reply, so a bare "A123" answers it. */
  asked?: 'order_id' | 'size' | 'product';
  /** The intent of the last answered question (a bare slot answers it). */
  lastIntent?: string;
  /** The user turn index last applied (the per-conversation watermark). */
  lastTurnIndex: number;
  /** The conversation's turns for history on any channel (bounded). */
  turns: { role: 'user' | 'bot' | 'agent'; text: string; at: number }[];
}

export interface BotState {
  v: 1;
  shopId: string;
  userId: string;
  lang?: Lang;
  slots: UserSlots;
  /** Open and recent conversations, newest last (bounded). */
  conversations: ConversationState[];
  /** Replies for the last handled user turns, newest last (bounded): the outbox and the dedup set. */
  handled: OutboxReply[];
}

export const USER_SLOT_TTL_MS = 180 * 24 * 3600_000;
export const CONVERSATION_SLOT_TTL_MS = 30 * 60_000;
export const MAX_CONVERSATIONS = 5;
export const MAX_HANDLED = 50;
export const MAX_TURNS = 20;
/** A turn's text as kept in history. */
export const MAX_TURN_TEXT = 1000;
/** A stored state larger than this is trimmed (old turns first), never refused. */
export const MAX_STATE_BYTES = 64 * 1024;

export function emptyState(shopId: string, userId: string): BotState {
  return { v: 1, shopId, userId, slots: {}, conversations: [], handled: [] };
}

export function newConversation(id: string, channel: string, at: number): ConversationState {
  return {
    id,
    channel,
    startedAt: at,
    lastTurnAt: at,
    slots: {},
    lowConfidenceStreak: 0,
    escalation: 'none',
    lastTurnIndex: -1,
    turns: [],
  };
}

/** The reply already made for this user turn, if any. */
export function handledReply(state: BotState, turnEventId: string): OutboxReply | undefined {
  return state.handled.find((h) => h.turnEventId === turnEventId);
}

export function findConversation(state: BotState, id: string): ConversationState | undefined {
  return state.conversations.find((c) => c.id === id);
}

/** Slots past their lifetime, dropped (pure: returns new objects). */
export function expireSlots(state: BotState, now: number): BotState {
  const live = <T extends object>(slots: T, ttl: number): T =>
    Object.fromEntries(
      Object.entries(slots).filter(([, r]) => r && now - (r as Remembered<unknown>).at <= ttl),
    ) as T;
  return {
    ...state,
    slots: live(state.slots, USER_SLOT_TTL_MS),
    conversations: state.conversations.map((c) => ({
      ...c,
      slots: live(c.slots, CONVERSATION_SLOT_TTL_MS),
    })),
  };
}

/** The state with `conv` replacing its old copy (or added), newest last, bounded. */
export function withConversation(state: BotState, conv: ConversationState): BotState {
  const others = state.conversations.filter((c) => c.id !== conv.id);
  return { ...state, conversations: [...others, conv].slice(-MAX_CONVERSATIONS) };
}

export function withHandled(state: BotState, reply: OutboxReply): BotState {
  return { ...state, handled: [...state.handled, reply].slice(-MAX_HANDLED) };
}

export function addTurn(
  conv: ConversationState,
  role: 'user' | 'bot' | 'agent',
  text: string,
  at: number,
): ConversationState {
  const turn = { role, text: text.slice(0, MAX_TURN_TEXT), at };
  return { ...conv, turns: [...conv.turns, turn].slice(-MAX_TURNS) };
}

export function encodeState(state: BotState): Uint8Array {
  let s = state;
  let bytes = new TextEncoder().encode(JSON.stringify(s));
  // trim history, then replies, oldest first, until it fits: a state is never refused for its size
  while (bytes.length > MAX_STATE_BYTES) {
    const longest = s.conversations.reduce<ConversationState | undefined>(
      (a, c) => (c.turns.length > (a?.turns.length ?? 0) ? c : a),
      undefined,
    );
    if (longest && longest.turns.length > 2)
      s = withConversation(s, {
        ...longest,
        turns: longest.turns.slice(Math.ceil(longest.turns.length / 2)),
      });
    else if (s.handled.length > 1) s = { ...s, handled: s.handled.slice(Math.ceil(s.handled.length / 2)) };
    else if (s.conversations.length > 1) s = { ...s, conversations: s.conversations.slice(1) };
    else break;
    bytes = new TextEncoder().encode(JSON.stringify(s));
  }
  return bytes;
}

/** The stored state, or undefined when the bytes are not one (the caller starts afresh and says so). */
export function decodeState(bytes: Uint8Array): BotState | undefined {
  try {
    const s = JSON.parse(new TextDecoder().decode(bytes)) as Partial<BotState>;
    if (s?.v !== 1 || !Array.isArray(s.conversations) || !Array.isArray(s.handled) || !s.slots)
      return undefined;
    return s as BotState;
  } catch {
    return undefined;
  }
}
