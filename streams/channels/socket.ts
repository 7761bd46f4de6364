// The web widget's WebSocket: GET /v1/chat/ws?conversation=<id>&key=<write key>&anonymousId=<id>
// (or userId + userToken). Refused before the upgrade with the collector's JSON error when the key,
// the user or the conversation is wrong, or the server is full.
// Frames are JSON text, at most CHAT_MAX_MESSAGE_BYTES (a larger one closes the socket, 1009):
//   client -> server  {type:'say', text, clientMsgId?, productId?, turnIndex?}
//   server -> client  {type:'ack', clientMsgId, eventId, turnIndex, duplicate}   the turn is stored
//                     {type:'reply', ...ReplyPayload}                            the bot's answer
//                     {type:'error', code, message, clientMsgId?}               this frame was refused
// More than CHAT_SOCKET_FRAME_RATE frames a second are refused (rate_limited); the server pings every
// CHAT_HEARTBEAT and closes a socket that did not answer the last ping.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ReplyPayload } from '../processors/chat/processor';
import type { Identity } from './hub';
import { deny, type ChannelContext } from './plugin';

/** The part of a ws WebSocket this file uses. */
interface ChatSocket {
  readonly readyState: number;
  send(data: string): void;
  ping(): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  on(event: 'message', f: (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => void): void;
  on(event: 'pong' | 'close', f: () => void): void;
}

const OPEN = 1;

export type ServerFrame =
  | ({ type: 'reply' } & ReplyPayload)
  | { type: 'ack'; clientMsgId?: string; eventId: string; turnIndex: number; duplicate: boolean }
  | { type: 'error'; code: string; message: string; clientMsgId?: string };

/** A client frame, checked for its shape (the hub checks the fields). Pure. */
export function readFrame(
  data: Buffer | ArrayBuffer | Buffer[],
  isBinary: boolean,
):
  | { ok: true; say: { text: unknown; clientMsgId?: unknown; productId?: unknown; turnIndex?: unknown } }
  | { ok: false; code: string; message: string; clientMsgId?: string } {
  if (isBinary) return { ok: false, code: 'bad_frame', message: 'frames are JSON text' };
  const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf));
  } catch {
    return { ok: false, code: 'bad_frame', message: 'a frame must be a JSON object in UTF-8' };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    return { ok: false, code: 'bad_frame', message: 'a frame must be a JSON object' };
  const f = v as Record<string, unknown>;
  const clientMsgId = typeof f['clientMsgId'] === 'string' ? f['clientMsgId'].slice(0, 128) : undefined;
  if (f['type'] !== 'say')
    return {
      ok: false,
      code: 'unknown_type',
      message: "the only frame a client sends is {type:'say', text, clientMsgId}",
      ...(clientMsgId ? { clientMsgId } : {}),
    };
  return {
    ok: true,
    say: {
      text: f['text'],
      clientMsgId: f['clientMsgId'],
      productId: f['productId'],
      turnIndex: f['turnIndex'],
    },
  };
}

export function registerSocket(app: FastifyInstance, ctx: ChannelContext): void {
  const { hub, config, logger } = ctx;
  const accepted = new WeakMap<FastifyRequest, { identity: Identity; conversationId: string }>();

  app.get(
    '/v1/chat/ws',
    {
      websocket: true,
      // before the upgrade: a refusal is a plain HTTP answer the client can read
      preValidation: async (req, reply) => {
        const o = ctx.opening(req);
        if (!o.ok) return deny(reply, o.error);
        accepted.set(req, o.value);
      },
    },
    (socket: ChatSocket, req: FastifyRequest) => {
      const open = accepted.get(req)!;
      const { identity, conversationId } = open;
      const send = (frame: ServerFrame): void => {
        if (socket.readyState === OPEN) socket.send(JSON.stringify(frame));
      };
      if (!ctx.connect()) {
        send({
          type: 'error',
          code: 'busy',
          message: 'this server has its limit of open chats; retry later',
        });
        socket.close(1013, 'busy');
        return;
      }
      const l = hub.listen(identity.shopId, conversationId, (r) => send({ type: 'reply', ...r }));
      if (!l.ok) {
        ctx.disconnect();
        send({ type: 'error', code: l.error.code, message: l.error.message });
        socket.close(1013, l.error.code);
        return;
      }
      let alive = true;
      const beat = setInterval(() => {
        if (!alive) return socket.terminate();
        alive = false;
        socket.ping();
      }, config.heartbeatMs);
      let tokens = config.socketFrameRate;
      let tokensAt = ctx.now();
      let closed = false;
      const cleanup = (): void => {
        if (closed) return;
        closed = true;
        clearInterval(beat);
        l.value();
        ctx.disconnect();
      };
      socket.on('close', cleanup);
      socket.on('pong', () => {
        alive = true;
      });
      socket.on('message', (data, isBinary) => {
        const t = ctx.now();
        tokens = Math.min(config.socketFrameRate, tokens + ((t - tokensAt) / 1000) * config.socketFrameRate);
        tokensAt = t;
        if (tokens < 1) {
          send({
            type: 'error',
            code: 'rate_limited',
            message: `at most ${config.socketFrameRate} frames a second`,
          });
          return;
        }
        tokens -= 1;
        const frame = readFrame(data, isBinary);
        if (!frame.ok) {
          const { code, message, clientMsgId } = frame;
          send({ type: 'error', code, message, ...(clientMsgId ? { clientMsgId } : {}) });
          return;
        }
        const clientMsgId = typeof frame.say.clientMsgId === 'string' ? frame.say.clientMsgId : undefined;
        hub
          .say({ identity, channel: 'web', conversationId, ...frame.say })
          .then((r) => {
            if (r.ok) {
              const { eventId, turnIndex, duplicate } = r;
              send({ type: 'ack', eventId, turnIndex, duplicate, ...(clientMsgId ? { clientMsgId } : {}) });
            } else send({ type: 'error', ...r.error, ...(clientMsgId ? { clientMsgId } : {}) });
          })
          .catch((err: unknown) => {
            logger.error({ err: (err as Error).message }, 'chat socket: a message failed');
            send({ type: 'error', code: 'internal', message: 'internal error' });
          });
      });
      // the server's idle timeout is for requests; a chat socket stays open (the heartbeat watches it)
      req.raw.socket?.setTimeout(0);
    },
  );
}
