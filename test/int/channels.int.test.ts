// The chat channels on a real NATS server, mounted on the collector as in production: a user turn from
// the web widget's WebSocket, the app API and the WeChat callback is on the events stream as a chat_turn
// (role user, its channel, numbered), and the bot's reply on the conversation's reply subject reaches the
// client. The bot here is a stand-in (the real one is the chat processor's): a test-side consumer of the
// events stream that answers each user turn with a ReplyPayload. A retried clientMsgId is stored once
// (JetStream's duplicate window, Nats-Msg-Id); bad inputs get clear errors.
import { eventsOnStream } from '../../infra/stack/test-nats';
import { channelName, chatRoleName } from '../../schemas/events';
import { wechatSignature } from '../../streams/channels/wechat';
import { startChatServer, type ChatServer } from '../helpers/chat-server';

jest.setTimeout(20_000);
const SHOP = 'shop-chat';
const KEY = 'wk-chat-test';
const WECHAT_TOKEN = 'wechatToken123';

/** The part of a ws client the tests use (ws has no types here). */
interface WsClient {
  on(event: 'message', f: (data: Buffer) => void): void;
  on(event: 'open', f: () => void): void;
  on(event: 'close', f: (code: number) => void): void;
  on(event: 'unexpected-response', f: (req: unknown, res: { statusCode: number }) => void): void;
  on(event: 'error', f: (err: Error) => void): void;
  send(s: string): void;
  close(): void;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { WebSocket } = require('ws') as {
  WebSocket: new (url: string, options?: { autoPong?: boolean }) => WsClient;
};

let server: ChatServer;
let base: string;

beforeAll(async () => {
  server = await startChatServer({
    COLLECTOR_WRITE_KEYS: `${SHOP}:${KEY}`,
    CHAT_WECHAT_TOKEN: WECHAT_TOKEN,
    CHAT_WECHAT_SHOP: SHOP,
    CHAT_WECHAT_REPLY_WAIT: '2s',
    CHAT_RATE_LIMIT: '0',
    CHAT_HEARTBEAT: '300ms',
  });
  base = server.base;
}, 30_000);

afterAll(async () => {
  await server?.stop();
});

/** Resolves with the first value pushed, or fails after `ms`. */
function waitFor<T>(subscribe: (push: (v: T) => void) => void, ms = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nothing within ${ms} ms`)), ms);
    subscribe((v) => {
      clearTimeout(timer);
      resolve(v);
    });
  });
}

type Frame = { type: string; [k: string]: unknown };

async function openSocket(
  query: string,
): Promise<{ ws: WsClient; frames: Frame[]; next: (type: string) => Promise<Frame> }> {
  const ws = new WebSocket(`ws://${base}/v1/chat/ws?${query}`);
  const frames: Frame[] = [];
  const waiting: { type: string; resolve: (f: Frame) => void }[] = [];
  ws.on('message', (data) => {
    const f = JSON.parse(data.toString()) as Frame;
    const w = waiting.findIndex((x) => x.type === f.type);
    if (w >= 0) waiting.splice(w, 1)[0]!.resolve(f);
    else frames.push(f);
  });
  await waitFor<void>((done) => ws.on('open', () => done()));
  const next = (type: string): Promise<Frame> => {
    const i = frames.findIndex((f) => f.type === type);
    if (i >= 0) return Promise.resolve(frames.splice(i, 1)[0]!);
    return waitFor<Frame>((resolve) => waiting.push({ type, resolve }));
  };
  return { ws, frames, next };
}

async function userTurns(conversationId: string) {
  const all = await eventsOnStream(server.nc, server.config, 'chat_turn', 5000);
  return all.filter(
    (e) => e.chatTurn?.conversationId === conversationId && chatRoleName(e.chatTurn.role) === 'user',
  );
}

it('WebSocket: a say frame is acked, stored as a web user turn, and the reply comes back', async () => {
  const { ws, next } = await openSocket(`conversation=c-ws-1&key=${KEY}&anonymousId=a-ws`);
  try {
    ws.send(JSON.stringify({ type: 'say', text: 'where is my order?\u0007', clientMsgId: 'm-ws-1' }));
    const ack = await next('ack');
    expect(ack).toMatchObject({ clientMsgId: 'm-ws-1', turnIndex: 0, duplicate: false });
    const reply = await next('reply');
    expect(reply).toMatchObject({ conversationId: 'c-ws-1', text: 'echo: where is my order?', turnIndex: 1 });
    // the retry of the same message: acked as a duplicate, no second turn
    ws.send(JSON.stringify({ type: 'say', text: 'where is my order?', clientMsgId: 'm-ws-1' }));
    expect(await next('ack')).toMatchObject({ eventId: ack['eventId'], duplicate: true });
    ws.send(JSON.stringify({ type: 'say', text: '   ' }));
    expect(await next('error')).toMatchObject({ code: 'empty_text' });
    ws.send('not json');
    expect(await next('error')).toMatchObject({ code: 'bad_frame' });
    const turns = await userTurns('c-ws-1');
    expect(turns).toHaveLength(1);
    expect(turns[0]).toMatchObject({ anonymousId: 'a-ws', shopId: SHOP });
    expect(channelName(turns[0]!.chatTurn!.channel)).toBe('web');
  } finally {
    ws.close();
  }
});

it('WebSocket: two sockets on one conversation share one subscription; limits on frame rate and size', async () => {
  const query = `conversation=c-ws-2&key=${KEY}&anonymousId=a-ws2`;
  const a = await openSocket(query);
  const b = await openSocket(query);
  expect(server.hub.stats().subscriptions).toBeGreaterThanOrEqual(1);
  const before = server.hub.stats();
  a.ws.send(JSON.stringify({ type: 'say', text: 'both of us', clientMsgId: 'm-ws-2' }));
  expect(await a.next('reply')).toMatchObject({ text: 'echo: both of us' });
  expect(await b.next('reply')).toMatchObject({ text: 'echo: both of us' });
  // more than CHAT_SOCKET_FRAME_RATE (10) frames at once: the rest are refused
  for (let i = 0; i < 15; i++) b.ws.send(JSON.stringify({ type: 'hello' }));
  expect(await b.next('error')).toMatchObject({ code: 'unknown_type' });
  await eventuallyFrame(b, 'rate_limited');
  a.ws.close();
  await waitUntil(() => server.hub.stats().listeners === before.listeners - 1);
  expect(server.hub.stats().subscriptions).toBe(before.subscriptions); // b still listens
  b.ws.close();
  await waitUntil(() => server.hub.stats().listeners === before.listeners - 2);
  expect(server.hub.stats().subscriptions).toBe(before.subscriptions - 1);
  // a frame over CHAT_MAX_MESSAGE_BYTES closes the socket (1009)
  const c = await openSocket(query);
  const closed = waitFor<number>((done) => c.ws.on('close', (code: number) => done(code)));
  c.ws.send(JSON.stringify({ type: 'say', text: 'x'.repeat(20_000) }));
  expect(await closed).toBe(1009);
});

/** Waits for an error frame with this code, skipping other errors. */
async function eventuallyFrame(s: { next: (type: string) => Promise<Frame> }, code: string): Promise<void> {
  for (let f = await s.next('error'); f['code'] !== code; f = await s.next('error'));
}

async function waitUntil(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

it('WebSocket: the server pings; a client that does not answer is closed, one that does stays', async () => {
  const query = `conversation=c-ws-3&key=${KEY}&anonymousId=a-ws3`;
  const live = await openSocket(query);
  const mute = new WebSocket(`ws://${base}/v1/chat/ws?${query}`, { autoPong: false });
  const t0 = Date.now();
  let liveClosed = false;
  live.ws.on('close', () => (liveClosed = true));
  const code = await waitFor<number>((done) => mute.on('close', (c: number) => done(c)), 5000);
  expect(code).toBe(1006); // terminated, no close frame
  expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
  expect(liveClosed).toBe(false);
  live.ws.close();
});

it('WebSocket: a wrong key, a missing user or a bad conversation is refused before the upgrade', async () => {
  for (const [query, status] of [
    [`conversation=c-1&key=nope&anonymousId=a`, 401],
    [`conversation=c-1&key=${KEY}`, 400],
    [`conversation=a%20b&key=${KEY}&anonymousId=a`, 400],
  ] as const) {
    const ws = new WebSocket(`ws://${base}/v1/chat/ws?${query}`);
    ws.on('error', () => undefined);
    const got = await waitFor<number>((done) =>
      ws.on('unexpected-response', (_req, res) => done(res.statusCode)),
    );
    expect(got).toBe(status);
  }
});

it('app API: POST is 202 with the event id, the reply streams as SSE; a retry is stored once', async () => {
  const ctrl = new AbortController();
  const stream = await fetch(
    `http://${base}/v1/chat/stream?conversation=c-app-1&key=${KEY}&anonymousId=a-app`,
    {
      signal: ctrl.signal,
    },
  );
  try {
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = stream.body!.getReader();
    const post = (body: unknown) =>
      fetch(`http://${base}/v1/chat/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-write-key': KEY },
        body: JSON.stringify(body),
      });
    const message = {
      conversationId: 'c-app-1',
      text: 'do you ship to Shenzhen?',
      clientMsgId: 'm-app-1',
      channel: 'app',
      anonymousId: 'a-app',
    };
    const first = await post(message);
    expect(first.status).toBe(202);
    const accepted = (await first.json()) as { eventId: string; duplicate: boolean };
    expect(accepted.duplicate).toBe(false);
    const again = await post(message);
    expect(again.status).toBe(202);
    expect(await again.json()).toMatchObject({ eventId: accepted.eventId, duplicate: true });

    let text = '';
    const deadline = Date.now() + 5000;
    while (!text.includes('event: reply') && Date.now() < deadline) {
      const { value, done } = (await reader.read()) as { value?: Uint8Array; done: boolean };
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    const data = /event: reply\ndata: (.*)\n/.exec(text);
    expect(data).not.toBeNull();
    expect(JSON.parse(data![1]!)).toMatchObject({
      text: 'echo: do you ship to Shenzhen?',
      conversationId: 'c-app-1',
    });
    expect(text).toMatch(new RegExp(`id: bot-${accepted.eventId}`));
    const turns = await userTurns('c-app-1');
    expect(turns).toHaveLength(1);
    expect(channelName(turns[0]!.chatTurn!.channel)).toBe('app');
  } finally {
    ctrl.abort();
  }
});

it('app API: bad inputs get clear errors and store nothing', async () => {
  const post = (body: string, headers: Record<string, string> = { 'x-write-key': KEY }) =>
    fetch(`http://${base}/v1/chat/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });
  const cases: [string, Record<string, string> | undefined, number, string][] = [
    [JSON.stringify({ conversationId: 'c-bad', text: '', anonymousId: 'a' }), undefined, 400, 'empty_text'],
    [
      JSON.stringify({ conversationId: 'c-bad', text: 'x'.repeat(2001), anonymousId: 'a' }),
      undefined,
      400,
      'text_too_long',
    ],
    [
      JSON.stringify({ conversationId: 'c bad', text: 'hi', anonymousId: 'a' }),
      undefined,
      400,
      'invalid_conversation',
    ],
    [JSON.stringify({ conversationId: 'c-bad', text: 'hi' }), undefined, 400, 'missing_user'],
    [
      JSON.stringify({ conversationId: 'c-bad', text: 'hi', anonymousId: 'a', channel: 'email' }),
      undefined,
      400,
      'invalid_channel',
    ],
    ['{not json', undefined, 400, 'invalid_json'],
    [
      JSON.stringify({ conversationId: 'c-bad', text: 'hi', anonymousId: 'a' }),
      { 'x-write-key': 'nope' },
      401,
      'unauthorized',
    ],
    [
      JSON.stringify({ conversationId: 'c-bad', text: 'x'.repeat(20_000), anonymousId: 'a' }),
      undefined,
      413,
      'payload_too_large',
    ],
  ];
  for (const [body, headers, status, error] of cases) {
    const r = await post(body, headers);
    const json = (await r.json()) as { error: string; message: string };
    expect({ status: r.status, error: json.error }).toEqual({ status, error });
    expect(json.message.length).toBeGreaterThan(10);
  }
  expect(await userTurns('c-bad')).toHaveLength(0);
});

describe('WeChat', () => {
  const signed = (timestamp = '1764754800', nonce = 'n123') =>
    `signature=${wechatSignature(WECHAT_TOKEN, timestamp, nonce)}&timestamp=${timestamp}&nonce=${nonce}`;
  const message = (msgId: string, content: string) =>
    `<xml><ToUserName><![CDATA[gh_shop]]></ToUserName><FromUserName><![CDATA[oUser-42]]></FromUserName>` +
    `<CreateTime>1764754800</CreateTime><MsgType><![CDATA[text]]></MsgType>` +
    `<Content><![CDATA[${content}]]></Content><MsgId>${msgId}</MsgId></xml>`;
  const post = (query: string, body: string) =>
    fetch(`http://${base}/v1/chat/wechat?${query}`, {
      method: 'POST',
      headers: { 'content-type': 'text/xml' },
      body,
    });

  it('verifies the server: echostr when signed, 401 when not', async () => {
    const ok = await fetch(`http://${base}/v1/chat/wechat?${signed()}&echostr=hello123`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('hello123');
    const bad = await fetch(
      `http://${base}/v1/chat/wechat?${signed('1', '2').replace(/signature=\w/, 'signature=0')}&echostr=x`,
    );
    expect(bad.status).toBe(401);
  });

  it('answers a text message with the passive reply XML, once per MsgId', async () => {
    const r = await post(signed(), message('1000001', '退货怎么办'));
    expect(r.status).toBe(200);
    const xml = await r.text();
    expect(xml).toContain('<ToUserName><![CDATA[oUser-42]]></ToUserName>');
    expect(xml).toContain('<FromUserName><![CDATA[gh_shop]]></FromUserName>');
    expect(xml).toContain('<Content><![CDATA[echo: 退货怎么办]]></Content>');
    // WeChat resends a message it is not sure we got: the same turn, stored once; no second reply
    const resent = await post(signed(), message('1000001', '退货怎么办'));
    expect(resent.status).toBe(200);
    const noTime = (x: string) => x.replace(/<CreateTime>\d+<\/CreateTime>/, '');
    expect(noTime(await resent.text())).toBe(noTime(xml)); // the same answer
    // a message the bot does not answer in time: "success", nothing shown
    await server.stopBot();
    const t0 = Date.now();
    const late = await post(signed(), message('1000003', 'are you there?'));
    expect(await late.text()).toBe('success');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1900);
    await server.startBot();
    const turns = await userTurns('wx.oUser-42');
    expect(turns.map((t) => t.chatTurn!.text)).toEqual(['退货怎么办', 'are you there?']);
    expect(turns[0]).toMatchObject({ anonymousId: 'wx.oUser-42' });
    expect(channelName(turns[0]!.chatTurn!.channel)).toBe('mini_program');
  });

  it('refuses a bad signature (401) and bad XML (400); other message types are "success"', async () => {
    expect((await post('signature=00&timestamp=1&nonce=2', message('1000002', 'hi'))).status).toBe(401);
    expect((await post(signed(), '<!DOCTYPE x [<!ENTITY a "b">]><xml></xml>')).status).toBe(400);
    const image = await post(
      signed(),
      '<xml><MsgType><![CDATA[image]]></MsgType><FromUserName>oU</FromUserName></xml>',
    );
    expect(await image.text()).toBe('success');
  });
});
