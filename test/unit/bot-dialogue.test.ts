// The dialogue without I/O: slots remembered across turns and channels, no leak between two orders,
// handoff on each trigger, silence while a human has the conversation, one reply per user turn.
import { emptyState, type BotState, type Lang } from '../../bot/dialogue/state';
import { handleUserTurn, replyEventId, type TurnOutcome, type UserTurn } from '../../bot/dialogue/turn';
import type { BotPorts, OrderSummary, Understood } from '../../bot/dialogue/ports';
import { apparelSizeFor, shoeRow } from '../../bot/dialogue/size-chart';
import { loadCatalog } from '../../catalog';
import { newEventId } from '../../schemas/ulid';

const catalog = loadCatalog();
const shirt = catalog.products.find((p) => p.category === 'apparel')!;
const shoe = catalog.products.find((p) => p.category === 'shoes')!;

function order(orderId: string, status: string, tracking?: string): OrderSummary {
  return {
    orderId,
    status,
    placedAt: 1,
    ...(tracking ? { trackingNumber: tracking } : {}),
    describe: (lang: Lang) => (lang === 'zh' ? `订单${orderId}：${status}` : `Order ${orderId}: ${status}`),
  };
}

function ports(orders: OrderSummary[] = []): BotPorts {
  return {
    orders: () => Promise.resolve(orders),
    kbSearch: (text) =>
      /return|退/.test(text)
        ? [{ id: 'returns.seven-day', version: 2, answer: 'RETURNS', score: 9, confident: true }]
        : [],
    kbVersion: () => 'kb-1',
    product: (sku) => catalog.bySku.get(sku),
    productsIn: (text) => catalog.products.filter((p) => text.includes(p.sku)),
    recommend: () => Promise.resolve([{ product: shirt, reason: 'r' }]),
    complements: () => Promise.resolve([]),
    coupons: () => Promise.resolve({ tier: 'new', coupons: [] }),
  };
}

function understood(
  intent: string,
  slots: Understood['slots'] = {},
  extra: Partial<Understood> = {},
): Understood {
  return { intent, confidence: 0.9, slots, sentiment: { label: 'neutral', score: 0 }, lang: 'en', ...extra };
}

let index = 0;
function turn(text: string, conversationId = 'c1', channel = 'app', sku?: string): UserTurn {
  return {
    eventId: newEventId(),
    conversationId,
    channel,
    text,
    at: Date.now(),
    turnIndex: index++,
    ...(sku ? { sku } : {}),
  };
}

async function say(
  state: BotState,
  t: UserTurn,
  u: Understood,
  p = ports(),
): Promise<{ state: BotState; out: TurnOutcome }> {
  const out = await handleUserTurn(state, t, u, p, Date.now());
  return { state: out.kind === 'replay' ? state : out.state, out };
}

const text = (out: TurnOutcome): string => (out.kind === 'assist' ? '' : out.reply.text);

test('a size given once is never asked again, on another conversation and channel', async () => {
  let s = emptyState('shop', 'u1');
  ({ state: s } = await say(
    s,
    turn('I am 175cm 70kg', 'c1', 'app'),
    understood('size_fit', { heightCm: 175, weightKg: 70 }),
  ));
  const next = await say(s, turn(`which size for ${shirt.sku}`, 'c2', 'wechat'), understood('size_fit'));
  expect(text(next.out)).toContain(apparelSizeFor(175, 70)!);
  expect(next.out.kind === 'reply' && next.out.reply.meta.asked).toBeFalsy();
});

test('the bot asks for what it needs, and a bare answer continues the question', async () => {
  const p = ports([order('A1001', 'shipped', 'SF1234567890'), order('A1002', 'paid')]);
  let s = emptyState('shop', 'u1');
  let r = await say(s, turn('where is my order'), understood('order_tracking'), p);
  expect(r.out.kind === 'reply' && r.out.reply.meta.asked).toBe('order_id');
  s = r.state;
  r = await say(
    s,
    turn('SF1234567890'),
    understood('fallback', { orderId: 'SF1234567890' }, { confidence: 0.2 }),
    p,
  );
  expect(text(r.out)).toBe('Order A1001: shipped');
  expect(r.out.kind === 'reply' && r.out.reply.meta.answered).toBe(true);
});

test("one order's details never answer a question about another order", async () => {
  const p = ports([order('A1001', 'shipped'), order('A1002', 'paid')]);
  let s = emptyState('shop', 'u1');
  ({ state: s } = await say(
    s,
    turn('where is A1001'),
    understood('order_tracking', { orderId: 'A1001' }),
    p,
  ));
  const r = await say(s, turn('and my other order?'), understood('order_tracking'), p);
  expect(text(r.out)).not.toContain('A1001: shipped');
  expect(r.out.kind === 'reply' && r.out.reply.meta.asked).toBe('order_id');
  // and an order slot expires with time
  const later = await handleUserTurn(
    s,
    turn('where is it'),
    understood('order_tracking'),
    p,
    Date.now() + 3_600_000,
  );
  expect(later.kind === 'reply' && later.reply.meta.asked).toBe('order_id');
});

test.each([
  ['explicit_request', understood('human_handoff')],
  ['negative_sentiment', understood('order_tracking', {}, { sentiment: { label: 'angry', score: 0.9 } })],
])('handoff on %s', async (reason, u) => {
  const { out } = await say(emptyState('shop', 'u1'), turn('...'), u);
  expect(out.kind).toBe('reply');
  if (out.kind !== 'reply') return;
  expect(out.reply.meta.handoff).toBe(reason);
  expect(out.handoff?.reason).toBe(reason);
  expect(out.reply.handoffEventId).toBeDefined();
});

test('two low-confidence turns in a row hand over; one does not', async () => {
  let s = emptyState('shop', 'u1');
  const weak = understood('fallback', {}, { confidence: 0.1 });
  let r = await say(s, turn('blorp'), weak);
  expect(r.out.kind === 'reply' && r.out.reply.meta.handoff).toBeFalsy();
  s = r.state;
  r = await say(s, turn('zzzz'), weak);
  expect(r.out.kind === 'reply' && r.out.reply.meta.handoff).toBe('low_confidence');
});

test('while a human has the conversation the bot stays quiet and refreshes the suggestions', async () => {
  let s = emptyState('shop', 'u1');
  ({ state: s } = await say(s, turn('human please'), understood('human_handoff')));
  const r = await say(s, turn('I want to return it'), understood('return_refund'));
  expect(r.out.kind).toBe('assist');
  if (r.out.kind === 'assist') expect(r.out.suggestions).toContain('RETURNS');
});

test('a redelivered turn gets the same reply back, not a second one', async () => {
  const t = turn('hi');
  const first = await say(emptyState('shop', 'u1'), t, understood('greeting'));
  const again = await say(first.state, t, understood('greeting'));
  expect(again.out.kind).toBe('replay');
  if (first.out.kind === 'reply' && again.out.kind === 'replay') {
    expect(again.out.reply).toEqual(first.out.reply);
    expect(again.out.reply.replyEventId).toBe(replyEventId(t.eventId));
  }
});

test('answers come in the user language, citing the knowledge entry', async () => {
  const zh = await say(
    emptyState('shop', 'u1'),
    turn('怎么退货'),
    understood('return_refund', {}, { lang: 'zh' }),
  );
  expect(zh.out.kind === 'reply' && zh.out.reply.meta).toMatchObject({
    lang: 'zh',
    kbEntry: 'returns.seven-day@2',
    answered: true,
  });
  const hi = await say(emptyState('shop', 'u2'), turn('你好'), understood('greeting', {}, { lang: 'mixed' }));
  expect(text(hi.out)).toMatch(/您好/);
});

test('the product page the user chats from is the product in focus', async () => {
  const r = await say(
    emptyState('shop', 'u1'),
    turn('what is it made of', 'c1', 'web', shoe.sku),
    understood('product_info'),
  );
  expect(text(r.out)).toContain(shoe.nameEn);
});

test('size charts', () => {
  expect(apparelSizeFor(175, 70)).toBe('XL');
  expect(apparelSizeFor(160, 48)).toBe('S');
  expect(apparelSizeFor(165, 80)).toBe('XXL'); // the larger of what height and weight each suggest
  expect(apparelSizeFor()).toBeUndefined();
  expect(shoeRow('38码')?.eu).toBe(38);
  expect(shoeRow('36.5')?.eu).toBe(37);
});
