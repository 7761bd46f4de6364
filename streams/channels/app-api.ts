// The app API: user turns by POST, replies by Server-Sent Events.
//   POST /v1/chat/messages  {conversationId, text, clientMsgId?, channel?: 'app' | 'web', productId?,
//                            turnIndex?, userId? | anonymousId?}  with the write key (and X-User-Token
//                            for a user id) in the headers, as for the collector.
//     202 {eventId, turnIndex, duplicate}: the turn is stored (a retry with the same clientMsgId answers
//         the same eventId with duplicate: true and stores nothing new). 4xx {error, message}: resending
//         it unchanged will not help (429: after Retry-After). 503: resend it later, same clientMsgId.
//   GET /v1/chat/stream?conversation=<id>&key=<write key>&anonymousId=<id> (or userId + userToken)
//     text/event-stream: `event: reply`, `id: <reply event id>`, `data: <ReplyPayload JSON>`; a comment
//     line every CHAT_HEARTBEAT. Open it before posting: replies are live only. Last-Event-ID is not
//     replayed: a client that reconnects misses the replies sent while it was away (the transcript is in
//     the chat_turn events, i.e. ClickHouse; a replay from the stream is future work).
import type { FastifyInstance } from 'fastify';
import type { ChatChannel } from './hub';
import { deny, type ChannelContext } from './plugin';

const APP_CHANNELS: readonly ChatChannel[] = ['app', 'web', 'mini_program'];

export function registerAppApi(app: FastifyInstance, ctx: ChannelContext): void {
  const { hub, config, logger } = ctx;

  app.post('/v1/chat/messages', async (req, reply) => {
    const body = req.body;
    if (!Buffer.isBuffer(body) || body.length === 0)
      return deny(reply, { status: 400, code: 'empty_body', message: 'the body must be a JSON object' });
    if (body.length > config.maxMessageBytes)
      return deny(reply, {
        status: 413,
        code: 'payload_too_large',
        message: `a chat message is at most ${config.maxMessageBytes} bytes`,
      });
    let v: unknown;
    try {
      v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
    } catch {
      return deny(reply, { status: 400, code: 'invalid_json', message: 'the body is not JSON in UTF-8' });
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      return deny(reply, { status: 400, code: 'invalid_json', message: 'the body must be a JSON object' });
    const m = v as Record<string, unknown>;
    const who = ctx.identify(req.headers, m);
    if (!who.ok) return deny(reply, who.error);
    const channel = m['channel'] ?? 'app';
    if (!APP_CHANNELS.includes(channel as ChatChannel))
      return deny(reply, {
        status: 400,
        code: 'invalid_channel',
        message: `channel must be one of ${APP_CHANNELS.join(', ')}`,
      });
    const r = await hub.say({
      identity: who.value,
      channel: channel as ChatChannel,
      conversationId: m['conversationId'],
      text: m['text'],
      clientMsgId: m['clientMsgId'],
      productId: m['productId'],
      turnIndex: m['turnIndex'],
    });
    if (!r.ok)
      return deny(reply, r.error, r.error.status === 429 ? 1 : r.error.status === 503 ? 5 : undefined);
    reply.code(202);
    return { eventId: r.eventId, turnIndex: r.turnIndex, duplicate: r.duplicate };
  });

  app.get('/v1/chat/stream', async (req, reply) => {
    const o = ctx.opening(req);
    if (!o.ok) return deny(reply, o.error);
    if (!ctx.connect())
      return deny(
        reply,
        { status: 503, code: 'busy', message: 'this server has its limit of open chats' },
        5,
      );
    const raw = reply.raw;
    const write = (s: string): void => {
      if (!raw.writableEnded) raw.write(s);
    };
    const l = hub.listen(o.value.identity.shopId, o.value.conversationId, (r) =>
      write(`id: ${r.eventId}\nevent: reply\ndata: ${JSON.stringify(r)}\n\n`),
    );
    if (!l.ok) {
      ctx.disconnect();
      return deny(reply, l.error, 5);
    }
    reply.hijack();
    const cors = Object.entries(reply.getHeaders()).filter(
      (e): e is [string, string] => e[0].startsWith('access-control-') && typeof e[1] === 'string',
    );
    raw.writeHead(200, {
      ...Object.fromEntries(cors),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    });
    write(`: conversation ${o.value.conversationId}\nretry: 3000\n\n`);
    req.raw.socket?.setTimeout(0);
    const beat = setInterval(() => write(': ping\n\n'), config.heartbeatMs);
    let done = false;
    const end = (): void => {
      if (done) return;
      done = true;
      clearInterval(beat);
      l.value();
      ctx.disconnect();
      forget();
      if (!raw.writableEnded) raw.end();
    };
    const forget = ctx.onClose(end);
    req.raw.once('close', end);
    raw.once('close', end);
    raw.once('error', (err) => {
      logger.debug({ err: err.message }, 'chat stream: write failed');
      end();
    });
  });
}
