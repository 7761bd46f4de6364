// The chat bot on the stream: one durable consumer per partition (chat turns and the desk's events) on
// the shared consumer runner (streams/consumer/runner.ts): messages handled as they arrive (a turn
// must not wait for a batch to fill: the reply is due in well under a second), one user's events in
// stream order while users run in parallel, a bounded number in flight. Each event is applied by
// handle.ts; its typed result acks or dead-letters it, a throw is retried.
import type { NatsConnection } from 'nats';
import type { BotPorts, Understood } from '../../../bot/dialogue/ports';
import type { OutboxReply } from '../../../bot/dialogue/state';
import type { Config } from '../../../infra/config';
import type { Logger } from '../../../infra/logger';
import type { Metrics } from '../../../infra/metrics';
import { kvKeyPart } from '../../../schemas/kv-keys';
import type { LeaseGate } from '../../consumer/leases';
import { createRunner, type RunnerHealth } from '../../consumer/runner';
import { createProducer } from '../../producer/producer';
import { chatConsumer, names, parsePartitions } from '../../topology';
import { checkTopology } from '../../topology-apply';
import { handleChatEvent, type ChatEffect, type ChatOutput } from './handle';

/** Events handled at once per instance (across users; one user's stay in order). */
export const CHAT_IN_FLIGHT = 256;
/** Attempts of an event that keeps failing before it is dead-lettered (processing_failed). */
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
  health(): RunnerHealth;
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
  /** With several instances: consume only the consumers this one holds (streams/consumer/leases.ts). */
  leases?: LeaseGate;
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
  const runner = createRunner<ChatEffect>({
    nc,
    prefix,
    stream: n.eventsStream,
    consumers: partitions.map((p) => chatConsumer(p)),
    label: 'chat bot',
    logger,
    ...(deps.leases ? { leases: deps.leases } : {}),
    maxInFlight: CHAT_IN_FLIGHT,
    // what the partitions push ahead fits the window (16 x 16 = 256): a pushed turn never waits
    // outside it (64 each held 1,024 for a window of 256 under make bench's load)
    prefetch: Math.max(4, Math.ceil(CHAT_IN_FLIGHT / partitions.length)),
    maxAttempts: CHAT_MAX_ATTEMPTS,
    step: async (envelope, type, delivery) => {
      const r = await handleChatEvent(
        { kv, understand: (text) => deps.understand(text), ports: deps.ports, out },
        envelope,
        type,
        delivery.streamTime,
      );
      if (r.kind === 'ok' && r.value === 'replied')
        metrics?.chatReplySeconds.observe(Math.max(0, Date.now() - delivery.streamTime) / 1000);
      return r;
    },
    observe: (outcome) => metrics?.chatTurns.inc({ outcome: outcome === 'dropped' ? 'ignored' : outcome }),
  });

  return {
    run: () => runner.run(),
    async stop() {
      await runner.stop();
      await producer.close();
    },
    stats: () => {
      const c = runner.counts();
      return {
        events: c.events,
        replied: c.replied ?? 0,
        replayed: c.replayed ?? 0,
        assisted: c.assisted ?? 0,
        recorded: c.recorded ?? 0,
        ignored: (c.ignored ?? 0) + (c.dropped ?? 0),
        deadLettered: c.dead_lettered ?? 0,
        failures: c.failed ?? 0,
      };
    },
    health: () => runner.health(),
  };
}
