// The KV coupon ledger and message slots on a real NATS server: a campaign budget is never exceeded
// by 50 concurrent issuers (one process or three connections), issuing is idempotent per user,
// campaign and tier, a crash between the steps issues once and counts once, redemption is once per
// order and refuses expired and unknown codes, and the frequency cap holds under concurrency.
import type { KV, NatsConnection } from 'nats';
import type { Config } from '../../infra/config';
import { couponCode, createMemoryCouponLedger } from '../../coupons/coupon-ledger';
import {
  CouponErrorType,
  CouponRedeemError,
  budgetKey,
  createKvCouponLedger,
  type KvCouponLedger,
} from '../../coupons/kv-coupon-ledger';
import { createKvMessageSlots } from '../../activities/kv-message-slots';
import type { IssueCouponRequest } from '../../activities/types';
import { connectNats } from '../../infra/nats';
import { startTestNats, type TestNats } from '../../infra/stack/test-nats';
import { testConfig } from '../../infra/stack/test-config';

let nats: TestNats;
let config: Config;
const conns: NatsConnection[] = [];
let couponsKv: KV;
let slotsBucket: string;
let bucket: string;
const T0 = Date.UTC(2026, 10, 1);
/** This test's own coupon secret (32 bytes or more, like COUPON_SECRET). */
const SECRET = 'kv-ledger-test-secret-0123456789abcdef';
const DAY = 86_400_000;
/** Timings on the console with TEST_LOG set. */
const timing = (msg: string): void => {
  if (process.env['TEST_LOG']) console.log(msg);
};

const bind = async (nc: NatsConnection, name: string): Promise<KV> =>
  nc.jetstream().views.kv(name, { bindOnly: true });

beforeAll(async () => {
  nats = await startTestNats();
  config = testConfig(nats.url);
  for (let i = 0; i < 3; i++) conns.push(await connectNats(config.nats, `kv-ledger-test-${i}`));
  const upper = config.nats.prefix.toUpperCase();
  bucket = `${upper}_COUPONS`;
  const js = conns[0]!.jetstream();
  couponsKv = await js.views.kv(bucket, { history: 1, description: 'coupon ledger' });
  slotsBucket = `${upper}_MSG_SLOTS`;
  await js.views.kv(slotsBucket, {
    history: 1,
    ttl: 3 * DAY,
    description: 'message slots',
  });
});

afterAll(async () => {
  for (const nc of conns) await nc.drain();
  await nats?.stop();
});

function request(i: number, over: Partial<IssueCouponRequest> = {}): IssueCouponRequest {
  return {
    shopId: 'shop-1',
    userId: `user-${i}`,
    campaign: 'spring',
    budget: { maxCoupons: 20 },
    tier: 'repeat',
    amountMinor: 500,
    currency: 'EUR',
    issuedAt: T0,
    expiresAt: T0 + 7 * DAY,
    ...over,
  };
}

/** Coupon records of a campaign, counted from the stored keys (the keys first, then the values). */
async function couponsOf(kv: KV, campaign: string): Promise<number> {
  const keys: string[] = [];
  for await (const k of await kv.keys('coupon.>')) keys.push(k);
  let n = 0;
  for (const k of keys) {
    const e = await kv.get(k);
    const c = JSON.parse(Buffer.from(e!.value).toString('utf8')) as { campaign: string };
    if (c.campaign === campaign) n++;
  }
  return n;
}

it('50 concurrent issuers against a budget of 20 coupons issue exactly 20', async () => {
  const ledger = createKvCouponLedger(couponsKv, { secret: SECRET });
  const t = Date.now();
  const out = await Promise.all(
    Array.from({ length: 50 }, (_, i) => ledger.issue(request(i, { campaign: 'count-1' }))),
  );
  const ms = Date.now() - t;
  const ok = out.filter((o) => o.ok);
  expect(ok).toHaveLength(20);
  expect(out.filter((o) => !o.ok && o.reason === 'budget_exhausted')).toHaveLength(30);
  expect(new Set(ok.map((o) => o.ok && o.coupon.code)).size).toBe(20);
  expect(ok.every((o) => o.ok && o.coupon.newlyIssued)).toBe(true);
  expect(await ledger.budget('shop-1', 'count-1')).toEqual({ count: 20, spentMinor: 20 * 500, pending: {} });
  expect(await couponsOf(couponsKv, 'count-1')).toBe(20);
  timing(`50 concurrent issues, one ledger: ${ms} ms`);
});

it('three ledgers on three connections share the budget: exactly 20 of 50', async () => {
  const ledgers = await Promise.all(
    conns.map(async (nc) => createKvCouponLedger(await bind(nc, bucket), { secret: SECRET })),
  );
  const t = Date.now();
  const out = await Promise.all(
    Array.from({ length: 50 }, (_, i) => ledgers[i % 3]!.issue(request(i, { campaign: 'count-3' }))),
  );
  const ms = Date.now() - t;
  expect(out.filter((o) => o.ok)).toHaveLength(20);
  expect(await ledgers[1]!.budget('shop-1', 'count-3')).toEqual({
    count: 20,
    spentMinor: 10_000,
    pending: {},
  });
  expect(await couponsOf(couponsKv, 'count-3')).toBe(20);
  timing(`50 concurrent issues, three connections: ${ms} ms`);
});

it('a spend budget is never exceeded by concurrent issuers of different amounts', async () => {
  const ledgers = await Promise.all(
    conns.map(async (nc) => createKvCouponLedger(await bind(nc, bucket), { secret: SECRET })),
  );
  const maxSpendMinor = 7_000;
  const out = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      ledgers[i % 3]!.issue(
        request(i, { campaign: 'spend', budget: { maxSpendMinor }, amountMinor: 300 + (i % 5) * 100 }),
      ),
    ),
  );
  const issued = out.flatMap((o) => (o.ok ? [o.coupon] : []));
  const sum = issued.reduce((s, c) => s + c.amountMinor, 0);
  expect(sum).toBeLessThanOrEqual(maxSpendMinor);
  // no room left for the cheapest coupon that was refused
  expect(sum).toBeGreaterThan(maxSpendMinor - 700);
  expect(await ledgers[0]!.budget('shop-1', 'spend')).toEqual({
    count: issued.length,
    spentMinor: sum,
    pending: {},
  });
});

it('a retried issue returns the same code without spending again, also when concurrent', async () => {
  const ledger = createKvCouponLedger(couponsKv, { secret: SECRET });
  const req = request(1, { campaign: 'retry', budget: { maxCoupons: 5 } });
  const first = await ledger.issue(req);
  const again = await ledger.issue({ ...req, issuedAt: T0 + 1000, expiresAt: T0 + 8 * DAY });
  expect(first.ok && again.ok).toBe(true);
  if (!first.ok || !again.ok) return;
  expect(first.coupon.newlyIssued).toBe(true);
  expect(again.coupon).toEqual({ ...first.coupon, newlyIssued: false });
  // the same code as the memory ledger gives (same secret)
  const mem = await createMemoryCouponLedger({ secret: SECRET }).issue(req);
  expect(mem.ok && mem.coupon.code).toBe(first.coupon.code);
  expect(first.coupon.code).toBe(couponCode(SECRET, req));

  // 20 attempts of one issue at once, on three connections: one coupon, one spend
  const ledgers = await Promise.all(
    conns.map(async (nc) => createKvCouponLedger(await bind(nc, bucket), { secret: SECRET })),
  );
  const same = request(2, { campaign: 'retry', budget: { maxCoupons: 5 } });
  const out = await Promise.all(Array.from({ length: 20 }, (_, i) => ledgers[i % 3]!.issue(same)));
  const codes = new Set(out.map((o) => (o.ok ? o.coupon.code : 'refused')));
  expect([...codes]).toEqual([couponCode(SECRET, same)]);
  expect(out.filter((o) => o.ok && o.coupon.newlyIssued)).toHaveLength(1);
  // another tier is another coupon
  const other = await ledger.issue({ ...same, tier: 'high_value' });
  expect(other.ok && other.coupon.code).not.toBe(first.coupon.code);
  expect(await ledger.budget('shop-1', 'retry')).toEqual({ count: 3, spentMinor: 1500, pending: {} });
});

it('a crash after the reservation, then a retry: one coupon, the budget counted once', async () => {
  const crash = (code: string): never => {
    throw new Error(`crash after reserving ${code}`);
  };
  const req = request(7, { campaign: 'crash', budget: { maxCoupons: 2 } });
  await expect(
    createKvCouponLedger(couponsKv, { secret: SECRET, hooks: { afterReserve: crash } }).issue(req),
  ).rejects.toThrow(/crash after reserving/);
  const ledger = createKvCouponLedger(couponsKv, { secret: SECRET });
  const held = await ledger.budget('shop-1', 'crash');
  expect(held.count).toBe(1);
  expect(Object.keys(held.pending)).toEqual([couponCode(SECRET, req)]);
  expect(await ledger.get(couponCode(SECRET, req))).toBeUndefined();

  const retried = await ledger.issue(req);
  expect(retried.ok && retried.coupon.newlyIssued).toBe(true);
  expect(await ledger.budget('shop-1', 'crash')).toEqual({ count: 1, spentMinor: 500, pending: {} });

  // a crash after recording the coupon, before settling: the retry settles, nothing spent twice
  const req2 = request(8, { campaign: 'crash', budget: { maxCoupons: 2 } });
  await expect(
    createKvCouponLedger(couponsKv, { secret: SECRET, hooks: { afterRecord: crash } }).issue(req2),
  ).rejects.toThrow(/crash after reserving/);
  expect(Object.keys((await ledger.budget('shop-1', 'crash')).pending)).toHaveLength(1);
  const retried2 = await ledger.issue(req2);
  expect(retried2.ok && !retried2.coupon.newlyIssued).toBe(true);
  expect(await ledger.budget('shop-1', 'crash')).toEqual({ count: 2, spentMinor: 1000, pending: {} });
  // the budget is full: a third user is refused
  const third = await ledger.issue(request(9, { campaign: 'crash', budget: { maxCoupons: 2 } }));
  expect(third).toMatchObject({ ok: false, reason: 'budget_exhausted' });
  expect(await couponsOf(couponsKv, 'crash')).toBe(2);
});

it('a duplicate reservation of an already recorded code is given back', async () => {
  // the race: B reads "no coupon", A records and settles, B reserves again and crashes. The budget
  // then holds B's reservation as pending; the next issue of the code finds the coupon (which names
  // A's reservation) and gives B's back.
  const ledger: KvCouponLedger = createKvCouponLedger(couponsKv, { secret: SECRET });
  const req = request(3, { campaign: 'dup', budget: { maxCoupons: 3 } });
  const code = couponCode(SECRET, req);
  await ledger.issue(req);
  const entry = (await couponsKv.get(budgetKey('shop-1', 'dup')))!;
  const b = await ledger.budget('shop-1', 'dup');
  const stale = {
    count: b.count + 1,
    spentMinor: b.spentMinor + 500,
    pending: { [code]: { id: 'b', amountMinor: 500, at: T0 } },
  };
  await couponsKv.update(budgetKey('shop-1', 'dup'), Buffer.from(JSON.stringify(stale)), entry.revision);
  expect((await ledger.budget('shop-1', 'dup')).count).toBe(2);

  const again = await ledger.issue(req);
  expect(again.ok && again.coupon.code).toBe(code);
  expect(again.ok && again.coupon.newlyIssued).toBe(false);
  expect(await ledger.budget('shop-1', 'dup')).toEqual({ count: 1, spentMinor: 500, pending: {} });
  expect(await couponsOf(couponsKv, 'dup')).toBe(1);
});

it('redeems once, idempotently per order, and refuses expired, unknown and second orders', async () => {
  const ledger = createKvCouponLedger(couponsKv, { secret: SECRET });
  const out = await ledger.issue(request(1, { campaign: 'redeem', budget: { maxCoupons: 10 } }));
  if (!out.ok) throw new Error('not issued');
  const { code, expiresAt } = out.coupon;

  const first = await ledger.redeem(code.toLowerCase(), 'order-1', T0 + DAY);
  expect(first.newlyRedeemed).toBe(true);
  expect(first.coupon.redeemed).toEqual({ orderId: 'order-1', at: T0 + DAY });
  const again = await ledger.redeem(code, 'order-1', T0 + 2 * DAY);
  expect(again.newlyRedeemed).toBe(false);
  expect(again.coupon.redeemed).toEqual({ orderId: 'order-1', at: T0 + DAY });
  await expect(ledger.redeem(code, 'order-2', T0 + DAY)).rejects.toMatchObject({
    type: CouponErrorType.CouponAlreadyRedeemed,
  });

  // concurrent redemptions by different orders: exactly one wins
  const out2 = await ledger.issue(request(2, { campaign: 'redeem', budget: { maxCoupons: 10 } }));
  if (!out2.ok) throw new Error('not issued');
  const races = await Promise.allSettled(
    Array.from({ length: 10 }, (_, i) => ledger.redeem(out2.coupon.code, `order-r${i}`, T0)),
  );
  expect(races.filter((r) => r.status === 'fulfilled')).toHaveLength(1);

  const out3 = await ledger.issue(request(3, { campaign: 'redeem', budget: { maxCoupons: 10 } }));
  if (!out3.ok) throw new Error('not issued');
  const expired = ledger.redeem(out3.coupon.code, 'order-3', expiresAt + 1);
  await expect(expired).rejects.toBeInstanceOf(CouponRedeemError);
  await expect(ledger.redeem(out3.coupon.code, 'order-3', expiresAt)).rejects.toMatchObject({
    type: CouponErrorType.CouponExpired,
  });
  await expect(ledger.redeem('NOPE-NOPE-NOPE', 'order-4', T0)).rejects.toMatchObject({
    type: CouponErrorType.CouponUnknown,
  });
  await expect(ledger.redeem('bad code/with spaces*', 'order-4', T0)).rejects.toMatchObject({
    type: CouponErrorType.CouponUnknown,
  });
});

it('message slots: the cap holds under concurrency, idempotent per message key, across connections', async () => {
  const slots = await Promise.all(conns.map(async (nc) => createKvMessageSlots(await bind(nc, slotsBucket))));
  const base = { shopId: 'shop-1', userId: 'user@example.com', localDay: '2026-11-01', cap: 3 };
  const t = Date.now();
  // 30 distinct messages, each reserved twice (a retry), from three connections at once
  const out = await Promise.all(
    Array.from({ length: 60 }, (_, i) => slots[i % 3]!.reserve({ ...base, key: `msg-${i % 30}` })),
  );
  const ms = Date.now() - t;
  const granted = new Set(out.flatMap((o, i) => (o.granted ? [`msg-${i % 30}`] : [])));
  expect(granted.size).toBe(3);
  expect(out.every((o) => o.used <= 3)).toBe(true);
  expect(await slots[0]!.used('shop-1', 'user@example.com', '2026-11-01')).toBe(3);
  // a granted key asked again is granted without another slot; a new one is refused
  const g = [...granted][0]!;
  expect(await slots[2]!.reserve({ ...base, key: g })).toEqual({ granted: true, used: 3 });
  expect(await slots[2]!.reserve({ ...base, key: 'msg-new' })).toEqual({ granted: false, used: 3 });
  // another day, another user: their own caps
  expect(await slots[1]!.reserve({ ...base, localDay: '2026-11-02', key: 'x' })).toEqual({
    granted: true,
    used: 1,
  });
  expect(await slots[1]!.reserve({ ...base, userId: 'user-2', key: 'x' })).toEqual({
    granted: true,
    used: 1,
  });
  timing(`60 concurrent slot reservations, three connections: ${ms} ms`);
});
