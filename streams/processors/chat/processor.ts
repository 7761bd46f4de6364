// The chat bot on the stream: one durable consumer per partition (chat turns and the desk's events),
// messages handled as they arrive (a turn must not wait for a batch to fill: the reply is due in well
// under a second), one user's events in stream order while users run in parallel, a bounded number
// in flight. Each event is applied by handle.ts; its result acks, dead-letters or naks it.
import type { ConsumerMessages, JsMsg, NatsConnection } from 'nats';
import type { BotPorts, Understood } from '../../../bot/dialogue/ports';
import type { OutboxReply } from '../../../bot/dialogue/state';
import type { Config } from '../../../infra/config';
import type { Logger } from '../../../infra/logger';
import type { Metrics } from '../../../infra/metrics';
import { decodeEnvelope } from '../../../schemas/codec';
import { kvKeyPart } from '../../../schemas/kv-keys';
import { publishDeadLetter } from '../../dlq';
import { createProducer } from '../../producer/producer';
import { chatConsumer, checkTopology, names, parsePartitions, userKey } from '../../topology';
import { handleChatEvent, type ChatEffect, type ChatOutput } from './handle';

/** Events handled at once per instance (across users; one user's stay in order). */
export const CHAT_IN_FLIGHT = 256;
/** Deliveries of an event that keeps failing before it is dead-lettered (processing_failed). */
export const CHAT_MAX_ATTEMPTS = 5;

export interface ChatStats {
  events: number;
  replied: number;
  replayed: number;
  assisted: number;
  recorded: number;
  ignored: number;
  deadLettered: number;
  failures: number;
}

export interface ChatProcessor {
  run(): Promise<void>;
  stop(): Promise<void>;
  stats(): ChatStats;
  health(): { state: 'running' | 'stopped'; inFlight: number; lastProgressAt?: string; lastError?: string };
}

/** What a channel receives on a conversation's reply subject. */
export interface ReplyPayload {
  conversationId: string;
  eventId: string;
  role: 'bot';
  text: string;
  turnIndex: number;
  at: string;
  meta: OutboxReply['meta'];
}

export function replySubject(prefix: string, shopId: string, conversationId: string): string {
  return `${prefix}.chat.reply.${kvKeyPart(shopId)}.${kvKeyPart(conversationId)}`;
}

export function assistSubject(prefix: string, shopId: string, conversationId: string): string {
  return `${prefix}.chat.assist.${kvKeyPart(shopId)}.${kvKeyPart(conversationId)}`;
}

export async function createChatProcessor(deps: {
  nc: NatsConnection;
  config: Config;
  logger: Logger;
  understand(text: string): Understood;
  ports: BotPorts;
  metrics?: Metrics;
  /** Defaults to every partition. */
  partitions?: number[];
}): Promise<ChatProcessor> {
  const { nc, config, logger, metrics } = deps;
  const prefix = config.nats.prefix;
  const n = names(prefix);
  const partitions = deps.partitions ?? parsePartitions('all', config.nats.partitions);
  await checkTopology(await nc.jetstreamManager(), config, {
    consumers: partitions.map((p) => ({ stream: n.eventsStream, name: chatConsumer(p) })),
    buckets: [n.botBucket],
  });
  const js = nc.jetstream();
  const kv = await js.views.kv(n.botBucket, { bindOnly: true });
  const producer = await createProducer({
    nats: config.nats,
    shopId: '',
    producerId: 'shopstream-bot',
    connection: nc,
  });
  const enc = new TextEncoder();
  const out: ChatOutput = {
    event: async (envelope) => {
      await producer.publish(envelope);
    },
    reply(shopId, _userId, conversationId, reply, turnIndex) {
      const payload: ReplyPayload = {
        conversationId,
        eventId: reply.replyEventId,
        role: 'bot',
        text: reply.text,
        turnIndex,
        at: new Date(reply.at).toISOString(),
        meta: reply.meta,
      };
      nc.publish(replySubject(prefix, shopId, conversationId), enc.encode(JSON.stringify(payload)));
    },
    assist(shopId, conversationId, suggestions) {
      nc.publish(
        assistSubject(prefix, shopId, conversationId),
        enc.encode(JSON.stringify({ conversationId, suggestions })),
      );
    },
  };
  const stats: ChatStats = {
    events: 0,
    replied: 0,
    replayed: 0,
    assisted: 0,
    recorded: 0,
    ignored: 0,
    deadLettered: 0,
    failures: 0,
  };
  let stopping = false;
  let inFlight = 0;
  let lastProgressAt: number | undefined;
  let lastError: string | undefined;
  const chains = new Map<string, Promise<void>>();
  const subs = new Set<ConsumerMessages>();
  const waiters: (() => void)[] = [];

  const count = (effect: ChatEffect | 'deadLettered' | 'failures'): void => {
    stats[effect]++;
    metrics?.chatTurns.inc({
      outcome: effect === 'deadLettered' ? 'dead_lettered' : effect === 'failures' ? 'failed' : effect,
    });
  };

  async function deadLetter(
    m: JsMsg,
    detail: string,
    reason: 'processing_failed' | 'invalid_event',
  ): Promise<void> {
    await publishDeadLetter(js, prefix, {
      reason,
      detail: `chat bot: ${detail}`,
      data: m.data,
      sourceSubject: m.subject,
      sourceSequence: m.seq,
      msgId: `chat:${m.seq}`,
    });
    count('deadLettered');
  }

  async function process(m: JsMsg): Promise<void> {
    stats.events++;
    const d = decodeEnvelope(m.data);
    if (!d.ok) {
      count('ignored'); // the sink dead-letters what does not decode
      m.ack();
      return;
    }
    const streamTime = Math.floor(m.info.timestampNanos / 1e6);
    try {
      const r = await handleChatEvent(
        { kv, understand: (text) => deps.understand(text), ports: deps.ports, out },
        d.envelope,
        d.type,
        streamTime,
      );
      if (r.kind === 'ok') {
        count(r.value);
        if (r.value === 'replied')
          metrics?.chatReplySeconds.observe(Math.max(0, Date.now() - streamTime) / 1000);
      } else if (r.kind === 'drop') count('ignored');
      else
        await deadLetter(m, r.detail, r.reason === 'invalid_event' ? 'invalid_event' : 'processing_failed');
      m.ack();
      lastProgressAt = Date.now();
    } catch (err) {
      count('failures');
      lastError = (err as Error).message;
      if (m.info.redeliveryCount >= CHAT_MAX_ATTEMPTS) {
        logger.error(
          { err: lastError, subject: m.subject, seq: m.seq },
          'chat bot: event keeps failing; dead-lettered',
        );
        await deadLetter(m, `failed ${m.info.redeliveryCount} times: ${lastError}`, 'processing_failed');
        m.ack();
      } else {
        logger.warn({ err: lastError, subject: m.subject, seq: m.seq }, 'chat bot: event failed; retried');
        m.nak(Math.min(10_000, 500 * 2 ** m.info.redeliveryCount));
      }
    }
  }

  /** Queues a message behind its user's earlier ones; waits while the in-flight window is full. */
  async function dispatch(m: JsMsg): Promise<void> {
    while (inFlight >= CHAT_IN_FLIGHT) await new Promise<void>((r) => waiters.push(r));
    const d = decodeEnvelope(m.data);
    const key = d.ok ? `${d.envelope.shopId}\u0000${userKey(d.envelope)}` : `\u0000${m.seq}`;
    inFlight++;
    const next = (chains.get(key) ?? Promise.resolve())
      .then(() => process(m))
      .catch((err: unknown) => {
        lastError = (err as Error).message;
        logger.error({ err: lastError }, 'chat bot: dispatch failed');
      })
      .finally(() => {
        inFlight--;
        if (chains.get(key) === next) chains.delete(key);
        waiters.shift()?.();
      });
    chains.set(key, next);
  }

  async function runPartition(p: number): Promise<void> {
    const consumer = await js.consumers.get(n.eventsStream, chatConsumer(p));
    while (!stopping) {
      try {
        const messages = await consumer.consume({ max_messages: 64 });
        subs.add(messages);
        try {
          for await (const m of messages) {
            if (stopping) break; // not acked: redelivered to the next instance
            await dispatch(m);
          }
        } finally {
          subs.delete(messages);
        }
      } catch (err) {
        if (stopping) break;
        lastError = (err as Error).message;
        logger.warn({ err: lastError, partition: p }, 'chat bot: consume failed; retrying');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  let loop: Promise<void> | undefined;
  return {
    run: () => (loop ??= Promise.all(partitions.map((p) => runPartition(p))).then(() => undefined)),
    async stop() {
      stopping = true;
      for (const s of subs) s.stop();
      await loop;
      await Promise.allSettled([...chains.values()]);
      await producer.close();
    },
    stats: () => ({ ...stats }),
    health: () => ({
      state: stopping ? 'stopped' : 'running',
      inFlight,
      ...(lastProgressAt ? { lastProgressAt: new Date(lastProgressAt).toISOString() } : {}),
      ...(lastError ? { lastError } : {}),
    }),
  };
}
