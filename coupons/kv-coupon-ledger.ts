// The coupon ledger on a JetStream KV bucket, safe across many worker processes: every write is a
// compare-and-set on the key's revision, so concurrent issuers can never spend a campaign budget twice.
//
// Keys (parts that are not [A-Za-z0-9_-] are written as `=` + base64url, like the interest store):
//   budget.<shop>.<campaign>  {count, spentMinor, pending: {<code>: {id, amountMinor, at}}}
//   coupon.<code>             the issued coupon, the id of the reservation that paid for it, redemption
//
// Issuing is three steps, each one atomic:
//   1. reserve: in the budget record, count the coupon and its amount and list the code as pending
//      under a fresh reservation id (the budget check and the spend are one compare-and-set);
//   2. record: create coupon.<code> naming that reservation id (create fails if the code exists);
//   3. settle: drop the pending entry; if it is not the reservation the coupon names (a duplicate made
//      by a concurrent issuer of the same code), give its count and amount back.
// Invariant: budget.count / spentMinor = coupons recorded + pending reservations. A crash after 1
// leaves a pending entry that holds budget (never more than was allowed); the retry of the same issue
// (same code) finds the entry and adopts it instead of reserving again. A crash after 2 leaves the
// coupon and its pending entry; the retry finds the coupon and settles. No step can spend twice.
import { randomUUID } from 'node:crypto';
import type { KV, KvEntry } from 'nats';
import { requireSecret } from '../infra/config';
import { isKvConflict } from '../infra/nats';
import { kvKey } from '../schemas/kv-keys';
import { couponCode, couponRef, maskCode, type CouponLedger, type IssueOutcome } from './coupon-ledger';
import type { IssueCouponRequest, IssuedCoupon } from '../activities/types';

/** ApplicationFailure types of redemption errors (business errors: not retryable). */
export const CouponErrorType = {
  CouponUnknown: 'CouponUnknown',
  CouponExpired: 'CouponExpired',
  CouponAlreadyRedeemed: 'CouponAlreadyRedeemed',
} as const;
export type CouponErrorType = (typeof CouponErrorType)[keyof typeof CouponErrorType];

export class CouponRedeemError extends Error {
  override readonly name = 'CouponRedeemError';
  /** The code masked (maskCode): an error may be logged whole. */
  readonly maskedCode: string;
  constructor(
    readonly type: CouponErrorType,
    code: string,
    message: string,
  ) {
    super(message);
    this.maskedCode = maskCode(code);
  }
}

export interface Reservation {
  /** Random per reservation: the coupon record names the one that paid for it. */
  id: string;
  amountMinor: number;
  at: number;
}

export interface BudgetRecord {
  /** Coupons counted against the budget: recorded ones plus pending reservations. */
  count: number;
  spentMinor: number;
  /** Reservations whose coupon may not be recorded yet, by code. */
  pending: Record<string, Reservation>;
}

export interface StoredCoupon extends Omit<IssuedCoupon, 'newlyIssued'> {
  shopId: string;
  userId: string;
  /** The reservation in the budget record that paid for this coupon. */
  reservation: string;
  redeemed?: { orderId: string; at: number };
}

export interface RedeemResult {
  coupon: StoredCoupon;
  /** False when this order had already redeemed it (a retry): nothing changed. */
  newlyRedeemed: boolean;
}

export interface KvCouponLedgerOptions {
  /**
   * HMAC secret of the codes (config.coupons.secret, COUPON_SECRET): required, at least 32 bytes
   * (a ConfigError otherwise, which names the variable, never the value).
   */
  secret: string;
  /** Compare-and-set attempts on one key before giving up with a (retryable) error. Default 500. */
  maxAttempts?: number;
  /** Test hooks between the steps; a hook that throws simulates a crash there. */
  hooks?: {
    afterReserve?(code: string): void | Promise<void>;
    afterRecord?(code: string): void | Promise<void>;
  };
}

export interface KvCouponLedger extends CouponLedger {
  /** Marks the coupon redeemed by `orderId`, once; the same order again is an idempotent success. */
  redeem(code: string, orderId: string, at?: number): Promise<RedeemResult>;
  get(code: string): Promise<StoredCoupon | undefined>;
  budget(shopId: string, campaign: string): Promise<BudgetRecord>;
}

export const budgetKey = (shopId: string, campaign: string): string => kvKey('budget', shopId, campaign);
export const couponKey = (code: string): string => kvKey('coupon', code);

/** Codes as customers type them: case and spaces do not matter. */
export function normalizeCode(code: string): string {
  return code.trim().toUpperCase();
}

const enc = (v: unknown): Uint8Array => Buffer.from(JSON.stringify(v), 'utf8');
const dec = <T>(e: KvEntry): T => JSON.parse(Buffer.from(e.value).toString('utf8')) as T;
/** A value to read: deleted and purged keys keep a revision (to update on) but have no value. */
const live = (e: KvEntry): boolean => e.operation === 'PUT' && e.value.length > 0;

/** Jittered backoff after a lost compare-and-set, so a hot budget key does not livelock. */
const backoff = (attempt: number): Promise<void> =>
  new Promise((r) => setTimeout(r, Math.random() * Math.min(2 + attempt, 25)));

/** Writes `next` if the key is still at `revision` (0: absent); false on a conflict. */
async function cas(kv: KV, key: string, value: unknown, revision: number): Promise<boolean> {
  try {
    if (revision === 0) await kv.create(key, enc(value));
    else await kv.update(key, enc(value), revision);
    return true;
  } catch (err) {
    if (isKvConflict(err)) return false;
    throw err;
  }
}

const emptyBudget = (): BudgetRecord => ({ count: 0, spentMinor: 0, pending: {} });

function toIssued(c: StoredCoupon, newlyIssued: boolean): IssuedCoupon {
  return {
    code: c.code,
    campaign: c.campaign,
    tier: c.tier,
    amountMinor: c.amountMinor,
    ...(c.currency ? { currency: c.currency } : {}),
    issuedAt: c.issuedAt,
    expiresAt: c.expiresAt,
    newlyIssued,
  };
}

export function createKvCouponLedger(kv: KV, options: KvCouponLedgerOptions): KvCouponLedger {
  const secret = requireSecret(options.secret, 'COUPON_SECRET', 32, 'the coupon ledger');
  const maxAttempts = options.maxAttempts ?? 500;
  const hooks = options.hooks ?? {};

  const readBudget = async (key: string): Promise<{ budget: BudgetRecord; revision: number }> => {
    const e = await kv.get(key);
    if (!e || !live(e)) return { budget: emptyBudget(), revision: e?.revision ?? 0 };
    return { budget: dec<BudgetRecord>(e), revision: e.revision };
  };

  const readCoupon = async (code: string): Promise<{ coupon?: StoredCoupon; revision: number }> => {
    const e = await kv.get(couponKey(code));
    if (!e || !live(e)) return { revision: 0 };
    return { coupon: dec<StoredCoupon>(e), revision: e.revision };
  };

  /** A compare-and-set loop on one key: `step` returns the new value, or a result to stop with. */
  async function casLoop<R>(
    key: string,
    what: string,
    step: (b: BudgetRecord) => { write: BudgetRecord; result: R } | { result: R },
  ): Promise<R> {
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const { budget, revision } = await readBudget(key);
      const out = step(budget);
      if (!('write' in out)) return out.result;
      // a deleted key (tombstone) has a revision but no value: update on its revision
      if (await cas(kv, key, out.write, revision)) return out.result;
      await backoff(attempt);
    }
    throw new Error(`${what}: ${key} still contended after ${maxAttempts} attempts`);
  }

  type Reserved = { ok: true; reservation: Reservation } | { ok: false; detail: string };

  /** Step 1: the budget check and spend, or the reservation already pending for this code. */
  const reserve = (req: IssueCouponRequest, code: string): Promise<Reserved> =>
    casLoop<Reserved>(budgetKey(req.shopId, req.campaign), 'coupon reserve', (b) => {
      const mine = b.pending[code];
      if (mine) return { result: { ok: true, reservation: mine } };
      const { maxCoupons, maxSpendMinor } = req.budget;
      if (maxCoupons !== undefined && b.count + 1 > maxCoupons)
        return { result: { ok: false, detail: `${req.campaign}: all ${maxCoupons} coupons issued` } };
      if (maxSpendMinor !== undefined && b.spentMinor + req.amountMinor > maxSpendMinor)
        return { result: { ok: false, detail: `${req.campaign}: spend budget ${maxSpendMinor} reached` } };
      const reservation: Reservation = { id: randomUUID(), amountMinor: req.amountMinor, at: Date.now() };
      return {
        write: {
          count: b.count + 1,
          spentMinor: b.spentMinor + req.amountMinor,
          pending: { ...b.pending, [code]: reservation },
        },
        result: { ok: true, reservation },
      };
    });

  /** Step 3: the coupon is recorded; its pending entry is done, or a duplicate to give back. */
  const settle = (coupon: StoredCoupon): Promise<void> =>
    casLoop<void>(budgetKey(coupon.shopId, coupon.campaign), 'coupon settle', (b) => {
      const p = b.pending[coupon.code];
      if (!p) return { result: undefined };
      const pending = { ...b.pending };
      delete pending[coupon.code];
      if (p.id === coupon.reservation) return { write: { ...b, pending }, result: undefined };
      return {
        write: { count: b.count - 1, spentMinor: b.spentMinor - p.amountMinor, pending },
        result: undefined,
      };
    });

  async function issue(req: IssueCouponRequest): Promise<IssueOutcome> {
    const code = couponCode(secret, req);
    const existing = (await readCoupon(code)).coupon;
    if (existing) {
      // a retry after a crash between record and settle, or a duplicate reservation to give back
      await settle(existing);
      return { ok: true, coupon: toIssued(existing, false) };
    }
    const reserved = await reserve(req, code);
    if (!reserved.ok) {
      // exhausted, but the coupon may have been recorded meanwhile by a concurrent issue of this code
      const late = (await readCoupon(code)).coupon;
      if (late) return { ok: true, coupon: toIssued(late, false) };
      return { ok: false, reason: 'budget_exhausted', detail: reserved.detail };
    }
    await hooks.afterReserve?.(code);
    const coupon: StoredCoupon = {
      code,
      shopId: req.shopId,
      userId: req.userId,
      campaign: req.campaign,
      tier: req.tier,
      // what the reservation paid for (an adopted reservation was made by an issue of the same code)
      amountMinor: reserved.reservation.amountMinor,
      ...(req.currency ? { currency: req.currency } : {}),
      issuedAt: req.issuedAt,
      expiresAt: req.expiresAt,
      reservation: reserved.reservation.id,
    };
    let recorded: StoredCoupon = coupon;
    let newlyIssued = true;
    if (!(await cas(kv, couponKey(code), coupon, 0))) {
      // a concurrent issue of the same code recorded it first
      const other = (await readCoupon(code)).coupon;
      if (!other) throw new Error(`coupon ${maskCode(code)}: create conflicted but no coupon is stored`);
      recorded = other;
      newlyIssued = false;
    }
    await hooks.afterRecord?.(code);
    await settle(recorded);
    return { ok: true, coupon: toIssued(recorded, newlyIssued) };
  }

  async function redeem(rawCode: string, orderId: string, at: number = Date.now()): Promise<RedeemResult> {
    const code = normalizeCode(rawCode);
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const { coupon, revision } = await readCoupon(code);
      if (!coupon)
        throw new CouponRedeemError(
          CouponErrorType.CouponUnknown,
          code,
          `coupon ${maskCode(code)} is unknown`,
        );
      if (coupon.redeemed) {
        if (coupon.redeemed.orderId === orderId) return { coupon, newlyRedeemed: false };
        throw new CouponRedeemError(
          CouponErrorType.CouponAlreadyRedeemed,
          code,
          `coupon ${maskCode(code)} was already redeemed by order ${coupon.redeemed.orderId}`,
        );
      }
      if (at >= coupon.expiresAt)
        throw new CouponRedeemError(
          CouponErrorType.CouponExpired,
          code,
          `coupon ${maskCode(code)} expired at ${new Date(coupon.expiresAt).toISOString()}`,
        );
      const next: StoredCoupon = { ...coupon, redeemed: { orderId, at } };
      if (await cas(kv, couponKey(code), next, revision)) return { coupon: next, newlyRedeemed: true };
      await backoff(attempt);
    }
    throw new Error(`coupon ${maskCode(code)}: redeem still contended after ${maxAttempts} attempts`);
  }

  return {
    issue,
    redeem,
    ref: (code) => couponRef(secret, code),
    get: async (code) => (await readCoupon(normalizeCode(code))).coupon,
    budget: async (shopId, campaign) => (await readBudget(budgetKey(shopId, campaign))).budget,
  };
}
