// The coupon ledger: one code per (shop, user, campaign, tier), derived from those so a retried or
// replayed issue gets the same code, and a campaign budget that is checked and spent in one step.
// The in-memory ledger serves tests and `flows simulate`; the worker and the service use the KV one
// (kv-coupon-ledger.ts).
//
// Codes work like cash: they are an HMAC under a secret (COUPON_SECRET, at least 32 bytes, never
// defaulted), so nobody can compute a customer's code without it. A code never leaves in plain text
// except to its customer (the message): log lines carry maskCode(code), and the flow events that
// reach the events table carry couponRef(code), a keyed hash analysts can join issued to redeemed on
// without being able to use it.
import { createHmac, randomBytes } from 'node:crypto';
import type { FlowEvent, IssueCouponRequest, IssuedCoupon } from '../activities/types';

export type IssueOutcome =
  { ok: true; coupon: IssuedCoupon } | { ok: false; reason: 'budget_exhausted'; detail: string };

export interface CouponLedger {
  issue(req: IssueCouponRequest): Promise<IssueOutcome>;
  /** The code's analytics reference (couponRef under this ledger's secret). */
  ref(code: string): string;
}

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** 'K7QF-3M9T-XW2P': 60 bits of an HMAC of who and what, so codes cannot be guessed without the secret. */
export function couponCode(
  secret: string,
  req: Pick<IssueCouponRequest, 'shopId' | 'userId' | 'campaign' | 'tier'>,
): string {
  const digest = createHmac('sha256', secret)
    .update([req.shopId, req.userId, req.campaign, req.tier].join('\n'))
    .digest();
  let chars = '';
  for (let i = 0; i < 12; i++) chars += ALPHABET[digest[i]! & 31]!;
  return chars.match(/.{4}/g)!.join('-');
}

/**
 * 'cr_' + 20 base32 characters (100 bits) of an HMAC of the code under a key derived from the
 * secret: the same code always gives the same ref (issued joins redeemed), and the ref cannot be
 * turned back into the code or computed without the secret.
 */
export function couponRef(secret: string, code: string): string {
  const key = createHmac('sha256', secret).update('shopstream coupon ref v1').digest();
  const digest = createHmac('sha256', key).update(code.trim().toUpperCase()).digest();
  let chars = '';
  for (let i = 0; i < 20; i++) chars += ALPHABET[digest[i]! & 31]!;
  return `cr_${chars.toLowerCase()}`;
}

/** A code as a log line may show it: its first 4 characters, 'K7QF***'. */
export function maskCode(code: string): string {
  return code === '' ? '' : `${code.slice(0, 4)}***`;
}

/**
 * The event as it may leave for the events stream (and so the events table analysts query): its
 * coupon code, if it has one (coupon_issued, coupon_redeemed, reminder_sent), replaced by the code's
 * ref. The event id is derived from the key beforehand, so it does not change.
 */
export function withCouponRef<E extends FlowEvent>(event: E, ref: (code: string) => string): E {
  const props = event.properties as Record<string, unknown>;
  const code = props['couponCode'];
  if (typeof code !== 'string' || code === '') return event;
  return { ...event, properties: { ...props, couponCode: ref(code) } };
}

interface Spend {
  count: number;
  spentMinor: number;
}

export interface MemoryCouponLedger extends CouponLedger {
  /** Every coupon issued so far, in order. */
  issued(): IssuedCoupon[];
  spend(shopId: string, campaign: string): Spend;
}

/** In memory. Without a secret, a random one of this ledger's own: its codes are good for this run only. */
export function createMemoryCouponLedger(options: { secret?: string } = {}): MemoryCouponLedger {
  const secret = options.secret ?? randomBytes(32).toString('hex');
  const coupons = new Map<string, IssuedCoupon>();
  const spends = new Map<string, Spend>();

  // Synchronous from lookup to write: no other issue can interleave, so the budget holds.
  const issueNow = (req: IssueCouponRequest): IssueOutcome => {
    const code = couponCode(secret, req);
    const existing = coupons.get(code);
    if (existing) return { ok: true, coupon: { ...existing, newlyIssued: false } };
    const key = `${req.shopId}/${req.campaign}`;
    const spend = spends.get(key) ?? { count: 0, spentMinor: 0 };
    const { maxCoupons, maxSpendMinor } = req.budget;
    if (maxCoupons !== undefined && spend.count + 1 > maxCoupons)
      return {
        ok: false,
        reason: 'budget_exhausted',
        detail: `${req.campaign}: all ${maxCoupons} coupons issued`,
      };
    if (maxSpendMinor !== undefined && spend.spentMinor + req.amountMinor > maxSpendMinor)
      return {
        ok: false,
        reason: 'budget_exhausted',
        detail: `${req.campaign}: spend budget ${maxSpendMinor} reached`,
      };
    spends.set(key, { count: spend.count + 1, spentMinor: spend.spentMinor + req.amountMinor });
    const coupon: IssuedCoupon = {
      code,
      campaign: req.campaign,
      tier: req.tier,
      amountMinor: req.amountMinor,
      ...(req.currency ? { currency: req.currency } : {}),
      issuedAt: req.issuedAt,
      expiresAt: req.expiresAt,
      newlyIssued: true,
    };
    coupons.set(code, coupon);
    return { ok: true, coupon };
  };

  return {
    issue: (req) => Promise.resolve(issueNow(req)),
    ref: (code) => couponRef(secret, code),
    issued: () => [...coupons.values()],
    spend: (shopId, campaign) => ({
      ...(spends.get(`${shopId}/${campaign}`) ?? { count: 0, spentMinor: 0 }),
    }),
  };
}
