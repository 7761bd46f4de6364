// The chat channels on the collector's HTTP server (a Fastify plugin; streams/pipeline/http.ts registers
// it when CHAT_CHANNELS=1), all over one hub (hub.ts):
//   GET  /v1/chat/ws?conversation=...      the web widget's WebSocket (socket.ts)
//   POST /v1/chat/messages                 the app's user turns, 202 with the event id (app-api.ts)
//   GET  /v1/chat/stream?conversation=...  the app's replies as Server-Sent Events (app-api.ts)
//   GET  /v1/chat/wechat                   WeChat's server verification (wechat-route.ts)
//   POST /v1/chat/wechat                   WeChat's text messages, answered passively when the bot is quick
//   GET  /chat/widget.js, /chat/demo.html  the widget (no framework) and a page to try it
// Authentication is the collector's: a write key (header, or `key` in the query for browsers) and, for a
// user id, the shop's signed user token (identity.ts). WeChat authenticates by its signature.
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import * as path from 'node:path';
import websocket from '@fastify/websocket';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../infra/config';
import type { Logger } from '../../infra/logger';
import { KeyTable } from '../collector/trust';
import { registerAppApi } from './app-api';
import type { ChatError, ChatHub, Checked, Identity } from './hub';
import { checkConversationId } from './hub';
import { identify } from './identity';
import { registerSocket } from './socket';
import { registerWechat } from './wechat-route';

export interface ChatChannelsOptions {
  hub: ChatHub;
  config: Config['chatChannels'];
  collector: Pick<Config['collector'], 'writeKeys' | 'serverKeys' | 'userTokenSecrets'>;
  logger: Logger;
  now?: () => number;
}

/** What the routes share: the hub, who may chat, and the count of open sockets and streams. */
export interface ChannelContext extends ChatChannelsOptions {
  now: () => number;
  /** Who is chatting: the write key and user from the headers and these fields (query or body). */
  identify(headers: IncomingHttpHeaders, fields: Record<string, unknown>): Checked<Identity>;
  /** A listener's conversation and identity, from the query and headers; refused with a ChatError. */
  opening(req: FastifyRequest): Checked<{ identity: Identity; conversationId: string }>;
  /** Counts an open socket or stream; false when CHAT_MAX_CONNECTIONS are open. */
  connect(): boolean;
  disconnect(): void;
  /** Run when the server closes (streams that Fastify would otherwise wait for). */
  onClose(f: () => void): () => void;
}

export function deny(reply: FastifyReply, e: ChatError, retryAfter?: number): FastifyReply {
  reply.code(e.status);
  if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter));
  return reply.send({ error: e.code, message: e.message });
}

export const queryOf = (req: FastifyRequest): Record<string, unknown> =>
  typeof req.query === 'object' && req.query !== null ? (req.query as Record<string, unknown>) : {};

const WIDGET_DIR = path.join(__dirname, 'widget');

export async function chatChannels(app: FastifyInstance, options: ChatChannelsOptions): Promise<void> {
  const { config, collector } = options;
  const now = options.now ?? Date.now;
  const keys = new KeyTable(collector.writeKeys, collector.serverKeys);
  let open = 0;
  const closers = new Set<() => void>();
  const ctx: ChannelContext = {
    ...options,
    now,
    identify: (headers, fields) => identify(keys, collector.userTokenSecrets, { headers, fields }, now()),
    opening(req) {
      const q = queryOf(req);
      const conversation = checkConversationId(q['conversation'] ?? q['conversationId']);
      if (!conversation.ok) return conversation;
      const who = ctx.identify(req.headers, q);
      if (!who.ok) return who;
      return { ok: true, value: { identity: who.value, conversationId: conversation.value } };
    },
    connect() {
      if (open >= config.maxConnections) return false;
      open++;
      return true;
    },
    disconnect() {
      open--;
    },
    onClose(f) {
      closers.add(f);
      return () => closers.delete(f);
    },
  };
  app.addHook('preClose', (done) => {
    for (const f of [...closers]) f();
    done();
  });

  await app.register(websocket, { options: { maxPayload: config.maxMessageBytes } });
  registerSocket(app, ctx);
  registerAppApi(app, ctx);
  registerWechat(app, ctx);

  // the widget: read once, served as is
  const files = {
    'widget.js': {
      type: 'text/javascript; charset=utf-8',
      body: readFileSync(path.join(WIDGET_DIR, 'widget.js')),
    },
    'demo.html': { type: 'text/html; charset=utf-8', body: readFileSync(path.join(WIDGET_DIR, 'demo.html')) },
  };
  for (const [name, f] of Object.entries(files))
    app.get(`/chat/${name}`, async (_req, reply) =>
      reply.type(f.type).header('cache-control', 'public, max-age=300').send(f.body),
    );
}
