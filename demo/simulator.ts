// Simulated shop traffic: users browse, search, filter, add to and remove from carts; some check out,
// some abandon, some chat. Each user's journey is planned up front (pure, seeded) and then sent
// through the producer SDK, one user's events in order, many users at once. Products come from the
// shipped catalog (catalog/products.json); searches and chat use its vocabulary, in English, Chinese
// or both.
import {
  channelValue,
  type ChannelName,
  type EventType,
  type PayloadMap,
  type Product,
} from '../schemas/events';
import type { Producer, TrackInput } from '../streams/producer/producer';
import {
  demoCatalog,
  hasAttribute,
  pickTerm,
  preferenceAttributes,
  productsIn,
  type CatalogProduct,
  type Lang,
  type LoadedCatalog,
} from './catalog';
import { planFulfilment } from './fulfilment';
import { chatScript } from './chat-script';
import { intBetween, mulberry32, pick } from './random';

export interface PlannedEvent<T extends EventType = EventType> {
  type: T;
  input: TrackInput<T>;
  /**
   * Sent at least this long (real time, ms) after the user's previous event: the chat desk's pauses
   * (an agent accepting, answering, closing), so the escalation's SLA clocks see them.
   */
  afterMs?: number;
}

export interface SimUser {
  userId: string;
  /** Hidden true preference, for measuring interest quality later: 75% of views are in it. */
  preferredCategory: string;
  /**
   * Hidden preferred attribute within that category, as a feature name (e.g. attr:battery:long):
   * biases which of the category's products the user views and carts, and what they search for.
   */
  preferredAttribute: string;
  /** The language the user types in: English, Chinese, or a mix of both. */
  language: Lang | 'mixed';
  events: PlannedEvent[];
}

const CHANNELS: ChannelName[] = ['web', 'app', 'mini_program', 'social'];
const CHAT_LINES: Record<Lang, string[]> = {
  en: [
    'is this available in another size?',
    'when will my order arrive?',
    'can I use a coupon on this?',
    'how do I return an item?',
  ],
  zh: ['还有其他尺码吗?', '我的订单什么时候到?', '这个可以用优惠券吗?', '怎么退货?'],
};
/** Chat lines that mention the user's interests: {p} is a phrase such as "长续航充电宝". */
const INTEREST_LINES: Record<Lang, string[]> = {
  en: [
    'is this {p} any good?',
    'looking for {p}, any suggestions?',
    'do you have {p} in stock?',
    'which {p} would you recommend?',
  ],
  zh: ['这个{p}怎么样?', '有没有{p}推荐一下?', '想买{p},有什么推荐吗?', '{p}有现货吗?'],
};
const AGENT_LINES: Record<Lang, [string, string]> = {
  en: [
    'Hi, this is the support team: let me look into this for you.',
    'All done - anything else I can help with?',
  ],
  zh: ['您好,我是人工客服,我来帮您处理。', '已经为您处理好了,还有其他问题吗?'],
};
const USER_THANKS: Record<Lang, string> = { en: 'thanks!', zh: '谢谢!' };
const ASSISTANT_LINES: Record<Lang, string> = {
  en: 'Happy to help - here is what I found.',
  zh: '好的,我帮您看看,这是为您找到的商品。',
};

/**
 * A simulated user's time zone, on every event they send: mostly Asia/Shanghai, some New York and
 * Berlin, a few as a fixed offset. From the index, not the random stream, so journeys stay as seeded.
 */
export function simTimeZone(index: number): string {
  const r = (index * 61) % 100; // 61 is prime to 100: every 100 users cover 0..99 once
  return r < 70 ? 'Asia/Shanghai' : r < 85 ? 'America/New_York' : r < 95 ? 'Europe/Berlin' : '+08:00';
}

/** A catalog product as it appears in carts and orders. */
export function asProduct(p: CatalogProduct, quantity = 1): Product {
  return {
    sku: p.sku,
    productId: p.sku,
    name: p.nameEn,
    category: p.category,
    brand: p.brand,
    priceMinor: p.priceMinor,
    quantity,
  };
}

/** Plans one user's journey. `t0` is the simulated start (epoch ms); events are seconds to minutes apart. */
export function planUser(
  seed: number,
  index: number,
  catalog: LoadedCatalog,
  t0: number,
  cartTag = '',
): SimUser {
  const rnd = mulberry32(seed * 1_000_003 + index);
  const userId = `u${String(index).padStart(6, '0')}`;
  const preferredCategory = pick(rnd, catalog.categories);
  const preferredAttribute = pick(rnd, preferenceAttributes(catalog, preferredCategory));
  const r = rnd();
  const language: SimUser['language'] = r < 0.45 ? 'en' : r < 0.8 ? 'zh' : 'mixed';
  const lang = (): Lang => (language === 'mixed' ? (rnd() < 0.5 ? 'en' : 'zh') : language);
  const channel = pick(rnd, CHANNELS);
  const sessionId = `s-${userId}-1`;
  const timeZone = simTimeZone(index);
  let t = t0 + Math.floor(rnd() * 3_600_000);
  const events: PlannedEvent[] = [];
  const push = <T extends EventType>(type: T, properties: PayloadMap[T]): void => {
    t += intBetween(rnd, 3, 90) * 1000;
    events.push({ type, input: { userId, sessionId, channel, occurredAt: t, timeZone, properties } });
  };

  const inCategory = productsIn(catalog, preferredCategory);
  const withAttribute = inCategory.filter((p) => hasAttribute(p, preferredAttribute));
  // mostly the preferred category, and within it mostly products with the preferred attribute;
  // sometimes anything
  const browse = (): CatalogProduct =>
    rnd() < 0.75 ? pick(rnd, rnd() < 0.7 ? withAttribute : inCategory) : pick(rnd, catalog.products);

  // a search in the user's words: an attribute term, a category term, or both ("长续航手机",
  // "drop-proof case", "dark roast coffee beans")
  const attributeTerm = (l: Lang): string => pickTerm(rnd, catalog, preferredAttribute, l);
  const categoryTerm = (l: Lang): string => pickTerm(rnd, catalog, `category:${preferredCategory}`, l);
  const categoryIndex = catalog.features.index.get(`category:${preferredCategory}`) ?? -1;
  /** The preference in words: "long battery phone", "长续航手机", "drop-proof case", "防摔手机壳". */
  const phrase = (l: Lang): string => {
    const a = attributeTerm(l);
    // "power bank" already says phone_accessories; "dark roast" already says coffee beans
    const impliesCategory = (catalog.textFeatures(a).get(categoryIndex) ?? 0) >= 0.5;
    if (impliesCategory && rnd() < 0.5) return a;
    return l === 'zh' ? `${a}${categoryTerm(l)}` : `${a} ${categoryTerm(l)}`;
  };
  const query = (): string => {
    const l = lang();
    const kind = rnd();
    return kind < 0.15 ? categoryTerm(l) : kind < 0.3 ? attributeTerm(l) : phrase(l);
  };
  if (rnd() < 0.5) push('products_searched', { query: query(), resultCount: intBetween(rnd, 3, 40) });
  if (rnd() < 0.3) {
    const band = pick(rnd, ['budget', 'mid', 'premium'] as const);
    const range = catalog.priceRange(preferredCategory, band);
    const filters = [
      {
        type: 'price',
        value: range ? `${Math.floor(range.minMinor / 100)}-${Math.ceil(range.maxMinor / 100)}` : '0-50',
      },
    ];
    const [, key, value] = preferredAttribute.split(':');
    if (key && value && rnd() < 0.5) filters.push({ type: key, value });
    push('product_list_filtered', {
      category: preferredCategory,
      filters,
      sorts: [{ type: 'price', value: 'asc' }],
      resultCount: intBetween(rnd, 5, 60),
    });
  }
  const viewed: CatalogProduct[] = [];
  for (let i = intBetween(rnd, 2, 12); i > 0; i--) {
    const p = browse();
    viewed.push(p);
    push('product_viewed', { product: asProduct(p), currency: 'USD' });
  }
  // Recommendations on the last product page (40% of visits): what goes with it (association rules)
  // and more of the user's category (interest); a click (30% of them) opens the product, which may
  // then go into the cart. Their own random stream, so the rest of the journey's draws stay as seeded.
  const recRnd = mulberry32(seed * 3_001_003 + index * 13 + 7);
  const last = viewed[viewed.length - 1];
  if (last && recRnd() < 0.4) {
    const pushRec = <T extends EventType>(type: T, properties: PayloadMap[T]): void => {
      t += intBetween(recRnd, 2, 30) * 1000;
      events.push({ type, input: { userId, sessionId, channel, occurredAt: t, timeZone, properties } });
    };
    const seen = new Set(viewed.map((p) => p.sku));
    const fresh = (pool: readonly CatalogProduct[], n: number): CatalogProduct[] =>
      pool.filter((p) => !seen.has(p.sku)).slice(0, n);
    const shown = [
      ...fresh(complementsOf(catalog, last)?.pool ?? [], 2).map((p) => ({ p, source: 'association_rule' })),
      ...fresh(inCategory, 3).map((p) => ({ p, source: 'interest' })),
    ].slice(0, 4);
    if (shown.length > 0) {
      const listId = `rec-${userId}-1${cartTag}`;
      const items = shown.map((x, i) => ({ sku: x.p.sku, source: x.source, position: i + 1 }));
      pushRec('recommendation_shown', { listId, items, placement: 'product_page', contextSku: last.sku });
      if (recRnd() < 0.3) {
        const at = recRnd() < 0.6 ? 0 : Math.floor(recRnd() * shown.length);
        const { p, source } = shown[at]!;
        pushRec('recommendation_clicked', { listId, sku: p.sku, source, position: at + 1 });
        pushRec('product_viewed', { product: asProduct(p), currency: 'USD' });
        viewed.push(p);
      }
    }
  }

  const cart = new Map<string, { p: CatalogProduct; qty: number }>();
  const cartId = `c-${userId}-1${cartTag}`;
  const total = (): number => [...cart.values()].reduce((s, x) => s + x.p.priceMinor * x.qty, 0);
  // carts favour what was viewed in the preferred category with the preferred attribute
  const liked = viewed.filter((p) => p.category === preferredCategory && hasAttribute(p, preferredAttribute));
  if (rnd() < 0.45) {
    for (let i = intBetween(rnd, 1, 3); i > 0; i--) {
      const p = liked.length && rnd() < 0.7 ? pick(rnd, liked) : pick(rnd, viewed);
      const existing = cart.get(p.sku);
      if (existing) {
        const previous = existing.qty;
        existing.qty++;
        push('cart_item_quantity_changed', {
          cartId,
          product: asProduct(p, existing.qty),
          previousQuantity: previous,
          cartTotalMinor: total(),
          currency: 'USD',
        });
      } else {
        cart.set(p.sku, { p, qty: 1 });
        push('cart_item_added', { cartId, product: asProduct(p), cartTotalMinor: total(), currency: 'USD' });
      }
    }
    if (cart.size > 1 && rnd() < 0.25) {
      const [sku, item] = [...cart.entries()][0]!;
      cart.delete(sku);
      push('cart_item_removed', {
        cartId,
        product: asProduct(item.p, item.qty),
        cartTotalMinor: total(),
        currency: 'USD',
      });
    }
  }

  // The chat desk: its own random stream, so adding it left every other draw of the journey as seeded.
  const deskRnd = mulberry32(seed * 7_919_993 + index * 31 + 5);
  const pushDesk = <T extends EventType>(type: T, properties: PayloadMap[T], afterMs?: number): void => {
    t += intBetween(deskRnd, 2, 20) * 1000;
    // the visit's user and channel (the order's fulfilment events come from the shop's server)
    const input = { userId, sessionId, channel, occurredAt: t, timeZone, properties } as TrackInput<T>;
    events.push({ type, input, ...(afterMs !== undefined ? { afterMs } : {}) });
  };
  // A conversation with the bot (15% of visits): only the user's turns; the bot answers on the
  // stream. Its own random stream, so the rest of the journey stays as seeded.
  let wantsHuman: { conversationId: string; lang: Lang; turnIndex: number } | undefined;
  if (rnd() < 0.15) {
    const chatRnd = mulberry32(seed * 5_003_003 + index * 17 + 3);
    const conversationId = `conv-${userId}-1${cartTag}`;
    const script = chatScript(chatRnd, { lang: language, channel, productPhrase: phrase(lang()) });
    script.turns.forEach((turn, turnIndex) => {
      t += intBetween(chatRnd, 5, 40) * 1000;
      const properties = {
        conversationId,
        role: 1,
        text: turn.text,
        channel: channelValue(turn.channel),
        turnIndex,
      };
      events.push({
        type: 'chat_turn',
        input: { userId, sessionId, channel: turn.channel, occurredAt: t, timeZone, properties },
      });
    });
    if (script.wantsHuman)
      wantsHuman = { conversationId, lang: language === 'en' ? 'en' : 'zh', turnIndex: script.turns.length };
  }

  if (cart.size > 0 && rnd() < 0.6) {
    const products = [...cart.values()].map((x) => asProduct(x.p, x.qty));
    push('checkout_started', { cartId, products, totalMinor: total(), currency: 'USD' });
    if (rnd() < 0.7) {
      const orderId = `o-${userId}-1${cartTag}`;
      push('order_placed', { orderId, cartId, products, totalMinor: total(), currency: 'USD' });
      // paid, shipped, delivered as the shop's server reports them, up to the simulated now (t0 + 2 h)
      const shipRnd = mulberry32(seed * 3_000_017 + index * 13 + 11);
      const order = { orderId, placedAt: t, totalMinor: total(), currency: 'USD' };
      for (const f of planFulfilment(shipRnd, order, t0 + 2 * 3_600_000)) {
        const input = { userId, sessionId, channel: 'server' as const, occurredAt: f.at, timeZone };
        events.push({ type: f.type, input: { ...input, properties: f.properties } });
      }
    }
  }
  if (wantsHuman) {
    // The desk, in real time (afterMs), after the visit (so no cart event waits for it): the bot
    // hands the conversation over when the user asks for a human or is angry; an agent accepts (85%)
    // 8-15 s later, answers, and it is resolved (80%) or the user leaves; some never get an agent.
    const { conversationId, lang: l } = wantsHuman;
    let turnIndex = wantsHuman.turnIndex * 2;
    const secs = (lo: number, hi: number): number => intBetween(deskRnd, lo, hi) * 1000;
    if (deskRnd() < 0.85) {
      const agentId = `agent-${intBetween(deskRnd, 1, 4)}`;
      const agentTurn = (text: string, afterMs: number): void =>
        pushDesk(
          'chat_turn',
          { conversationId, role: 3, text, channel: 0, turnIndex: turnIndex++, agentId },
          afterMs,
        );
      pushDesk('agent_accepted', { conversationId, agentId }, secs(8, 15));
      agentTurn(AGENT_LINES[l][0], secs(1, 3));
      if (deskRnd() < 0.8) {
        agentTurn(AGENT_LINES[l][1], secs(2, 8));
        pushDesk(
          'chat_turn',
          { conversationId, role: 1, text: USER_THANKS[l], channel: 0, turnIndex: turnIndex++ },
          secs(1, 3),
        );
        pushDesk('conversation_closed', { conversationId, reason: 'resolved', agentId }, secs(1, 6));
      } else {
        pushDesk('conversation_closed', { conversationId, reason: 'user_left' }, secs(2, 10));
      }
    } else {
      pushDesk('conversation_closed', { conversationId, reason: 'user_left' }, secs(10, 20));
    }
  }
  return { userId, preferredCategory, preferredAttribute, language, events };
}

export interface SimulationOptions {
  users: number;
  seed: number;
  /** Users sending at once; each user's own events are always sent one after another. */
  concurrency?: number;
  t0?: number;
  /** Default: the shipped catalog. */
  catalog?: LoadedCatalog;
  onProgress?: (p: { sent: number; planned: number; usersDone: number }) => void;
  /**
   * Appended to cart, order and conversation ids (the demo: one run's carts and conversations are new
   * ones, with new flows).
   */
  cartTag?: string;
}

export interface SimulationResult {
  sent: number;
  duplicates: number;
  failed: number;
  byType: Record<string, number>;
  users: number;
  durationMs: number;
}

export function planSimulation(
  opts: Pick<SimulationOptions, 'users' | 'seed' | 't0' | 'catalog' | 'cartTag'>,
): SimUser[] {
  const catalog = opts.catalog ?? demoCatalog();
  const t0 = opts.t0 ?? Date.now() - 2 * 3_600_000;
  return Array.from({ length: opts.users }, (_, i) => planUser(opts.seed, i, catalog, t0, opts.cartTag));
}

export async function runSimulation(producer: Producer, opts: SimulationOptions): Promise<SimulationResult> {
  const started = Date.now();
  const users = planSimulation(opts);
  const planned = users.reduce((s, u) => s + u.events.length, 0);
  const result: SimulationResult = {
    sent: 0,
    duplicates: 0,
    failed: 0,
    byType: {},
    users: users.length,
    durationMs: 0,
  };
  let next = 0;
  let usersDone = 0;
  const send = async (e: PlannedEvent): Promise<void> => {
    try {
      const r = await producer.track(e.type, e.input);
      result.sent++;
      if (r.duplicate) result.duplicates++;
      result.byType[e.type] = (result.byType[e.type] ?? 0) + 1;
    } catch {
      result.failed++;
    }
  };
  // a user's events from the first paused one (the chat desk's) go on in the background, in order,
  // so the pauses hold no sender
  const paused: Promise<void>[] = [];
  const sendPaused = async (events: PlannedEvent[]): Promise<void> => {
    for (const e of events) {
      if (e.afterMs) await new Promise((r) => setTimeout(r, e.afterMs));
      // the desk works in real time: its events carry the time they happen, so the escalations'
      // SLA clocks (which count from the events' times) see the waits the pauses make
      await send({ ...e, input: { ...e.input, occurredAt: Date.now() } });
    }
  };
  const worker = async (): Promise<void> => {
    while (next < users.length) {
      const user = users[next++]!;
      const split = user.events.findIndex((e) => e.afterMs !== undefined);
      for (const e of split < 0 ? user.events : user.events.slice(0, split)) await send(e);
      if (split >= 0) paused.push(sendPaused(user.events.slice(split)));
      usersDone++;
    }
  };
  const timer = setInterval(() => opts.onProgress?.({ sent: result.sent, planned, usersDone }), 250);
  try {
    await Promise.all(Array.from({ length: opts.concurrency ?? 400 }, () => worker()));
    await Promise.all(paused);
  } finally {
    clearInterval(timer);
  }
  opts.onProgress?.({ sent: result.sent, planned, usersDone });
  result.durationMs = Date.now() - started;
  return result;
}

// ---------------------------------------------------------------------------------------------
// Shoppers over weeks, for measuring interest and recommendation quality (bench/quality.ts).
//
// planUser above is one short visit; planShopper is a customer's history: several sessions days
// apart, each a small journey like planUser's, with orders. What drives it is hidden from the
// pipeline and known to the benchmark:
//   - preferredCategory / preferredAttribute, as in planUser: most sessions are about them;
//   - product appeal: within a category some products sell better than others (a fixed, shop-wide
//     Zipf-like skew, productAppeal), so shoppers view and buy the appealing ones more often;
//   - complements (complementsOf): an espresso machine wants dark-roast beans, a phone a case, a
//     power bank or a charger, shoes a matching outfit. A complement is added to the same order
//     ("bought together") or becomes the need of a later session.
// Seeded and pure: the same (seed, index) gives the same history.

export type SessionKind = 'preferred' | 'complement' | 'explore';

export interface SimOrder {
  orderId: string;
  occurredAt: number;
  /** Distinct skus of the order. */
  skus: string[];
  /** Index into SimShopper.sessions. */
  session: number;
}

export interface SimShopper extends SimUser {
  /** Sessions in time order: when each started and what it was about. */
  sessions: { startedAt: number; kind: SessionKind; category: string }[];
  orders: SimOrder[];
}

export interface ShopperOptions {
  /** Sessions per shopper, inclusive range. Default 5-9. */
  sessions?: [number, number];
  /** Days between the starts of two sessions, range. Default 1-6. */
  gapDays?: [number, number];
}

export interface Complement {
  /** Products that go with the bought one. */
  pool: readonly CatalogProduct[];
  /** Chance a complement is added to the same order. */
  inBasket: number;
  /** Otherwise, chance the shopper comes back for one in a later session. */
  later: number;
}

const appealCache = new WeakMap<LoadedCatalog, Map<string, number>>();

/**
 * How well each product sells relative to others in its category: products ranked by a hash of
 * the sku (a fixed, arbitrary order), appeal 1 / (rank + 1)^0.8. Shop-wide, the same for everyone.
 */
export function productAppeal(catalog: LoadedCatalog, sku: string): number {
  let appeal = appealCache.get(catalog);
  if (!appeal) {
    appeal = new Map();
    const hash = (s: string): number => {
      let h = 0x811c9dc5;
      for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
      return h;
    };
    for (const c of catalog.categories) {
      const ranked = [...catalog.productsIn(c)].sort(
        (a, b) => hash(a.sku) - hash(b.sku) || (a.sku < b.sku ? -1 : 1),
      );
      ranked.forEach((p, rank) => appeal!.set(p.sku, 1 / Math.pow(rank + 1, 0.8)));
    }
    appealCache.set(catalog, appeal);
  }
  return appeal.get(sku) ?? 0;
}

/** Picks a product with probability proportional to its appeal. */
function pickAppealing(
  rnd: () => number,
  catalog: LoadedCatalog,
  items: readonly CatalogProduct[],
): CatalogProduct {
  let total = 0;
  for (const p of items) total += productAppeal(catalog, p.sku);
  let u = rnd() * total;
  for (const p of items) {
    u -= productAppeal(catalog, p.sku);
    if (u <= 0) return p;
  }
  return items[items.length - 1]!;
}

/** What goes with a product (see the header of this section); undefined when nothing does. */
export function complementsOf(catalog: LoadedCatalog, p: CatalogProduct): Complement | undefined {
  const a = p.attributes;
  const where = (category: string, test: (q: CatalogProduct) => boolean): CatalogProduct[] =>
    catalog.productsIn(category).filter((q) => q.sku !== p.sku && test(q));
  let pool: CatalogProduct[] = [];
  let inBasket = 0;
  let later = 0;
  switch (p.category) {
    case 'coffee_machines': {
      const roasts =
        a['type'] === 'espresso' || a['type'] === 'frother'
          ? ['dark']
          : a['type'] === 'drip'
            ? ['medium']
            : ['light', 'medium'];
      pool = where('coffee_beans', (q) => roasts.includes(q.attributes['roast'] ?? ''));
      [inBasket, later] = [0.5, 0.4];
      break;
    }
    case 'phones': {
      const wanted =
        a['battery'] === 'standard'
          ? (q: CatalogProduct) => q.attributes['type'] === 'power_bank'
          : a['durability'] === 'rugged'
            ? (q: CatalogProduct) =>
                q.attributes['durability'] === 'rugged' && q.attributes['type'] !== 'power_bank'
            : (q: CatalogProduct) => q.attributes['type'] === 'case' || q.attributes['charging'] === 'fast';
      pool = where('phone_accessories', wanted);
      [inBasket, later] = [0.45, 0.35];
      break;
    }
    case 'shoes':
    case 'apparel': {
      const other = p.category === 'shoes' ? 'apparel' : 'shoes';
      pool = where(other, (q) => q.attributes['style'] !== undefined && q.attributes['style'] === a['style']);
      [inBasket, later] = [0.15, 0.1];
      break;
    }
    case 'beauty': {
      pool = where(
        'beauty',
        (q) => q.attributes['skin_type'] === a['skin_type'] && q.attributes['type'] !== a['type'],
      );
      [inBasket, later] = [0.25, 0.15];
      break;
    }
    default:
      return undefined;
  }
  return pool.length > 0 ? { pool, inBasket, later } : undefined;
}

/**
 * Plans one shopper's history over weeks (see the header of this section). Sessions start
 * `gapDays` apart from `t0`; within a session events are seconds to minutes apart.
 */
export function planShopper(
  seed: number,
  index: number,
  catalog: LoadedCatalog,
  t0: number,
  opts: ShopperOptions = {},
): SimShopper {
  const rnd = mulberry32(seed * 7_919 + index * 104_729 + 17);
  const userId = `s${String(index).padStart(6, '0')}`;
  const timeZone = simTimeZone(index);
  const preferredCategory = pick(rnd, catalog.categories);
  const preferredAttribute = pick(rnd, preferenceAttributes(catalog, preferredCategory));
  const r = rnd();
  const language: SimUser['language'] = r < 0.45 ? 'en' : r < 0.8 ? 'zh' : 'mixed';
  const lang = (): Lang => (language === 'mixed' ? (rnd() < 0.5 ? 'en' : 'zh') : language);
  const channel = pick(rnd, CHANNELS);
  const [minSessions, maxSessions] = opts.sessions ?? [5, 9];
  const [minGap, maxGap] = opts.gapDays ?? [1, 6];
  const inCategory = productsIn(catalog, preferredCategory);
  const withAttribute = inCategory.filter((p) => hasAttribute(p, preferredAttribute));
  const categoryIndex = catalog.features.index.get(`category:${preferredCategory}`) ?? -1;
  const phrase = (l: Lang): string => {
    const a = pickTerm(rnd, catalog, preferredAttribute, l);
    const impliesCategory = (catalog.textFeatures(a).get(categoryIndex) ?? 0) >= 0.5;
    if (impliesCategory && rnd() < 0.5) return a;
    const c = pickTerm(rnd, catalog, `category:${preferredCategory}`, l);
    return l === 'zh' ? `${a}${c}` : `${a} ${c}`;
  };

  const events: PlannedEvent[] = [];
  const sessions: SimShopper['sessions'] = [];
  const orders: SimOrder[] = [];
  const needs: Complement[] = [];
  const bought = new Set<string>();
  let start = t0 + Math.floor(rnd() * 86_400_000);
  const count = intBetween(rnd, minSessions, maxSessions);

  for (let s = 0; s < count; s++) {
    if (s > 0) start += Math.floor((minGap + rnd() * (maxGap - minGap)) * 86_400_000);
    let t = start;
    const sessionId = `s-${userId}-${s + 1}`;
    const cartId = `c-${userId}-${s + 1}`;
    const push = <T extends EventType>(type: T, properties: PayloadMap[T]): void => {
      t += intBetween(rnd, 3, 90) * 1000;
      events.push({ type, input: { userId, sessionId, channel, occurredAt: t, timeZone, properties } });
    };

    // what the session is about
    let kind: SessionKind = 'preferred';
    let need: Complement | undefined;
    if (needs.length > 0 && rnd() < 0.5) {
      kind = 'complement';
      need = needs.shift()!;
    } else if (rnd() < 0.1) kind = 'explore';
    const exploreCategory = kind === 'explore' ? pick(rnd, catalog.categories) : preferredCategory;
    const focus: readonly CatalogProduct[] =
      kind === 'complement'
        ? need!.pool
        : kind === 'explore'
          ? productsIn(catalog, exploreCategory)
          : withAttribute;
    const category = focus[0]?.category ?? preferredCategory;
    sessions.push({ startedAt: start, kind, category });
    /** A product to look at: mostly the session's focus, appealing ones more often; sometimes anything. */
    const browse = (): CatalogProduct => {
      const u = rnd();
      if (kind !== 'preferred')
        return u < 0.8 ? pickAppealing(rnd, catalog, focus) : pick(rnd, catalog.products);
      return u < 0.55
        ? pickAppealing(rnd, catalog, withAttribute)
        : u < 0.8
          ? pickAppealing(rnd, catalog, inCategory)
          : pick(rnd, catalog.products);
    };

    if (kind === 'preferred' && rnd() < 0.5) {
      const l = lang();
      const k = rnd();
      const query =
        k < 0.15
          ? pickTerm(rnd, catalog, `category:${preferredCategory}`, l)
          : k < 0.3
            ? pickTerm(rnd, catalog, preferredAttribute, l)
            : phrase(l);
      push('products_searched', { query, resultCount: intBetween(rnd, 3, 40) });
    } else if (kind !== 'preferred' && rnd() < 0.3) {
      push('products_searched', {
        query: pickTerm(rnd, catalog, `category:${category}`, lang()),
        resultCount: intBetween(rnd, 3, 40),
      });
    }
    if (kind === 'preferred' && rnd() < 0.25) {
      const [, key, value] = preferredAttribute.split(':');
      push('product_list_filtered', {
        category: preferredCategory,
        filters: key && value ? [{ type: key, value }] : [],
        sorts: [{ type: 'price', value: 'asc' }],
        resultCount: intBetween(rnd, 5, 60),
      });
    }
    const viewed: CatalogProduct[] = [];
    for (let i = intBetween(rnd, 3, 8); i > 0; i--) {
      const p = browse();
      viewed.push(p);
      push('product_viewed', { product: asProduct(p), currency: 'USD' });
    }

    // the cart: what was viewed in the focus (not bought before), sometimes anything viewed
    const cart = new Map<string, CatalogProduct>();
    const total = (): number => [...cart.values()].reduce((sum, p) => sum + p.priceMinor, 0);
    const inFocus = new Set(focus.map((p) => p.sku));
    const liked = viewed.filter((p) => inFocus.has(p.sku) && !bought.has(p.sku));
    const cartChance = kind === 'complement' ? 0.7 : kind === 'preferred' ? 0.5 : 0.15;
    if (rnd() < cartChance) {
      for (let i = intBetween(rnd, 1, 2); i > 0; i--) {
        const p = liked.length > 0 && rnd() < 0.85 ? pick(rnd, liked) : pick(rnd, viewed);
        if (cart.has(p.sku)) continue;
        cart.set(p.sku, p);
        push('cart_item_added', { cartId, product: asProduct(p), cartTotalMinor: total(), currency: 'USD' });
      }
      if (cart.size > 1 && rnd() < 0.15) {
        const [sku, p] = [...cart.entries()][cart.size - 1]!;
        cart.delete(sku);
        push('cart_item_removed', {
          cartId,
          product: asProduct(p),
          cartTotalMinor: total(),
          currency: 'USD',
        });
      }
    }
    if (rnd() < 0.1) {
      const l = lang();
      const text =
        rnd() < 0.5 ? pick(rnd, INTEREST_LINES[l]).replace('{p}', phrase(l)) : pick(rnd, CHAT_LINES[l]);
      const conversationId = `conv-${userId}-${s + 1}`;
      push('chat_turn', { conversationId, role: 1, text, channel: 0, turnIndex: 0 });
      push('chat_turn', { conversationId, role: 2, text: ASSISTANT_LINES[l], channel: 0, turnIndex: 1 });
    }

    if (cart.size > 0 && rnd() < 0.75) {
      // complements of what is in the cart: added now ("bought together"), or needed later
      for (const p of [...cart.values()]) {
        const c = complementsOf(catalog, p);
        if (!c) continue;
        if (rnd() < c.inBasket) {
          const candidates = c.pool.filter((q) => !cart.has(q.sku) && !bought.has(q.sku));
          if (candidates.length === 0) continue;
          const q = pickAppealing(rnd, catalog, candidates);
          cart.set(q.sku, q);
          push('cart_item_added', {
            cartId,
            product: asProduct(q),
            cartTotalMinor: total(),
            currency: 'USD',
          });
        } else if (rnd() < c.later) needs.push(c);
      }
      const products = [...cart.values()].map((p) => asProduct(p));
      push('checkout_started', { cartId, products, totalMinor: total(), currency: 'USD' });
      const orderId = `o-${userId}-${s + 1}`;
      push('order_placed', { orderId, cartId, products, totalMinor: total(), currency: 'USD' });
      orders.push({ orderId, occurredAt: t, skus: [...cart.keys()], session: s });
      for (const sku of cart.keys()) bought.add(sku);
    }
  }
  return { userId, preferredCategory, preferredAttribute, language, events, sessions, orders };
}
