// One user turn, start to finish, without I/O of its own: remember what the user said (slots), decide
// (answer, ask, hand over, or stay quiet while a human has the conversation), compose the reply in
// the user's language, and return the new state with the reply in its outbox. The chat processor
// (streams/processors/chat/) loads the state, calls this, writes the state with compare-and-set, then
// publishes what the outbox holds.
import { deriveEventId, ulidTime } from '../../schemas/ulid';
import { answerFor, kbAnswer, type Answer, type AnswerInput } from './answers';
import { suggestionsFor } from './assist';
import type { BotPorts, Understood } from './ports';
import type { HandoffReason, ReplyMeta } from './reply';
import {
  addTurn,
  expireSlots,
  findConversation,
  handledReply,
  newConversation,
  withConversation,
  withHandled,
  type BotState,
  type ConversationState,
  type Lang,
  type OutboxReply,
  type UserSlots,
} from './state';

export interface UserTurn {
  eventId: string;
  conversationId: string;
  channel: string;
  text: string;
  /** Epoch ms (the event's time). */
  at: number;
  turnIndex: number;
  /** The product page the user chats from, if the channel knows it. */
  sku?: string;
}

export type TurnOutcome =
  | { kind: 'reply'; state: BotState; reply: OutboxReply; handoff?: Handoff }
  /** Already handled: publish the stored reply again (same event ids), write nothing. */
  | { kind: 'replay'; reply: OutboxReply }
  /** A human has the conversation: no reply; the agent's suggestions are refreshed. */
  | { kind: 'assist'; state: BotState; suggestions: string[] };

export interface Handoff {
  reason: HandoffReason;
  intent: string;
  confidence: number;
  suggestions: string[];
}

/** Confidence below which an intent counts as not understood (the classifier's fallback is lower). */
export const LOW_CONFIDENCE = 0.5;

/** "my other order", "另一个订单": the user moves to another order; the remembered one must not answer. */
const OTHER_ORDER =
  /(another|other|different|second|2nd)\s+(order|parcel|package)|另(一|外)(个|一个)?(订单|单|包裹|快递)|其他(的)?(订单|包裹)|还有(一|个)(个)?(订单|单|包裹)/i;

export function replyLang(u: Understood, state: BotState): Lang {
  if (u.lang === 'en') return 'en';
  if (u.lang === 'zh' || u.lang === 'mixed') return 'zh';
  return state.lang ?? 'zh';
}

/** Slots from this turn into the user's and the conversation's memory. */
function remember(
  user: UserSlots,
  conv: ConversationState,
  u: Understood,
  turn: UserTurn,
  ports: BotPorts,
): { user: UserSlots; conv: ConversationState } {
  const at = turn.at;
  const s = u.slots;
  const nextUser: UserSlots = { ...user };
  if (s.size) nextUser.size = { value: s.size.toUpperCase(), raw: s.size, at };
  if (s.shoeSize) nextUser.shoeSize = { value: s.shoeSize, raw: s.shoeSize, at };
  if (s.heightCm) nextUser.heightCm = { value: s.heightCm, raw: String(s.heightCm), at };
  if (s.weightKg) nextUser.weightKg = { value: s.weightKg, raw: String(s.weightKg), at };
  if (s.budgetMinor) nextUser.budgetMinor = { value: s.budgetMinor, raw: String(s.budgetMinor), at };
  const slots = { ...conv.slots };
  if (s.orderId) slots.orderId = { value: s.orderId, raw: s.orderId, at };
  else if (OTHER_ORDER.test(turn.text)) delete slots.orderId;
  const named = ports.productsIn(turn.text)[0];
  const sku = named?.sku ?? turn.sku;
  if (sku && ports.product(sku)) {
    slots.sku = { value: sku, raw: sku, at };
    slots.category = { value: ports.product(sku)!.category, raw: sku, at };
  } else if (s.category) slots.category = { value: s.category, raw: s.category, at };
  return { user: nextUser, conv: { ...conv, slots } };
}

/** A bare answer to what the bot asked ("SF123...", "XL", "175 70") continues the asked-about intent. */
function effectiveIntent(
  u: Understood,
  conv: ConversationState,
  text: string,
): { intent: string; confidence: number } {
  const answersAsk =
    (conv.asked === 'order_id' && u.slots.orderId) ||
    (conv.asked === 'size' && (u.slots.size || u.slots.shoeSize || u.slots.heightCm || u.slots.weightKg));
  // "A1001", "xl", "175 70": little but the asked-for value itself
  const bare = text.replace(/[\s\p{P}]/gu, '').length <= 16 && !/\p{Script=Han}{3,}/u.test(text);
  const weak = u.intent === 'fallback' || u.confidence < LOW_CONFIDENCE || bare;
  if (answersAsk && conv.lastIntent && (weak || u.intent === conv.lastIntent))
    return { intent: conv.lastIntent, confidence: Math.max(u.confidence, LOW_CONFIDENCE) };
  return { intent: u.intent, confidence: u.confidence };
}

const HANDOFF_TEXT: Record<HandoffReason, Record<Lang, string>> = {
  explicit_request: {
    zh: '好的，正在为您转接人工客服，请稍等～',
    en: 'Sure, connecting you to a human agent now. One moment please.',
  },
  negative_sentiment: {
    zh: '非常抱歉给您带来不好的体验，我马上为您转接人工客服处理。',
    en: 'I am really sorry about this. I am handing you to a human agent right away.',
  },
  low_confidence: {
    zh: '抱歉我没能理解清楚，为您转接人工客服～',
    en: 'Sorry, I could not quite get that. Let me connect you with a human agent.',
  },
};

const FALLBACK_TEXT: Record<Lang, string> = {
  zh: '抱歉，我没太明白您的意思。可以换个说法吗？我可以帮您查订单、退换货、尺码、优惠券，或者输入“人工”转人工客服。',
  en: 'Sorry, I did not quite get that. Could you rephrase? I can track orders, help with returns, sizes and coupons, or type "agent" for a human.',
};

const CLOSED_TEXT: Record<Lang, string> = { zh: '', en: '' };

/** Handles one user turn. Pure but for the ports' reads. */
export async function handleUserTurn(
  state0: BotState,
  turn: UserTurn,
  u: Understood,
  ports: BotPorts,
  now: number,
): Promise<TurnOutcome> {
  const done = handledReply(state0, turn.eventId);
  if (done) return { kind: 'replay', reply: done };
  let state = expireSlots(state0, now);
  const lang = replyLang(u, state);
  state = { ...state, lang };
  const existing = findConversation(state, turn.conversationId);
  let conv = existing ?? newConversation(turn.conversationId, turn.channel, turn.at);
  // a turn in a conversation closed by the desk reopens it with the bot
  if (conv.escalation === 'closed') conv = { ...conv, escalation: 'none', lowConfidenceStreak: 0 };
  conv = { ...conv, channel: turn.channel, lastTurnAt: Math.max(conv.lastTurnAt, turn.at) };
  conv = { ...conv, lastTurnIndex: Math.max(conv.lastTurnIndex, turn.turnIndex) };
  const mem = remember(state.slots, conv, u, turn, ports);
  conv = addTurn(mem.conv, 'user', turn.text, turn.at);
  state = { ...state, slots: mem.user };
  const { intent, confidence } = effectiveIntent(u, conv, turn.text);
  const input: AnswerInput = {
    shopId: state.shopId,
    userId: state.userId,
    text: turn.text,
    intent,
    lang,
    user: state.slots,
    conv,
    ports,
    now,
  };

  if (conv.escalation === 'requested' || conv.escalation === 'agent') {
    state = withConversation(state, conv);
    return { kind: 'assist', state, suggestions: await suggestionsFor(input, u.sentiment.label) };
  }

  let handoffReason: HandoffReason | undefined;
  let answer: Answer | undefined;
  if (u.sentiment.label === 'angry') handoffReason = 'negative_sentiment';
  else if (intent === 'human_handoff') handoffReason = 'explicit_request';
  else if (intent === 'fallback' || confidence < LOW_CONFIDENCE) {
    // the knowledge base may still know: a confident entry answers
    answer = kbAnswer(input);
    if (!answer) {
      if (conv.lowConfidenceStreak + 1 >= 2) handoffReason = 'low_confidence';
      else answer = { text: FALLBACK_TEXT[lang], answered: false };
    }
  } else answer = (await answerFor(input)) ?? { text: FALLBACK_TEXT[lang], answered: false };

  const meta: ReplyMeta = {
    intent: u.intent === 'fallback' && intent !== 'fallback' ? intent : u.intent,
    confidence,
    sentiment: u.sentiment.label,
    answered: !handoffReason && (answer?.answered ?? false),
    lang,
    kbVersion: ports.kbVersion(),
  };
  let handoff: Handoff | undefined;
  let text: string;
  if (handoffReason) {
    text = HANDOFF_TEXT[handoffReason][lang];
    meta.handoff = handoffReason;
    handoff = {
      reason: handoffReason,
      intent,
      confidence,
      suggestions: await suggestionsFor(input, u.sentiment.label),
    };
    conv = { ...conv, escalation: 'requested', lowConfidenceStreak: 0 };
  } else {
    text = answer!.text || CLOSED_TEXT[lang];
    if (answer!.kbEntry) meta.kbEntry = answer!.kbEntry;
    if (answer!.asked) meta.asked = answer!.asked;
    const understood = intent !== 'fallback' && confidence >= LOW_CONFIDENCE;
    conv = {
      ...conv,
      lowConfidenceStreak: understood || answer!.answered ? 0 : conv.lowConfidenceStreak + 1,
      ...(understood ? { lastIntent: intent } : {}),
    };
    if (answer!.asked) conv.asked = answer!.asked;
    else delete conv.asked;
  }
  conv = addTurn(conv, 'bot', text, now);
  const reply: OutboxReply = {
    turnEventId: turn.eventId,
    replyEventId: replyEventId(turn.eventId),
    text,
    meta,
    at: now,
    ...(handoff ? { handoffEventId: handoffEventId(turn.eventId) } : {}),
  };
  state = withHandled(withConversation(state, conv), reply);
  return { kind: 'reply', state, reply, ...(handoff ? { handoff } : {}) };
}

/** The bot reply's event id for a user turn: the same on every redelivery (a ULID at the turn's time). */
export const replyEventId = (turnEventId: string): string =>
  deriveEventId(ulidTime(turnEventId), `bot-reply\n${turnEventId}`);
/** The handoff event's id for a user turn. */
export const handoffEventId = (turnEventId: string): string =>
  deriveEventId(ulidTime(turnEventId), `bot-handoff\n${turnEventId}`);
