// The chat processor's step: one chat or desk event applied to its user's bot state. A user turn is
// understood (bot/nlu), handled (bot/dialogue/turn.ts) and its reply stored in the state's outbox with
// compare-and-set BEFORE anything is published; then the outbox is published: the reply as a
// chat_turn event (role bot, JetStream, its event id derived from the user turn's), the handoff if
// any, and the reply on the conversation's reply subject for the channels. A redelivered turn finds
// its reply in the outbox and publishes the same events again (JetStream drops them as duplicates;
// channels drop a reply whose event id they have shown), so a user turn never gets two replies.
// Agent turns and desk events (handoff, agent accepted, closed) move the conversation's escalation:
// while a human has it, the bot does not answer the user and refreshes the agent's suggestions.
import type { KV } from 'nats';
import type { BotPorts, Understood } from '../../../bot/dialogue/ports';
import type { ReplyMeta } from '../../../bot/dialogue/reply';
import {
  addTurn,
  decodeState,
  emptyState,
  encodeState,
  findConversation,
  newConversation,
  withConversation,
  type BotState,
  type Escalation,
  type OutboxReply,
} from '../../../bot/dialogue/state';
import { handleUserTurn, type Handoff, type UserTurn } from '../../../bot/dialogue/turn';
import { isKvConflict } from '../../../infra/nats';
import { kvKey } from '../../../schemas/kv-keys';
import {
  SCHEMA_VERSION,
  channelName,
  chatRoleName,
  type Envelope,
  type EnvelopeInit,
  type EventType,
} from '../../../schemas/events';
import { validateEnvelope } from '../../../schemas/validate';
import { drop, ok, type StepResult } from '../../results';
import { userKey } from '../../topology';

/** The producer id of the bot's events (its replies and handoffs). */
export const BOT_PRODUCER = 'shopstream-bot';

/** The event types the chat processor consumes. */
export const CHAT_EVENT_TYPES = [
  'chat_turn',
  'handoff_requested',
  'agent_accepted',
  'conversation_closed',
] as const satisfies readonly EventType[];

/** What the processor publishes; the component wires it to the producer and the reply subjects. */
export interface ChatOutput {
  /** A bot chat_turn or a handoff_requested event, awaiting JetStream's ack. */
  event(envelope: EnvelopeInit): Promise<void>;
  /** The reply on the conversation's reply subject (core NATS: best effort, the event is the record). */
  reply(shopId: string, userId: string, conversationId: string, reply: OutboxReply, turnIndex: number): void;
  /** The agent's refreshed suggestions while a human has the conversation. */
  assist(shopId: string, conversationId: string, suggestions: string[]): void;
}

export interface ChatDeps {
  kv: KV;
  understand(text: string): Understood;
  ports: BotPorts;
  out: ChatOutput;
  now?: () => number;
  /** Compare-and-set attempts before the event is retried later. Default 5. */
  casAttempts?: number;
}

export type ChatEffect = 'replied' | 'replayed' | 'assisted' | 'recorded' | 'ignored';

export const botStateKey = (shopId: string, userId: string): string => kvKey(shopId, userId);

export class ChatCasError extends Error {
  override readonly name = 'ChatCasError';
}

async function load(
  kv: KV,
  key: string,
  shopId: string,
  userId: string,
): Promise<{ state: BotState; rev: number }> {
  const e = await kv.get(key);
  if (!e || e.operation !== 'PUT') return { state: emptyState(shopId, userId), rev: e?.revision ?? 0 };
  return { state: decodeState(e.value) ?? emptyState(shopId, userId), rev: e.revision };
}

async function save(kv: KV, key: string, state: BotState, rev: number): Promise<boolean> {
  try {
    if (rev === 0) await kv.create(key, encodeState(state));
    else await kv.update(key, encodeState(state), rev);
    return true;
  } catch (err) {
    if (isKvConflict(err)) return false;
    throw err;
  }
}

/** Loads, changes and writes a user's state with compare-and-set, reloading on a lost race. */
async function withState<T>(
  deps: ChatDeps,
  shopId: string,
  userId: string,
  change: (s: BotState) => Promise<{ next?: BotState; result: T }>,
): Promise<T> {
  const key = botStateKey(shopId, userId);
  for (let attempt = 0; attempt < (deps.casAttempts ?? 5); attempt++) {
    const { state, rev } = await load(deps.kv, key, shopId, userId);
    const { next, result } = await change(state);
    if (!next || (await save(deps.kv, key, next, rev))) return result;
  }
  throw new ChatCasError(`bot state of a user kept changing under ${deps.casAttempts ?? 5} attempts`);
}

function botTurnEnvelope(
  e: Envelope,
  reply: OutboxReply,
  turnIndex: number,
  latencyMs: number,
): EnvelopeInit {
  const m: ReplyMeta = reply.meta;
  return {
    eventId: reply.replyEventId,
    schemaVersion: SCHEMA_VERSION,
    producerId: BOT_PRODUCER,
    shopId: e.shopId,
    ...(e.userId ? { userId: e.userId } : { anonymousId: e.anonymousId ?? '' }),
    occurredAt: reply.at,
    channel: e.channel ?? 0,
    chatTurn: {
      conversationId: e.chatTurn!.conversationId,
      role: 2, // CHAT_ROLE_BOT
      text: reply.text,
      channel: e.chatTurn!.channel ?? 0,
      turnIndex: turnIndex + 1,
      intent: m.intent,
      confidence: m.confidence,
      sentiment: m.sentiment,
      answered: m.answered,
      kbEntry: m.kbEntry ?? '',
      kbVersion: m.kbVersion ?? '',
      replyTo: reply.turnEventId,
      latencyMs: Math.max(0, Math.min(latencyMs, 2 ** 32 - 1)),
    },
  };
}

function handoffEnvelope(e: Envelope, reply: OutboxReply, h: Handoff | undefined): EnvelopeInit {
  return {
    eventId: reply.handoffEventId!,
    schemaVersion: SCHEMA_VERSION,
    producerId: BOT_PRODUCER,
    shopId: e.shopId,
    ...(e.userId ? { userId: e.userId } : { anonymousId: e.anonymousId ?? '' }),
    occurredAt: reply.at,
    channel: e.channel ?? 0,
    handoffRequested: {
      conversationId: e.chatTurn!.conversationId,
      reason: reply.meta.handoff!,
      confidence: reply.meta.confidence,
      intent: reply.meta.intent,
      turnIndex: e.chatTurn!.turnIndex ?? 0,
      suggestedReplies: h?.suggestions ?? [],
    },
  };
}

/** The escalation a desk event or an agent turn moves the conversation to. */
function escalationAfter(type: EventType, e: Envelope): Escalation | undefined {
  if (type === 'handoff_requested') return 'requested';
  if (type === 'agent_accepted') return 'agent';
  if (type === 'conversation_closed') return 'closed';
  if (type === 'chat_turn' && chatRoleName(e.chatTurn?.role) === 'agent') return 'agent';
  return undefined;
}

/**
 * Applies one event. `streamTime` is when it reached JetStream (the server's clock): the reply's
 * latency counts from there. Returns drop for events it does not act on (they are acked).
 */
export async function handleChatEvent(
  deps: ChatDeps,
  envelope: Envelope,
  type: EventType,
  streamTime: number,
): Promise<StepResult<ChatEffect>> {
  const now = deps.now ?? Date.now;
  const userId = userKey(envelope);
  if (!userId) return drop('no user id');
  // an invalid event is the sink's to dead-letter; the bot does not act on it
  try {
    validateEnvelope(envelope);
  } catch {
    return drop('invalid event');
  }
  const shopId = envelope.shopId;
  const t = envelope.chatTurn;
  const role = t ? chatRoleName(t.role) : undefined;
  if (type === 'chat_turn' && role === 'user') {
    const turn: UserTurn = {
      eventId: envelope.eventId,
      conversationId: t!.conversationId ?? '',
      channel: channelName(t!.channel ?? envelope.channel),
      text: t!.text ?? '',
      at: Number(envelope.occurredAt),
      turnIndex: t!.turnIndex ?? 0,
      ...(t!.productId ? { sku: t!.productId } : {}),
    };
    const understood = deps.understand(turn.text);
    const outcome = await withState(deps, shopId, userId, async (s) => {
      const o = await handleUserTurn(s, turn, understood, deps.ports, now());
      return { ...(o.kind === 'replay' ? {} : { next: o.state }), result: o };
    });
    if (outcome.kind === 'assist') {
      deps.out.assist(shopId, turn.conversationId, outcome.suggestions);
      return ok('assisted');
    }
    const reply = outcome.reply;
    // the state (with the reply in its outbox) is durable: now the shopper's reply, at once (it waits
    // for no JetStream ack: 270 ms p99 under make bench's load), then the events, each again on a
    // redelivery (same event ids: JetStream drops the copies)
    deps.out.reply(shopId, userId, turn.conversationId, reply, turn.turnIndex + 1);
    await deps.out.event(botTurnEnvelope(envelope, reply, turn.turnIndex, reply.at - streamTime));
    if (reply.handoffEventId)
      await deps.out.event(
        handoffEnvelope(envelope, reply, outcome.kind === 'reply' ? outcome.handoff : undefined),
      );
    return ok(outcome.kind === 'replay' ? 'replayed' : 'replied');
  }
  if (type === 'chat_turn' && role !== 'agent') return drop(`a ${role ?? 'unknown'} turn`);
  const conversationId =
    t?.conversationId ||
    envelope.handoffRequested?.conversationId ||
    envelope.agentAccepted?.conversationId ||
    envelope.conversationClosed?.conversationId;
  const escalation = escalationAfter(type, envelope);
  if (!conversationId || !escalation) return drop(`${type} changes nothing`);
  await withState(deps, shopId, userId, (s) => {
    let conv =
      findConversation(s, conversationId) ??
      newConversation(conversationId, 'unspecified', Number(envelope.occurredAt));
    // a handoff the bot itself published finds the conversation already requested: nothing to write
    if (conv.escalation === escalation && role !== 'agent') return Promise.resolve({ result: undefined });
    if (!(conv.escalation === 'agent' && escalation === 'requested')) conv = { ...conv, escalation };
    if (role === 'agent') conv = addTurn(conv, 'agent', t!.text ?? '', Number(envelope.occurredAt));
    return Promise.resolve({ next: withConversation(s, conv), result: undefined });
  });
  return ok('recorded');
}
