// The chat channels' hub: what every channel (web widget, app API, WeChat) shares. A user turn is
// checked (bounded text, conversation id, client message id), numbered and published as a chat_turn
// event (role user) through the producer; its event id is derived from the client's message id, so a
// client retry carries the same Nats-Msg-Id and JetStream keeps one turn. Replies arrive from the chat
// processor as core NATS JSON on the conversation's reply subject (processors/chat/processor.ts): one
// subscription per open conversation, shared by every socket and stream that listens to it (reference
// counted, unsubscribed when the last one leaves). The table of conversations is bounded
// (CHAT_MAX_OPEN_CONVERSATIONS): a conversation nobody listens to is forgotten first; when every entry
// has a listener, a new conversation is refused (503).
//
// Turn numbers: the hub numbers a conversation's user turns from the replies it has seen (a reply to
// turn n is n + 1), so they are right for a conversation that stays on one process; after a restart or
// on another instance a conversation starts again from 0 unless the client sends its own `turnIndex`
// (the larger wins). The bot orders turns by time; the index is for reading transcripts.
import type { NatsConnection, Subscription } from 'nats';
import type { Config } from '../../infra/config';
import type { Logger } from '../../infra/logger';
import { channelValue, chatRoleValue, type EnvelopeInit } from '../../schemas/events';
import { USER_ID_RE } from '../../schemas/ids';
import { EventValidationError } from '../../schemas/validate';
import { eventIdFor } from '../collector/fields';
import { replySubject, type ReplyPayload } from '../processors/chat/processor';
import { PublishError, trackEnvelope } from '../producer/producer';

/** Longest user turn, in characters (code points), after control characters are stripped. */
export const MAX_TEXT_CHARS = 2000;
/** A conversation id: 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit. */
export const CONVERSATION_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** A client message id: 1 to 128 letters, digits, '.', '_', ':' or '-'. */
export const CLIENT_MSG_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;
/** Reply event ids remembered per conversation, to show a redelivered reply once. */
const SEEN_REPLIES = 32;
/** Client message ids remembered per conversation, so a retry keeps its turn number. */
const SEEN_MESSAGES = 32;

export type ChatChannel = 'web' | 'app' | 'mini_program' | 'social';

/** Who is chatting, as the channel's authentication established it. */
export interface Identity {
  shopId: string;
  userId?: string;
  anonymousId?: string;
}

/** A refusal the channel shows its client: an HTTP status, a stable code, a sentence. */
export interface ChatError {
  status: number;
  code: string;
  message: string;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; error: ChatError };

const fail = (status: number, code: string, message: string): { ok: false; error: ChatError } => ({
  ok: false,
  error: { status, code, message },
});

// C0 controls except tab and newline, DEL, C1 controls, and lone surrogates (protobuf cannot carry them)
const CONTROL =
  /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** The text of a user turn: control characters stripped, CR LF as LF, trimmed; empty or too long refused. */
export function cleanText(raw: unknown): Checked<string> {
  if (typeof raw !== 'string') return fail(400, 'invalid_text', 'text must be a string');
  // a bound before the work: a huge string is refused without scanning it all
  if (raw.length > MAX_TEXT_CHARS * 4)
    return fail(400, 'text_too_long', `text is longer than ${MAX_TEXT_CHARS} characters`);
  const text = raw.replace(/\r\n?/g, '\n').replace(CONTROL, '').trim();
  if (text === '') return fail(400, 'empty_text', 'text is empty: say something');
  let chars = 0;
  for (const _ of text) chars++;
  if (chars > MAX_TEXT_CHARS)
    return fail(400, 'text_too_long', `text is ${chars} characters; at most ${MAX_TEXT_CHARS} are accepted`);
  return { ok: true, value: text };
}

export function checkConversationId(raw: unknown): Checked<string> {
  if (typeof raw !== 'string' || raw === '')
    return fail(400, 'missing_conversation', 'a conversation id is required (conversation / conversationId)');
  if (!CONVERSATION_ID_RE.test(raw))
    return fail(
      400,
      'invalid_conversation',
      "the conversation id must be 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit",
    );
  return { ok: true, value: raw };
}

export interface SayInput {
  identity: Identity;
  channel: ChatChannel;
  conversationId: unknown;
  text: unknown;
  /** The client's id for this message: a retry with the same id is the same turn (one event). */
  clientMsgId?: unknown;
  /** The product page the user chats from. */
  productId?: unknown;
  /** The client's own turn number, when it keeps one. */
  turnIndex?: unknown;
}

export interface CheckedSay {
  conversationId: string;
  text: string;
  clientMsgId?: string;
  productId?: string;
  turnIndex?: number;
}

/** Checks a user turn's fields. Pure. */
export function checkSay(input: SayInput): Checked<CheckedSay> {
  const conversation = checkConversationId(input.conversationId);
  if (!conversation.ok) return conversation;
  const text = cleanText(input.text);
  if (!text.ok) return text;
  const out: CheckedSay = { conversationId: conversation.value, text: text.value };
  const { clientMsgId, productId, turnIndex } = input;
  if (clientMsgId !== undefined && clientMsgId !== null && clientMsgId !== '') {
    if (typeof clientMsgId !== 'string' || !CLIENT_MSG_ID_RE.test(clientMsgId))
      return fail(
        400,
        'invalid_client_msg_id',
        "clientMsgId must be 1 to 128 letters, digits, '.', '_', ':' or '-'",
      );
    out.clientMsgId = clientMsgId;
  }
  if (productId !== undefined && productId !== null && productId !== '') {
    if (typeof productId !== 'string' || productId.length > 128 || !USER_ID_RE.test(productId))
      return fail(400, 'invalid_product_id', 'productId must be 1 to 128 letters, digits or . _ @ + = | -');
    out.productId = productId;
  }
  if (turnIndex !== undefined && turnIndex !== null) {
    if (typeof turnIndex !== 'number' || !Number.isInteger(turnIndex) || turnIndex < 0 || turnIndex > 1e9)
      return fail(400, 'invalid_turn_index', 'turnIndex must be a whole number from 0 to 1000000000');
    out.turnIndex = turnIndex;
  }
  return { ok: true, value: out };
}

/** Checks what arrived on a reply subject; undefined when it is not a reply. Pure. */
export function parseReply(data: Uint8Array): ReplyPayload | undefined {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const r = v as Record<string, unknown>;
  if (
    typeof r['conversationId'] !== 'string' ||
    typeof r['eventId'] !== 'string' ||
    typeof r['text'] !== 'string' ||
    typeof r['turnIndex'] !== 'number' ||
    typeof r['at'] !== 'string'
  )
    return undefined;
  return v as ReplyPayload;
}

export type SayResult =
  { ok: true; eventId: string; turnIndex: number; duplicate: boolean } | { ok: false; error: ChatError };

export type ReplyListener = (reply: ReplyPayload) => void;

export interface HubStats {
  conversations: number;
  subscriptions: number;
  listeners: number;
  turns: number;
  duplicates: number;
  refused: number;
  replies: number;
  publishFailures: number;
}

export interface ChatHub {
  /** Checks, numbers and publishes a user turn. */
  say(input: SayInput): Promise<SayResult>;
  /**
   * Calls `onReply` with each new reply of the conversation until the returned function is called.
   * Refused (503) when the process has CHAT_MAX_OPEN_CONVERSATIONS conversations with listeners.
   */
  listen(shopId: string, conversationId: string, onReply: ReplyListener): Checked<() => void>;
  /** The conversation's last replies this process has seen (at most 32), oldest first. */
  recentReplies(shopId: string, conversationId: string): readonly ReplyPayload[];
  stats(): HubStats;
  /** Unsubscribes everything. */
  close(): void;
}

export interface ChatHubDeps {
  nc: NatsConnection;
  prefix: string;
  config: Pick<Config['chatChannels'], 'maxConversations' | 'rateLimit' | 'rateBurst'>;
  /** The producer's publish (the collector's): resolves when JetStream has the event. */
  publish(envelope: EnvelopeInit): Promise<{ eventId: string; duplicate: boolean }>;
  logger: Logger;
  now?: () => number;
}

interface Conversation {
  shopId: string;
  conversationId: string;
  lastTurn: number;
  listeners: Set<ReplyListener>;
  sub?: Subscription;
  /** The last replies shown (a redelivered reply is dropped; a resent WeChat message finds its answer). */
  replies: ReplyPayload[];
  /** clientMsgId -> turn index */
  messages: Map<string, number>;
  tokens: number;
  tokensAt: number;
}

export function createChatHub(deps: ChatHubDeps): ChatHub {
  const { nc, prefix, config, logger } = deps;
  const now = deps.now ?? Date.now;
  const table = new Map<string, Conversation>();
  const stats = { turns: 0, duplicates: 0, refused: 0, replies: 0, publishFailures: 0 };
  let sequence = 0;

  /** The conversation's entry, made most recently used; undefined when the table is full of listened ones. */
  function entry(shopId: string, conversationId: string): Conversation | undefined {
    const key = `${shopId}\u0000${conversationId}`;
    const found = table.get(key);
    if (found) {
      table.delete(key);
      table.set(key, found);
      return found;
    }
    if (table.size >= config.maxConversations) {
      // the least recently used conversation nobody listens to makes room
      let evicted = false;
      for (const [k, c] of table)
        if (c.listeners.size === 0) {
          table.delete(k);
          evicted = true;
          break;
        }
      if (!evicted) return undefined;
    }
    const c: Conversation = {
      shopId,
      conversationId,
      lastTurn: -1,
      listeners: new Set(),
      replies: [],
      messages: new Map(),
      tokens: config.rateBurst,
      tokensAt: now(),
    };
    table.set(key, c);
    return c;
  }

  const full = (): { ok: false; error: ChatError } => {
    stats.refused++;
    logger.warn({ conversations: table.size }, 'chat channels at their limit of open conversations');
    return fail(
      503,
      'too_many_conversations',
      'this server has its limit of open conversations (CHAT_MAX_OPEN_CONVERSATIONS); retry later',
    );
  };

  /** Takes a token of the conversation's bucket; the seconds to wait when there is none. */
  function take(c: Conversation): number {
    if (config.rateLimit <= 0) return 0;
    const t = now();
    c.tokens = Math.min(config.rateBurst, c.tokens + ((t - c.tokensAt) / 1000) * config.rateLimit);
    c.tokensAt = t;
    if (c.tokens >= 1) {
      c.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - c.tokens) / config.rateLimit));
  }

  function deliver(c: Conversation, data: Uint8Array): void {
    const reply = parseReply(data);
    if (!reply || reply.conversationId !== c.conversationId) {
      logger.warn({ shopId: c.shopId }, 'chat channels: a reply that is not one; ignored');
      return;
    }
    if (c.replies.some((r) => r.eventId === reply.eventId)) return; // a redelivered turn's reply, already shown
    c.replies.push(reply);
    if (c.replies.length > SEEN_REPLIES) c.replies.shift();
    c.lastTurn = Math.max(c.lastTurn, reply.turnIndex);
    stats.replies++;
    for (const l of [...c.listeners]) {
      try {
        l(reply);
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'chat channels: a listener failed');
      }
    }
  }

  return {
    async say(input) {
      const checked = checkSay(input);
      if (!checked.ok) return checked;
      const s = checked.value;
      const { identity, channel } = input;
      const c = entry(identity.shopId, s.conversationId);
      if (!c) return full();
      const wait = take(c);
      if (wait > 0) {
        stats.refused++;
        return fail(
          429,
          'rate_limited',
          `a conversation may send ${config.rateLimit} messages per second; retry after ${wait} s`,
        );
      }
      // a retry keeps its number; a new turn follows the last turn seen
      const known = s.clientMsgId === undefined ? undefined : c.messages.get(s.clientMsgId);
      const turnIndex = known ?? Math.max(c.lastTurn + 1, s.turnIndex ?? 0);
      const eventId = eventIdFor(
        s.clientMsgId === undefined ? undefined : `chat\u0000${s.conversationId}\u0000${s.clientMsgId}`,
        identity.shopId,
      );
      const envelope = trackEnvelope(
        'chat_turn',
        {
          ...(identity.userId ? { userId: identity.userId } : { anonymousId: identity.anonymousId ?? '' }),
          channel,
          eventId,
          properties: {
            conversationId: s.conversationId,
            role: chatRoleValue('user'),
            text: s.text,
            channel: channelValue(channel),
            turnIndex,
            ...(s.productId ? { productId: s.productId } : {}),
          },
        },
        { shopId: identity.shopId, producerId: 'chat-channels', sequence: ++sequence },
      );
      try {
        const receipt = await deps.publish(envelope);
        c.lastTurn = Math.max(c.lastTurn, turnIndex);
        if (s.clientMsgId !== undefined && known === undefined) {
          c.messages.set(s.clientMsgId, turnIndex);
          if (c.messages.size > SEEN_MESSAGES) c.messages.delete(c.messages.keys().next().value!);
        }
        stats.turns++;
        if (receipt.duplicate) stats.duplicates++;
        return { ok: true, eventId: receipt.eventId, turnIndex, duplicate: receipt.duplicate };
      } catch (err) {
        if (err instanceof EventValidationError)
          return fail(
            400,
            'invalid_turn',
            err.issues.map((i) => `${i.path}: ${i.message}`).join('; ') || err.message,
          );
        stats.publishFailures++;
        const code = err instanceof PublishError ? err.code : 'PUBLISH_FAILED';
        logger.warn({ shopId: identity.shopId, code }, 'chat channels: a user turn could not be published');
        return fail(503, 'unavailable', 'the message could not be stored right now; send it again later');
      }
    },

    listen(shopId, conversationId, onReply) {
      const c = entry(shopId, conversationId);
      if (!c) return full();
      c.listeners.add(onReply);
      c.sub ??= nc.subscribe(replySubject(prefix, shopId, conversationId), {
        callback: (err, m) => {
          if (err) logger.warn({ err: err.message }, 'chat channels: reply subscription failed');
          else deliver(c, m.data);
        },
      });
      let left = false;
      return {
        ok: true,
        value: () => {
          if (left) return;
          left = true;
          c.listeners.delete(onReply);
          if (c.listeners.size === 0 && c.sub) {
            c.sub.unsubscribe();
            delete c.sub;
          }
        },
      };
    },

    recentReplies(shopId, conversationId) {
      return [...(table.get(`${shopId}\u0000${conversationId}`)?.replies ?? [])];
    },

    stats() {
      let subscriptions = 0;
      let listeners = 0;
      for (const c of table.values()) {
        if (c.sub) subscriptions++;
        listeners += c.listeners.size;
      }
      return { conversations: table.size, subscriptions, listeners, ...stats };
    },

    close() {
      for (const c of table.values()) {
        c.sub?.unsubscribe();
        delete c.sub;
        c.listeners.clear();
      }
      table.clear();
    },
  };
}
