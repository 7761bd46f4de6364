// The chat channels as the pipeline mounts them (the collector's Fastify app, one hub, the collector's
// producer) on a throwaway NATS, and a stand-in for the bot: a consumer of the events stream that answers
// every user turn with "echo: <text>" on the conversation's reply subject (the real bot is the chat
// processor's). For test/int/channels.int.test.ts and widget.int.test.ts.
import type { AddressInfo } from 'node:net';
import type { ConsumerMessages, NatsConnection } from 'nats';
import type { Config } from '../../infra/config';
import { createLogger } from '../../infra/logger';
import { connectNats } from '../../infra/nats';
import { testConfig } from '../../infra/stack/test-config';
import { startTestNats } from '../../infra/stack/test-nats';
import { decodeEnvelope } from '../../schemas/codec';
import { chatRoleName } from '../../schemas/events';
import { createChatHub, type ChatHub } from '../../streams/channels/hub';
import { chatChannels } from '../../streams/channels/plugin';
import { buildCollector } from '../../streams/collector/server';
import { publishDeadLetter } from '../../streams/dlq';
import { replySubject, type ReplyPayload } from '../../streams/processors/chat/processor';
import { createProducer } from '../../streams/producer/producer';
import { names } from '../../streams/topology';
import { applyTopology } from '../../streams/topology-apply';

export interface ChatServer {
  /** host:port of the collector */
  base: string;
  nc: NatsConnection;
  config: Config;
  hub: ChatHub;
  startBot(): Promise<void>;
  stopBot(): Promise<void>;
  stop(): Promise<void>;
}

export async function startChatServer(env: Record<string, string>): Promise<ChatServer> {
  const logger = createLogger('silent', 'test');
  const nats = await startTestNats();
  const config = testConfig(nats.url, env);
  const nc = await connectNats(config.nats, 'channels-test');
  await applyTopology(await nc.jetstreamManager(), config);
  const producer = await createProducer({ nats: config.nats, shopId: 'collector', connection: nc });
  const hub = createChatHub({
    nc,
    prefix: config.nats.prefix,
    config: config.chatChannels,
    publish: (e) => producer.publish(e),
    logger,
  });
  const js = nc.jetstream();
  const app = buildCollector({
    config: config.collector,
    publish: (e) => producer.publish(e),
    deadLetter: (dl) => publishDeadLetter(js, config.nats.prefix, dl),
    logger,
  });
  await app.register(chatChannels, { hub, config: config.chatChannels, collector: config.collector, logger });
  await app.listen({ host: '127.0.0.1', port: 0 });

  let bot: ConsumerMessages | undefined;
  let botDone: Promise<void> = Promise.resolve();
  const server: ChatServer = {
    base: `127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    nc,
    config,
    hub,
    async startBot() {
      const consumer = await js.consumers.get(names(config.nats.prefix).eventsStream, {
        filterSubjects: [`${config.nats.prefix}.events.*.chat_turn`],
      });
      const messages = await consumer.consume();
      bot = messages;
      botDone = (async () => {
        for await (const m of messages) {
          const d = decodeEnvelope(m.data);
          if (!d.ok || chatRoleName(d.envelope.chatTurn?.role) !== 'user') continue;
          const t = d.envelope.chatTurn!;
          const conversationId = t.conversationId ?? '';
          const payload: ReplyPayload = {
            conversationId,
            eventId: `bot-${d.envelope.eventId}`,
            role: 'bot',
            text: `echo: ${t.text}`,
            turnIndex: (t.turnIndex ?? 0) + 1,
            at: new Date().toISOString(),
            meta: {
              intent: 'echo',
              confidence: 1,
              sentiment: 'neutral',
              answered: true,
            } as ReplyPayload['meta'],
          };
          nc.publish(
            replySubject(config.nats.prefix, d.envelope.shopId, conversationId),
            new TextEncoder().encode(JSON.stringify(payload)),
          );
        }
      })();
    },
    async stopBot() {
      bot?.stop();
      await botDone;
    },
    async stop() {
      await server.stopBot();
      await app.close();
      hub.close();
      await producer.close();
      await nc.drain();
      await nats.stop();
    },
  };
  try {
    await server.startBot();
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}
