// Arbitraries for property-based fuzzing (fast-check): good events as shops send them, and hostile
// values of every class the hardening review found (times beyond Date or ClickHouse, lone surrogates,
// deep nesting, huge strings, wrong types, many distinct months), mixed into otherwise good events.
//
// FUZZ_RUNS sets the number of cases per property (a few thousand in `make test`, 100,000 in
// `make fuzz`); FUZZ_SEED replays a failure fast-check reported. Dev tooling: the fuzz tests and
// `make chaos` (fuzzing the collector while processes are killed) share them.
import fc from 'fast-check';

export const FUZZ_RUNS = Number(process.env['FUZZ_RUNS'] ?? 2000);
export const fuzzParams = (runs = FUZZ_RUNS): fc.Parameters<unknown> => ({
  numRuns: runs,
  ...(process.env['FUZZ_SEED'] ? { seed: Number(process.env['FUZZ_SEED']) } : {}),
});

const DAY = 86_400_000;
/** The moment the fuzzed requests "arrive": fixed, so a failure replays exactly. */
export const FUZZ_NOW = Date.UTC(2026, 10, 24, 12);

/** Strings a client could send: unicode, control characters, lone surrogates, very long ones. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('\ud800', 'a\udc00b', '\u0000', '\uffff', '💥'.repeat(3), '\u202e', '投诉 太慢了'),
  // keys that mean something to a plain object
  fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype'),
  fc.integer({ min: 300, max: 200_000 }).map((n) => 'x'.repeat(n)),
);

/** Times: plausible ones, and ones beyond Date, year 10000, negative, 0, non-numbers, bad ISO text. */
export const hostileTime: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer({ min: FUZZ_NOW - 400 * DAY, max: FUZZ_NOW + 2 * DAY }),
  fc.constantFrom(
    8.64e15 + 1,
    1e300,
    253_402_300_800_000, // 10000-01-01
    Date.UTC(3000, 0, 1),
    -1,
    0,
    Number.MAX_SAFE_INTEGER,
    '99999999999999999999',
    '+275760-09-13T00:00:00.000Z',
    '3000-01-01T00:00:00Z',
    '2026-13-45T99:99:99Z',
    'yesterday',
  ),
  fc.integer({ min: 0, max: 4_000 }).map((months) => new Date(Date.UTC(2000, months, 1)).toISOString()),
);

/** Arrays nested `depth` deep around a value (JSON.parse and JSON.stringify handle these differently). */
export const deeplyNested = (depth: number, inner: unknown = 1): unknown => {
  let v: unknown = inner;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
};

export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: hostileString },
  { weight: 2, arbitrary: hostileTime },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  { weight: 1, arbitrary: fc.integer({ min: 50, max: 20_000 }).map((d) => deeplyNested(d)) },
  { weight: 1, arbitrary: fc.constantFrom(null, true, -0, 1e308, -1e308, [], {}, [[[]]]) },
);

const sku = fc.stringMatching(/^[A-Z]{3}-[0-9]{4}$/);
const user = fc.integer({ min: 1, max: 500 }).map((n) => `u-${n}`);
const time = fc.integer({ min: FUZZ_NOW - 30 * DAY, max: FUZZ_NOW }).map((ms) => new Date(ms).toISOString());
const price = fc.integer({ min: 1, max: 500_000 }).map((minor) => minor / 100);

/** A good Segment track call of the browse and cart kinds a public write key may send. */
export const goodSegmentEvent: fc.Arbitrary<Record<string, unknown>> = fc
  .record({
    kind: fc.constantFrom('Product Viewed', 'Products Searched', 'Product Added', 'Product Removed'),
    userId: user,
    timestamp: time,
    sku,
    price,
    query: fc.string({ minLength: 1, maxLength: 30 }).filter((s) => s.isWellFormed() && s.trim() !== ''),
    cart: fc.integer({ min: 1, max: 50 }).map((n) => `c-${n}`),
  })
  .map(({ kind, userId, timestamp, sku: s, price: p, query, cart }) => ({
    type: 'track',
    event: kind,
    userId,
    timestamp,
    properties:
      kind === 'Products Searched'
        ? { query }
        : { sku: s, product_id: s, price: p, currency: 'USD', quantity: 1, cart_id: cart },
  }));

/** Every key path of a plain JSON object, for picking one to spoil. */
function paths(v: unknown, prefix: string[] = []): string[][] {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return [prefix];
  return [prefix, ...Object.entries(v).flatMap(([k, x]) => paths(x, [...prefix, k]))];
}

function setAt(v: Record<string, unknown>, path: string[], value: unknown): Record<string, unknown> {
  if (path.length === 0) return value as Record<string, unknown>;
  const [head, ...rest] = path as [string, ...string[]];
  const child = v[head];
  return {
    ...v,
    [head]: rest.length === 0 ? value : setAt((child ?? {}) as Record<string, unknown>, rest, value),
  };
}

/** A good event with one field (or the whole event) replaced by a hostile value. */
export const spoiledEvent: fc.Arbitrary<unknown> = fc
  .tuple(goodSegmentEvent, fc.nat(), hostileValue)
  .map(([good, pick, bad]) => {
    const all = paths(good);
    return setAt(good, all[pick % all.length]!, bad);
  });

/** Good and hostile events, shuffled: which is which is known to the test. */
export const mixedBatch = (maxLength = 40): fc.Arbitrary<{ event: unknown; good: boolean }[]> =>
  fc.array(
    fc.oneof(
      goodSegmentEvent.map((event) => ({ event, good: true })),
      spoiledEvent.map((event) => ({ event, good: false })),
    ),
    { minLength: 1, maxLength },
  );

/**
 * A native order event of one shop's server (placed, paid, shipped, delivered, refunded) for a few
 * order ids, with hostile values mixed into its fields: what the collector maps (and may refuse).
 */
export const orderLifecycleEvent: fc.Arbitrary<Record<string, unknown>> = fc
  .record({
    type: fc.constantFrom('order_placed', 'order_paid', 'order_shipped', 'order_delivered', 'order_refunded'),
    order: fc.oneof(
      { weight: 5, arbitrary: fc.constantFrom('A1', 'A2', 'b-3') },
      { weight: 1, arbitrary: hostileString },
    ),
    at: fc.oneof(
      { weight: 5, arbitrary: fc.integer({ min: FUZZ_NOW - 20 * DAY, max: FUZZ_NOW }) },
      { weight: 1, arbitrary: hostileTime },
    ),
    tracking: fc.oneof(
      fc.constantFrom('SF1234567890', 'sf 1234 5678 90', 'YT0472701492531', 'E417182865CN'),
      hostileString,
    ),
    carrier: fc.oneof(fc.constantFrom('SF', 'YTO', 'zto', 'JD'), hostileString),
    amount: fc.oneof(fc.integer({ min: 0, max: 1e9 }), hostileValue),
    skus: fc.array(fc.oneof(sku, hostileString), { maxLength: 15 }),
  })
  .map(({ type, order, at, tracking, carrier, amount, skus }) => ({
    type,
    user_id: 'u-1',
    channel: 'server',
    occurred_at: at,
    properties: {
      order_id: order,
      ...(type === 'order_placed'
        ? { products: skus.map((s) => ({ sku: s, name: s })), total_minor: amount }
        : {}),
      ...(type === 'order_paid' || type === 'order_refunded' ? { total_minor: amount, currency: 'CNY' } : {}),
      ...(type === 'order_shipped' ? { carrier, tracking_number: tracking, estimated_delivery_at: at } : {}),
    },
  }));
