// Simulated shop traffic: users browse, search, filter, add to and remove from carts; some check out,
// some abandon, some chat. Each user's journey is planned up front (pure, seeded) and then sent
// through the producer SDK, one user's events in order, many users at once.
import type { ChannelName, EventType, PayloadMap, Product } from '../schemas/events';
import type { Producer, TrackInput } from '../streams/producer/producer';
import { CATEGORY_NAMES, buildCatalog, productsIn, type CatalogProduct } from './catalog';
import { intBetween, mulberry32, pick } from './random';

export interface PlannedEvent<T extends EventType = EventType> {
  type: T;
  input: TrackInput<T>;
}

export interface SimUser {
  userId: string;
  /** Hidden true preference, for measuring interest quality later. */
  preferredCategory: string;
  events: PlannedEvent[];
}

const CHANNELS: ChannelName[] = ['web', 'app', 'mini_program', 'social'];
const CHAT_LINES = [
  'is this available in another size?',
  'when will my order arrive?',
  'does this have a longer battery life?',
  'can I use a coupon on this?',
  'how do I return an item?',
];

function asProduct(p: CatalogProduct, quantity = 1): Product {
  return {
    sku: p.sku,
    productId: p.sku,
    name: p.name,
    category: p.category,
    brand: p.brand,
    priceMinor: p.priceMinor,
    quantity,
  };
}

/** Plans one user's journey. `t0` is the simulated start (epoch ms); events are seconds to minutes apart. */
export function planUser(seed: number, index: number, catalog: CatalogProduct[], t0: number): SimUser {
  const rnd = mulberry32(seed * 1_000_003 + index);
  const userId = `u${String(index).padStart(6, '0')}`;
  const preferredCategory = pick(rnd, CATEGORY_NAMES);
  const channel = pick(rnd, CHANNELS);
  const sessionId = `s-${userId}-1`;
  let t = t0 + Math.floor(rnd() * 3_600_000);
  const events: PlannedEvent[] = [];
  const push = <T extends EventType>(type: T, properties: PayloadMap[T]): void => {
    t += intBetween(rnd, 3, 90) * 1000;
    events.push({ type, input: { userId, sessionId, channel, occurredAt: t, properties } });
  };
  // mostly the preferred category, sometimes anything
  const browse = (): CatalogProduct =>
    rnd() < 0.75 ? pick(rnd, productsIn(catalog, preferredCategory)) : pick(rnd, catalog);

  const searchWord = pick(rnd, productsIn(catalog, preferredCategory)[0]!.words);
  if (rnd() < 0.5) push('products_searched', { query: searchWord, resultCount: intBetween(rnd, 3, 40) });
  if (rnd() < 0.3) {
    push('product_list_filtered', {
      category: preferredCategory,
      filters: [{ type: 'price', value: rnd() < 0.5 ? '0-50' : '50-200' }],
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

  const cart = new Map<string, { p: CatalogProduct; qty: number }>();
  const cartId = `c-${userId}-1`;
  const total = (): number => [...cart.values()].reduce((s, x) => s + x.p.priceMinor * x.qty, 0);
  if (rnd() < 0.45) {
    for (let i = intBetween(rnd, 1, 3); i > 0; i--) {
      const p = pick(rnd, viewed);
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

  if (rnd() < 0.15) {
    const conversationId = `conv-${userId}-1`;
    for (let turn = 0, n = intBetween(rnd, 1, 3); turn < n; turn++) {
      push('chat_turn', {
        conversationId,
        role: 1,
        text: pick(rnd, CHAT_LINES),
        channel: 0,
        turnIndex: turn * 2,
      });
      push('chat_turn', {
        conversationId,
        role: 2,
        text: 'Happy to help - here is what I found.',
        channel: 0,
        turnIndex: turn * 2 + 1,
      });
    }
  }

  if (cart.size > 0 && rnd() < 0.6) {
    const products = [...cart.values()].map((x) => asProduct(x.p, x.qty));
    push('checkout_started', { cartId, products, totalMinor: total(), currency: 'USD' });
    if (rnd() < 0.7) {
      push('order_placed', {
        orderId: `o-${userId}-1`,
        cartId,
        products,
        totalMinor: total(),
        currency: 'USD',
      });
    }
  }
  return { userId, preferredCategory, events };
}

export interface SimulationOptions {
  users: number;
  seed: number;
  /** Users sending at once; each user's own events are always sent one after another. */
  concurrency?: number;
  t0?: number;
  onProgress?: (p: { sent: number; planned: number; usersDone: number }) => void;
}

export interface SimulationResult {
  sent: number;
  duplicates: number;
  failed: number;
  byType: Record<string, number>;
  users: number;
  durationMs: number;
}

export function planSimulation(opts: Pick<SimulationOptions, 'users' | 'seed' | 't0'>): SimUser[] {
  const catalog = buildCatalog(opts.seed);
  const t0 = opts.t0 ?? Date.now() - 2 * 3_600_000;
  return Array.from({ length: opts.users }, (_, i) => planUser(opts.seed, i, catalog, t0));
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
  const worker = async (): Promise<void> => {
    while (next < users.length) {
      const user = users[next++]!;
      for (const e of user.events) {
        try {
          const r = await producer.track(e.type, e.input);
          result.sent++;
          if (r.duplicate) result.duplicates++;
          result.byType[e.type] = (result.byType[e.type] ?? 0) + 1;
        } catch {
          result.failed++;
        }
      }
      usersDone++;
    }
  };
  const timer = setInterval(() => opts.onProgress?.({ sent: result.sent, planned, usersDone }), 250);
  try {
    await Promise.all(Array.from({ length: opts.concurrency ?? 400 }, () => worker()));
  } finally {
    clearInterval(timer);
  }
  opts.onProgress?.({ sent: result.sent, planned, usersDone });
  result.durationMs = Date.now() - started;
  return result;
}
