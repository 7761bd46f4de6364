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
import { EventValidationError } from '../../schemas/validate';
import { eventIdFor } from '../collector/fields';
import { replySubject, type ReplyPayload } from '../processors/chat/processor';
import { PublishError, trackEnvelope } from '../producer/producer';
import { checkSay, fail, parseReply, type ChatError, type Checked, type SayInput } from './checks';

export {
  checkConversationId,
  checkSay,
  cleanText,
  CLIENT_MSG_ID_RE,
  CONVERSATION_ID_RE,
  MAX_TEXT_CHARS,
  parseReply,
  type ChatChannel,
  type ChatError,
  type Checked,
  type CheckedSay,
  type Identity,
  type SayInput,
} from './checks';

/** Reply event ids remembered per conversation, to show a redelivered reply once. */
const SEEN_REPLIES = 32;
/** Client message ids remembered per conversation, so a retry keeps its turn number. */
const SEEN_MESSAGES = 32;

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
