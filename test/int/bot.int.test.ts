// The customer-service bot in the pipeline service on a real NATS server: user turns sent through the
// producer get one reply each (on the reply subject and as a bot chat_turn event), in the user's
// language, from the knowledge base (citing the entry), the order view (tracking from shipment
// events) and the remembered slots (across channels); a redelivered turn gets no second reply; a
// request for a human and anger hand over (a handoff_requested event) and the bot then stays quiet;
// a knowledge-base entry added while the bot runs is used; hostile text never stops the bot.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { AckPolicy, DeliverPolicy, nanos, type NatsConnection, type Subscription } from 'nats';
import type { ReplyPayload } from '../../streams/processors/chat/processor';
import type { Config } from '../../infra/config';
import { createLogger } from '../../infra/logger';
import { connectNats } from '../../infra/nats';
import { getFreePort } from '../../infra/stack/processes';
import { eventually } from '../../infra/stack/test-clickhouse';
import { testConfig } from '../../infra/stack/test-config';
import { startTestNats, type TestNats } from '../../infra/stack/test-nats';
import { decodeEnvelope, encodeEnvelope } from '../../schemas/codec';
import type { Envelope, EventType, PayloadMap } from '../../schemas/events';
import { createProducer, type Producer } from '../../streams/producer/producer';
import { recentOrders } from '../../streams/processors/orders/lookup';
import { startService, type Service } from '../../streams/service';
import { eventSubject, names, partitionOf } from '../../streams/topology';
import { buildEnvelope } from '../helpers/events';

const SHOP = 'shop-bot';
let nats: TestNats;
let nc: NatsConnection;
let config: Config;
let service: Service;
let producer: Producer;
let kbDir: string;
let sub: Subscription;
const replies: ReplyPayload[] = [];

beforeAll(async () => {
  nats = await startTestNats();
  kbDir = mkdtempSync(path.join(tmpdir(), 'shopstream-kb-'));
  cpSync(path.join(__dirname, '../../bot/kb/entries'), kbDir, { recursive: true });
  config = testConfig(nats.url, { ADMIN_PORT: String(await getFreePort()), BOT_KB_DIR: kbDir });
  nc = await connectNats(config.nats, 'bot-test');
  sub = nc.subscribe(`${config.nats.prefix}.chat.reply.>`);
  void (async () => {
    for await (const m of sub) replies.push(m.json<ReplyPayload>());
  })();
  service = await startService({
    config,
    logger: createLogger('silent', 'test'),
    sink: false,
    collector: false,
    triggers: false,
  });
  producer = await createProducer({ nats: config.nats, shopId: SHOP, connection: nc });
}, 60_000);

afterAll(async () => {
  await service?.stop();
  await producer?.close();
  sub?.unsubscribe();
  await nc?.drain();
  await nats?.stop();
  rmSync(kbDir, { recursive: true, force: true });
});

const camel = (type: string): keyof Envelope =>
  type.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()) as keyof Envelope;

const ordersOf = async (user: string) =>
  recentOrders(await nc.jetstream().views.kv(names(config.nats.prefix).ordersBucket), SHOP, user);

let turnCounter = 0;
/** A user turn; resolves with its event id. */
const CHANNELS = { web: 1, app: 2, mini_program: 3 } as const;
async function say(
  user: string,
  conversation: string,
  text: string,
  channel: keyof typeof CHANNELS = 'web',
): Promise<string> {
  const r = await producer.track('chat_turn', {
    userId: user,
    channel,
    properties: {
      conversationId: conversation,
      role: 1,
      text,
      turnIndex: ++turnCounter,
      channel: CHANNELS[channel],
    },
  });
  return r.eventId;
}

const repliesTo = (conversation: string): ReplyPayload[] =>
  replies.filter((r) => r.conversationId === conversation);

/** Waits for the conversation's n-th reply. */
async function reply(conversation: string, n = 1): Promise<ReplyPayload> {
  const all = await eventually(
    () => Promise.resolve(repliesTo(conversation)),
    (rs) => rs.length >= n,
    10_000,
  );
  return all[n - 1]!;
}

async function send<T extends EventType>(type: T, user: string, properties: PayloadMap[T], at = Date.now()) {
  await producer.track(type, { userId: user, channel: 'server', occurredAt: at, properties });
}

/** Events of a type stored in the stream (what JetStream kept, duplicates dropped). */
async function eventsOf<T extends EventType>(type: T): Promise<PayloadMap[T][]> {
  const jsm = await nc.jetstreamManager();
  const stream = names(config.nats.prefix).eventsStream;
  const ci = await jsm.consumers.add(stream, {
    ack_policy: AckPolicy.None,
    deliver_policy: DeliverPolicy.All,
    filter_subject: `${config.nats.prefix}.events.*.${type}`,
    inactive_threshold: nanos(30_000),
  });
  const out: PayloadMap[T][] = [];
  if (ci.num_pending === 0) return out;
  const c = await nc.jetstream().consumers.get(stream, ci.name);
  const msgs = await c.fetch({ max_messages: ci.num_pending, expires: 2000 });
  for await (const m of msgs) {
    const d = decodeEnvelope(m.data);
    if (d.ok) out.push(d.envelope[camel(type)] as PayloadMap[T]);
  }
  return out;
}

it('answers each policy area in Chinese and in English, citing the entry', async () => {
  const cases: [string, RegExp][] = [
    ['退货要怎么退？几天内可以退', /^returns?[._-]/],
    ['how long does a refund take to reach my card', /^(returns?|refunds?)[._-]/],
    ['运费多少钱，满多少包邮', /^shipping[._-]/],
    ['do you ship to hong kong and how long does delivery take', /^shipping[._-]/],
    ['可以开增值税专用发票吗', /^payment[._-]/],
    ['can i use two coupons on one order', /^coupons?[._-]/],
    ['怎么修改收货地址', /^account[._-]/],
    ['what is your return policy', /^returns?[._-]/],
    ['can i get a vat invoice for my company', /^payment[._-]/],
    ['优惠券和满减能一起用吗', /^coupons?[._-]/],
    ['i forgot my password and cannot log in', /^account[._-]/],
  ];
  for (const [i, [text]] of cases.entries()) await say(`u-policy-${i}`, `c-policy-${i}`, text);
  for (const [i, [text, entry]] of cases.entries()) {
    const r = await reply(`c-policy-${i}`);
    expect({ text, kbEntry: r.meta.kbEntry ?? '', answered: r.meta.answered }).toEqual({
      text,
      kbEntry: r.meta.kbEntry?.match(entry) ? r.meta.kbEntry : `an entry matching ${String(entry)}`,
      answered: true,
    });
    expect(r.meta.lang).toBe(/[\u4e00-\u9fff]/.test(text) ? 'zh' : 'en');
    expect(r.text).toMatch(
      /[\u4e00-\u9fff]/.test(text) ? /[\u4e00-\u9fff]/ : /^[\x20-\x7e\u2018-\u201d\u2026\s]+$/,
    );
  }
});

it('tracks an order from its shipment events, asking for the id only when the user has several', async () => {
  const user = 'u-track';
  const placed = Date.now() - 2 * 86_400_000;
  await send(
    'order_placed',
    user,
    { orderId: 'A1001', products: [{ sku: 'PHO-0001' }], totalMinor: 129900 },
    placed,
  );
  await send(
    'order_shipped',
    user,
    { orderId: 'A1001', carrier: 'SF', trackingNumber: 'SF1234567890' },
    placed + 3_600_000,
  );
  // the order view is built by its own processor: ask once it has the shipment
  await eventually(
    () => ordersOf(user),
    (os) => os.some((o) => o.shipment?.trackingNumber === 'SF1234567890'),
    10_000,
  );
  await say(user, 'c-track', '我的快递到哪了');
  const r = await reply('c-track');
  expect(r.meta).toMatchObject({ intent: 'order_tracking', answered: true, lang: 'zh' });
  expect(r.text).toMatch(/SF1234567890/);

  // a second order: now the bot asks which one, and a bare id answers it
  await send(
    'order_placed',
    user,
    { orderId: 'B2002', products: [{ sku: 'APP-0002' }], totalMinor: 9900 },
    placed + 7_200_000,
  );
  await eventually(
    () => ordersOf(user),
    (os) => os.length === 2,
    5000,
  );
  await say(user, 'c-track-2', 'where is my order');
  const ask = await reply('c-track-2');
  expect(ask.meta).toMatchObject({ intent: 'order_tracking', asked: 'order_id', lang: 'en' });
  await say(user, 'c-track-2', 'A1001');
  const answer = await reply('c-track-2', 2);
  expect(answer.meta).toMatchObject({ intent: 'order_tracking', answered: true });
  expect(answer.text).toMatch(/SF1234567890/);
});

it('a redelivered user turn gets no second reply', async () => {
  const eventId = await say('u-redeliver', 'c-redeliver', 'hello');
  await reply('c-redeliver');
  // the same turn again under another message id (past JetStream's duplicate window)
  const again = buildEnvelope(
    'chat_turn',
    { shopId: SHOP, userId: 'u-redeliver', channel: 3, eventId },
    { conversationId: 'c-redeliver', role: 1, text: 'hello', turnIndex: 1, channel: 3 },
  );
  const p = partitionOf(SHOP, 'u-redeliver', config.nats.partitions);
  await nc.jetstream().publish(eventSubject(config.nats.prefix, p, 'chat_turn'), encodeEnvelope(again), {
    msgID: `${eventId}-again`,
  });
  await eventually(
    () => Promise.resolve(service.metrics),
    () => repliesTo('c-redeliver').length >= 2,
    10_000,
  );
  const rs = repliesTo('c-redeliver');
  expect(rs.map((r) => r.eventId)).toEqual([rs[0]!.eventId, rs[0]!.eventId]); // published again, same id
  const botTurns = (await eventsOf('chat_turn')).filter(
    (t) => t.conversationId === 'c-redeliver' && Number(t.role) === 2,
  );
  expect(botTurns).toHaveLength(1); // JetStream kept one
});

it('hands over on request and on anger, then stays quiet while a human has the conversation', async () => {
  await say('u-human', 'c-human', '转人工');
  const r1 = await reply('c-human');
  expect(r1.meta).toMatchObject({ intent: 'human_handoff', handoff: 'explicit_request' });
  await say('u-angry', 'c-angry', 'this is ridiculous!!! my parcel is 2 weeks late, worst shop ever');
  const r2 = await reply('c-angry');
  expect(r2.meta).toMatchObject({ handoff: 'negative_sentiment', sentiment: 'angry' });
  const handoffs = await eventually(
    () => eventsOf('handoff_requested'),
    (hs) => hs.filter((h) => ['c-human', 'c-angry'].includes(h.conversationId ?? '')).length >= 2,
    5000,
  );
  expect(handoffs.find((h) => h.conversationId === 'c-human')?.reason).toMatch(/explicit|request/);
  // the user writes again while waiting for the agent: no bot reply
  await say('u-human', 'c-human', 'hello? anyone?');
  await say('u-human', 'c-human-probe', 'hi'); // a later turn of the same user, another conversation
  await reply('c-human-probe');
  expect(repliesTo('c-human')).toHaveLength(1);
});

it('remembers the size a user gave in the app when they ask again in the mini program', async () => {
  const user = 'u-size';
  await say(user, 'c-size-app', '我身高175cm体重70kg，T恤穿什么码', 'app');
  const r1 = await reply('c-size-app');
  expect(r1.meta).toMatchObject({ intent: 'size_fit', answered: true });
  await say(user, 'c-size-wx', '那外套要买哪个尺码', 'mini_program'); // a new conversation
  const r2 = await reply('c-size-wx');
  expect(r2.meta.intent).toBe('size_fit');
  expect(r2.meta.asked).toBeUndefined(); // not asked again
  expect(r2.text).toMatch(/175/);
});

it('uses a knowledge-base entry added while it runs', async () => {
  const question = 'can i bring my llama to the flagship store';
  await say('u-kb', 'c-kb-1', question);
  const before = await reply('c-kb-1');
  expect(before.meta.kbEntry ?? '').not.toBe('store.llamas');
  writeFileSync(
    path.join(kbDir, 'store.yaml'),
    [
      '- id: store.llamas',
      '  version: 1',
      '  intent: product_info',
      '  title: { zh: 门店宠物, en: Pets and llamas in our stores }',
      '  questions:',
      '    zh: [可以带羊驼去旗舰店吗, 门店能带宠物吗]',
      '    en: [can i bring my llama to the store, are pets and llamas allowed in the flagship store]',
      '  answer:',
      '    zh: 旗舰店欢迎牵绳的小型宠物，羊驼请留在店外。',
      '    en: Small pets on a leash are welcome in our flagship stores; llamas wait outside.',
      '',
    ].join('\n'),
  );
  await eventually(
    async () => {
      const c = `c-kb-${++turnCounter}`;
      await say('u-kb', c, question);
      return (await reply(c)).meta.kbEntry;
    },
    (entry) => entry?.startsWith('store.llamas@') === true,
    10_000,
  );
});

it('hostile or empty text never stops the bot', async () => {
  const texts = [
    '',
    ' ',
    '😡😡😡???',
    '<script>alert(1)</script><img src=x onerror=alert(2)>',
    "'; DROP TABLE events; --",
    '\u0000\u0007\u202e',
    'x'.repeat(8192),
  ];
  for (const [i, text] of texts.entries()) {
    const e = buildEnvelope(
      'chat_turn',
      { shopId: SHOP, userId: `u-hostile-${i}`, channel: 3 },
      { conversationId: `c-hostile-${i}`, role: 1, text, turnIndex: 1, channel: 3 },
    );
    const p = partitionOf(SHOP, `u-hostile-${i}`, config.nats.partitions);
    await nc.jetstream().publish(eventSubject(config.nats.prefix, p, 'chat_turn'), encodeEnvelope(e), {
      msgID: e.eventId!,
    });
  }
  // the bot still answers the next user, and every hostile reply is plain text
  await say('u-after', 'c-after', 'hi');
  await reply('c-after');
  for (const r of replies.filter((x) => x.conversationId.startsWith('c-hostile-')))
    expect(r.text).not.toMatch(/<script|DROP TABLE/i);
});
