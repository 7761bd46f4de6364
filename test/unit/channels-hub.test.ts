// The chat channels' hub without a server: the checks of a user turn (bounded text, ids), the envelope it
// publishes (role user, channel, turn numbers, an event id derived from the client's message id), the
// reply subscriptions (one per conversation, reference counted, bounded), who may chat (the collector's
// write keys and user tokens) and the WebSocket frames. The NATS connection is a stand-in that records
// subscriptions; test/int/channels.int.test.ts runs the same over a real NATS.
import fc from 'fast-check';
import type { NatsConnection } from 'nats';
import { createLogger } from '../../infra/logger';
import type { EnvelopeInit } from '../../schemas/events';
import { signUserToken } from '../../streams/collector/user-token';
import { KeyTable } from '../../streams/collector/trust';
import {
  checkConversationId,
  checkSay,
  cleanText,
  createChatHub,
  MAX_TEXT_CHARS,
  parseReply,
  type ChatHubDeps,
} from '../../streams/channels/hub';
import { identify } from '../../streams/channels/identity';
import { readFrame } from '../../streams/channels/socket';
import { replySubject, type ReplyPayload } from '../../streams/processors/chat/processor';
import { EventValidationError } from '../../schemas/validate';
import { PublishError } from '../../streams/producer/producer';
import { fuzzParams, hostileValue } from '../../chaos/fuzz';

const logger = createLogger('silent', 'test');
const SHOP = 'shop-1';

describe('cleanText', () => {
  it('refuses empty text with a clear 400', () => {
    for (const t of ['', '   ', '\n\t', '\u0000\u0007'])
      expect(cleanText(t)).toEqual({
        ok: false,
        error: { status: 400, code: 'empty_text', message: 'text is empty: say something' },
      });
  });

  it('strips control characters and lone surrogates, keeps newlines, tabs and emoji', () => {
    expect(cleanText('  hi\u0000 the\u001Bre\r\nok\tgo 😀\u0085\uD800 ')).toEqual({
      ok: true,
      value: 'hi there\nok\tgo 😀',
    });
  });

  it('counts characters, not UTF-16 units, and refuses more than 2000', () => {
    expect(cleanText('😀'.repeat(MAX_TEXT_CHARS)).ok).toBe(true);
    const long = cleanText('a'.repeat(MAX_TEXT_CHARS + 1));
    expect(long.ok).toBe(false);
    if (!long.ok) expect(long.error).toMatchObject({ status: 400, code: 'text_too_long' });
    const huge = cleanText('a'.repeat(10_000_000));
    expect(huge.ok).toBe(false);
    expect(cleanText(42).ok).toBe(false);
  });
});

describe('checkSay', () => {
  const base = { identity: { shopId: SHOP, anonymousId: 'a-1' }, channel: 'web' as const };

  it('checks the conversation id', () => {
    expect(checkConversationId('c-1.x_y').ok).toBe(true);
    for (const bad of ['', undefined, 'a b', '.x', 'a/b', 'x'.repeat(129), 7])
      expect(checkConversationId(bad).ok).toBe(false);
  });

  it('refuses a bad client message id, product id or turn index, naming it', () => {
    const say = { ...base, conversationId: 'c-1', text: 'hi' };
    expect(checkSay({ ...say, clientMsgId: 'm 1' })).toMatchObject({
      error: { code: 'invalid_client_msg_id' },
    });
    expect(checkSay({ ...say, productId: 'p/1' })).toMatchObject({ error: { code: 'invalid_product_id' } });
    expect(checkSay({ ...say, turnIndex: -1 })).toMatchObject({ error: { code: 'invalid_turn_index' } });
    expect(checkSay({ ...say, clientMsgId: 'm-1', productId: 'sku-1', turnIndex: 4 })).toEqual({
      ok: true,
      value: { conversationId: 'c-1', text: 'hi', clientMsgId: 'm-1', productId: 'sku-1', turnIndex: 4 },
    });
  });
});

describe('checkSay on hostile input', () => {
  it('never throws; what it accepts is bounded, well-formed and free of control characters', () => {
    const identity = { shopId: SHOP, anonymousId: 'a-1' };
    const field = fc.oneof(hostileValue, fc.string({ unit: 'binary', maxLength: 3000 }));
    fc.assert(
      fc.property(field, field, field, field, (conversationId, text, clientMsgId, turnIndex) => {
        const r = checkSay({ identity, channel: 'web', conversationId, text, clientMsgId, turnIndex });
        if (!r.ok) {
          expect(r.error.message.length).toBeGreaterThan(0);
          return;
        }
        expect([...r.value.text].length).toBeLessThanOrEqual(MAX_TEXT_CHARS);
        expect(r.value.text.isWellFormed()).toBe(true);
        expect(r.value.text).not.toMatch(/[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/);
        expect(r.value.text).toBe(r.value.text.trim());
      }),
      fuzzParams(),
    );
  });
});

/** A NATS connection that records reply subscriptions and lets a test deliver to them. */
function fakeNats() {
  const subs = new Map<string, { callback: (err: Error | null, m: { data: Uint8Array }) => void }>();
  let subscribed = 0;
  const nc = {
    subscribe(subject: string, opts: { callback: (err: Error | null, m: { data: Uint8Array }) => void }) {
      subscribed++;
      subs.set(subject, opts);
      return { unsubscribe: () => subs.delete(subject) };
    },
  } as unknown as NatsConnection;
  const deliver = (subject: string, v: unknown) =>
    subs.get(subject)?.callback(null, { data: new TextEncoder().encode(JSON.stringify(v)) });
  return { nc, subs, deliver, subscribed: () => subscribed };
}

function hubWith(overrides: Partial<ChatHubDeps> = {}, config: Partial<ChatHubDeps['config']> = {}) {
  const nats = fakeNats();
  const published: EnvelopeInit[] = [];
  const seen = new Set<string>();
  let now = 1_764_754_800_000;
  const hub = createChatHub({
    nc: nats.nc,
    prefix: 'p',
    config: { maxConversations: 100, rateLimit: 0, rateBurst: 5, ...config },
    publish: (e) => {
      published.push(e);
      const duplicate = seen.has(e.eventId!);
      seen.add(e.eventId!);
      return Promise.resolve({ eventId: e.eventId!, duplicate });
    },
    logger,
    now: () => now,
    ...overrides,
  });
  return { hub, nats, published, tick: (ms: number) => (now += ms) };
}

const reply = (conversationId: string, eventId: string, turnIndex: number): ReplyPayload => ({
  conversationId,
  eventId,
  role: 'bot',
  text: `reply ${turnIndex}`,
  turnIndex,
  at: '2026-12-03T09:00:00.000Z',
  meta: {} as ReplyPayload['meta'],
});

describe('the hub publishes user turns', () => {
  const who = { shopId: SHOP, anonymousId: 'a-1' };

  it('as chat_turn events with role user, the channel and numbered turns', async () => {
    const { hub, published } = hubWith();
    const r = await hub.say({
      identity: who,
      channel: 'app',
      conversationId: 'c-1',
      text: ' hi ',
      productId: 'sku-9',
    });
    expect(r).toMatchObject({ ok: true, turnIndex: 0, duplicate: false });
    expect(published[0]).toMatchObject({
      shopId: SHOP,
      anonymousId: 'a-1',
      channel: 2,
      chatTurn: { conversationId: 'c-1', role: 1, text: 'hi', channel: 2, turnIndex: 0, productId: 'sku-9' },
    });
    const second = await hub.say({ identity: who, channel: 'app', conversationId: 'c-1', text: 'again' });
    expect(second).toMatchObject({ ok: true, turnIndex: 1 });
  });

  it('derives the event id from the client message id: a retry is the same turn, another conversation is not', async () => {
    const { hub, published } = hubWith();
    const say = {
      identity: who,
      channel: 'web' as const,
      conversationId: 'c-1',
      text: 'hi',
      clientMsgId: 'm-1',
    };
    const a = await hub.say(say);
    const b = await hub.say(say);
    const c = await hub.say({ ...say, conversationId: 'c-2' });
    const d = await hub.say({ ...say, clientMsgId: undefined });
    if (!a.ok || !b.ok || !c.ok || !d.ok) throw new Error('refused');
    expect(b.eventId).toBe(a.eventId);
    expect(b.turnIndex).toBe(a.turnIndex); // the retry keeps its number
    expect(b.duplicate).toBe(true);
    expect(c.eventId).not.toBe(a.eventId);
    expect(d.eventId).not.toBe(a.eventId);
    expect(published).toHaveLength(4);
  });

  it('numbers the next turn after the replies it has seen', async () => {
    const { hub, nats } = hubWith();
    const stop = hub.listen(SHOP, 'c-1', () => undefined);
    if (!stop.ok) throw new Error('refused');
    nats.deliver(replySubject('p', SHOP, 'c-1'), reply('c-1', 'r-1', 7));
    expect(await hub.say({ identity: who, channel: 'web', conversationId: 'c-1', text: 'x' })).toMatchObject({
      turnIndex: 8,
    });
    // a client's own, larger number wins
    expect(
      await hub.say({ identity: who, channel: 'web', conversationId: 'c-1', text: 'x', turnIndex: 20 }),
    ).toMatchObject({ turnIndex: 20 });
  });

  it('limits the turns per conversation (429 with the wait) and refuses bad input before publishing', async () => {
    const { hub, published, tick } = hubWith({}, { rateLimit: 1, rateBurst: 2 });
    const say = { identity: who, channel: 'web' as const, conversationId: 'c-1', text: 'hi' };
    expect((await hub.say(say)).ok).toBe(true);
    expect((await hub.say(say)).ok).toBe(true);
    expect(await hub.say(say)).toMatchObject({ ok: false, error: { status: 429, code: 'rate_limited' } });
    expect((await hub.say({ ...say, conversationId: 'c-2' })).ok).toBe(true); // another conversation
    tick(1000);
    expect((await hub.say(say)).ok).toBe(true);
    expect(await hub.say({ ...say, text: '' })).toMatchObject({ error: { status: 400, code: 'empty_text' } });
    expect(published).toHaveLength(4);
  });

  it('answers 503 when the stream is unavailable and 400 when the event is invalid', async () => {
    const down = hubWith({ publish: () => Promise.reject(new PublishError('down', 'PUBLISH_TIMEOUT', 'x')) });
    const say = { identity: who, channel: 'web' as const, conversationId: 'c-1', text: 'hi' };
    expect(await down.hub.say(say)).toMatchObject({ error: { status: 503, code: 'unavailable' } });
    const invalid = hubWith({
      publish: () => Promise.reject(new EventValidationError([{ path: 'x', code: 'type', message: 'bad' }])),
    });
    expect(await invalid.hub.say(say)).toMatchObject({ error: { status: 400, code: 'invalid_turn' } });
  });
});

describe('the hub listens to replies', () => {
  it('with one subscription per conversation, shared and unsubscribed when the last listener leaves', () => {
    const { hub, nats } = hubWith();
    const subject = replySubject('p', SHOP, 'c-1');
    const a: string[] = [];
    const b: string[] = [];
    const la = hub.listen(SHOP, 'c-1', (r) => a.push(r.eventId));
    const lb = hub.listen(SHOP, 'c-1', (r) => b.push(r.eventId));
    if (!la.ok || !lb.ok) throw new Error('refused');
    expect(nats.subscribed()).toBe(1);
    nats.deliver(subject, reply('c-1', 'r-1', 1));
    nats.deliver(subject, reply('c-1', 'r-1', 1)); // a redelivered turn's reply: shown once
    nats.deliver(subject, { nonsense: true });
    nats.deliver(subject, reply('c-other', 'r-2', 1)); // not this conversation's
    expect(a).toEqual(['r-1']);
    expect(b).toEqual(['r-1']);
    la.value();
    la.value(); // leaving twice counts once
    expect(nats.subs.has(subject)).toBe(true);
    nats.deliver(subject, reply('c-1', 'r-3', 3));
    expect(a).toEqual(['r-1']);
    expect(b).toEqual(['r-1', 'r-3']);
    lb.value();
    expect(nats.subs.has(subject)).toBe(false);
    expect(hub.stats()).toMatchObject({ subscriptions: 0, listeners: 0, replies: 2 });
  });

  it('keeps at most CHAT_MAX_OPEN_CONVERSATIONS: forgets one nobody listens to, else refuses with 503', async () => {
    const { hub } = hubWith({}, { maxConversations: 2 });
    const who = { shopId: SHOP, anonymousId: 'a-1' };
    await hub.say({ identity: who, channel: 'web', conversationId: 'c-0', text: 'x' }); // nobody listens
    const l1 = hub.listen(SHOP, 'c-1', () => undefined);
    const l2 = hub.listen(SHOP, 'c-2', () => undefined); // c-0 is forgotten
    expect(l1.ok && l2.ok).toBe(true);
    expect(hub.listen(SHOP, 'c-3', () => undefined)).toMatchObject({
      ok: false,
      error: { status: 503, code: 'too_many_conversations' },
    });
    expect(await hub.say({ identity: who, channel: 'web', conversationId: 'c-3', text: 'x' })).toMatchObject({
      error: { status: 503 },
    });
    if (l1.ok) l1.value();
    expect(hub.listen(SHOP, 'c-3', () => undefined).ok).toBe(true);
    expect(hub.stats().conversations).toBe(2);
  });

  it('parses only well-formed replies', () => {
    const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
    expect(parseReply(enc(reply('c', 'e', 1)))).toMatchObject({ eventId: 'e' });
    expect(parseReply(new TextEncoder().encode('{'))).toBeUndefined();
    expect(parseReply(enc({ ...reply('c', 'e', 1), turnIndex: '1' }))).toBeUndefined();
    expect(parseReply(enc(null))).toBeUndefined();
  });
});

describe('who may chat (the collector’s keys and user tokens)', () => {
  const keys = new KeyTable({ 'wk-1': SHOP, 'wk-2': 'shop-2' }, { 'sk-1': SHOP });
  const secret = 's'.repeat(32);
  const secrets = { [SHOP]: secret };
  const now = 1_764_754_800_000;
  const token = signUserToken(secret, { shopId: SHOP, userId: 'u-1', expiresAt: now / 1000 + 600 });

  it('needs a known write key', () => {
    expect(identify(keys, secrets, { headers: {}, fields: { anonymousId: 'a' } }, now)).toMatchObject({
      error: { status: 401, code: 'unauthorized' },
    });
    expect(identify(keys, secrets, { headers: {}, fields: { key: 'nope', anonymousId: 'a' } }, now).ok).toBe(
      false,
    );
  });

  it('takes the key from the headers or the query, and an anonymous id', () => {
    expect(
      identify(keys, secrets, { headers: { 'x-write-key': 'wk-1' }, fields: { anonymousId: 'a-1' } }, now),
    ).toEqual({
      ok: true,
      value: { shopId: SHOP, anonymousId: 'a-1' },
    });
    expect(
      identify(keys, secrets, { headers: {}, fields: { key: 'wk-2', anonymousId: 'a-1' } }, now),
    ).toEqual({
      ok: true,
      value: { shopId: 'shop-2', anonymousId: 'a-1' },
    });
  });

  it('needs the signed user token for a user id of a shop with a secret', () => {
    const fields = { key: 'wk-1', userId: 'u-1' };
    expect(identify(keys, secrets, { headers: {}, fields }, now)).toMatchObject({
      error: { status: 401, code: 'unauthenticated_user' },
    });
    expect(identify(keys, secrets, { headers: {}, fields: { ...fields, userToken: token } }, now)).toEqual({
      ok: true,
      value: { shopId: SHOP, userId: 'u-1' },
    });
    expect(identify(keys, secrets, { headers: { 'x-user-token': token }, fields }, now).ok).toBe(true);
    // another user's token
    expect(
      identify(keys, secrets, { headers: {}, fields: { ...fields, userId: 'u-2', userToken: token } }, now)
        .ok,
    ).toBe(false);
    // a server key vouches for its users itself
    expect(
      identify(keys, secrets, { headers: { 'x-write-key': 'sk-1' }, fields: { userId: 'u-2' } }, now).ok,
    ).toBe(true);
  });

  it('refuses a request without a user, or with a malformed one', () => {
    expect(identify(keys, secrets, { headers: {}, fields: { key: 'wk-1' } }, now)).toMatchObject({
      error: { status: 400, code: 'missing_user' },
    });
    expect(
      identify(keys, secrets, { headers: {}, fields: { key: 'wk-1', anonymousId: 'a/b' } }, now),
    ).toMatchObject({
      error: { status: 400, code: 'invalid_user' },
    });
  });
});

describe('WebSocket frames', () => {
  it('reads say frames and refuses the rest with a code', () => {
    const buf = (s: string) => Buffer.from(s);
    expect(readFrame(buf('{"type":"say","text":"hi","clientMsgId":"m-1"}'), false)).toMatchObject({
      ok: true,
      say: { text: 'hi', clientMsgId: 'm-1' },
    });
    expect(readFrame(buf('{"type":"say"}'), true)).toMatchObject({ ok: false, code: 'bad_frame' });
    expect(readFrame(buf('not json'), false)).toMatchObject({ ok: false, code: 'bad_frame' });
    expect(readFrame(Buffer.from([0x7b, 0xff, 0x7d]), false)).toMatchObject({ ok: false, code: 'bad_frame' });
    expect(readFrame(buf('[1]'), false)).toMatchObject({ ok: false, code: 'bad_frame' });
    expect(readFrame(buf('{"type":"hello","clientMsgId":"m-2"}'), false)).toMatchObject({
      ok: false,
      code: 'unknown_type',
      clientMsgId: 'm-2',
    });
  });
});
