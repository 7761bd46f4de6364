// The coupon ledger: one code per (shop, user, campaign, tier), derived from those so a retried or
// replayed issue gets the same code, and a campaign budget that is checked and spent in one step.
// The in-memory ledger serves tests and the demo; a KV-backed one (compare-and-set) is to come.
import { createHmac } from 'node:crypto';
import type { IssueCouponRequest, IssuedCoupon } from './types';

export type IssueOutcome =
  { ok: true; coupon: IssuedCoupon } | { ok: false; reason: 'budget_exhausted'; detail: string };

export interface CouponLedger {
  issue(req: IssueCouponRequest): Promise<IssueOutcome>;
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

interface Spend {
  count: number;
  spentMinor: number;
}

export interface MemoryCouponLedger extends CouponLedger {
  /** Every coupon issued so far, in order. */
  issued(): IssuedCoupon[];
  spend(shopId: string, campaign: string): Spend;
}

export function createMemoryCouponLedger(options: { secret?: string } = {}): MemoryCouponLedger {
  const secret = options.secret ?? 'shopstream-dev-coupons';
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
    issued: () => [...coupons.values()],
    spend: (shopId, campaign) => ({
      ...(spends.get(`${shopId}/${campaign}`) ?? { count: 0, spentMinor: 0 }),
    }),
  };
}
