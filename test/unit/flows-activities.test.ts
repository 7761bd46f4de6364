// The flows' activities without a server: the coupon ledger (deterministic codes, budget held under
// concurrency), message slots (the cap, idempotent per message), the log channel, and business
// failures as non-retryable ApplicationFailures.
import { ApplicationFailure } from '@temporalio/activity';
import {
  ActivityErrorType,
  couponCode,
  createActivities,
  createLogChannel,
  createMemoryCouponLedger,
  createMemoryMessageSlots,
  type IssueCouponRequest,
  type PublishedFlowEvent,
} from '../../activities';
import { isUlid } from '../../schemas/ulid';

const request = (over: Partial<IssueCouponRequest> = {}): IssueCouponRequest => ({
  shopId: 'shop-1',
  userId: 'user-1',
  campaign: 'spring',
  budget: { maxCoupons: 10 },
  tier: 'repeat',
  amountMinor: 1_000,
  currency: 'USD',
  issuedAt: 1_000,
  expiresAt: 2_000,
  ...over,
});

describe('coupon ledger', () => {
  it('derives the code from shop, user, campaign and tier (and the secret)', () => {
    const code = couponCode('s', request());
    expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
    expect(couponCode('s', request())).toBe(code);
    expect(couponCode('s', request({ tier: 'new' }))).not.toBe(code);
    expect(couponCode('s', request({ userId: 'user-2' }))).not.toBe(code);
    expect(couponCode('other secret', request())).not.toBe(code);
  });

  it('issues once per user, campaign and tier: a retry gets the same coupon and spends nothing', async () => {
    const ledger = createMemoryCouponLedger();
    const first = await ledger.issue(request());
    const again = await ledger.issue(request({ issuedAt: 5_000, expiresAt: 9_000 }));
    expect(first).toMatchObject({ ok: true, coupon: { newlyIssued: true, issuedAt: 1_000 } });
    expect(again).toMatchObject({
      ok: true,
      coupon: { newlyIssued: false, issuedAt: 1_000, expiresAt: 2_000 },
    });
    expect(first.ok && again.ok && first.coupon.code === again.coupon.code).toBe(true);
    expect(ledger.spend('shop-1', 'spring')).toEqual({ count: 1, spentMinor: 1_000 });
  });

  it('never exceeds a count budget with 50 concurrent issues', async () => {
    const ledger = createMemoryCouponLedger();
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, (_, i) => ledger.issue(request({ userId: `user-${i}` }))),
    );
    expect(outcomes.filter((o) => o.ok)).toHaveLength(10);
    expect(outcomes.find((o) => !o.ok)).toEqual({
      ok: false,
      reason: 'budget_exhausted',
      detail: 'spring: all 10 coupons issued',
    });
    expect(ledger.issued()).toHaveLength(10);
  });

  it('never exceeds a spend budget', async () => {
    const ledger = createMemoryCouponLedger();
    const budget = { maxSpendMinor: 2_500 };
    const outcomes = await Promise.all(
      ['a', 'b', 'c'].map((userId) => ledger.issue(request({ userId, budget }))),
    );
    expect(outcomes.map((o) => o.ok)).toEqual([true, true, false]);
    expect(ledger.spend('shop-1', 'spring')).toEqual({ count: 2, spentMinor: 2_000 });
  });
});

describe('message slots', () => {
  it('grants up to the cap per user-local day, the same message again without a new slot', async () => {
    const slots = createMemoryMessageSlots();
    const reserve = (key: string, localDay = '2025-03-01') =>
      slots.reserve({ shopId: 's', userId: 'u', localDay, cap: 2, key });
    expect(await reserve('m1')).toEqual({ granted: true, used: 1 });
    expect(await reserve('m1')).toEqual({ granted: true, used: 1 });
    expect(await reserve('m2')).toEqual({ granted: true, used: 2 });
    expect(await reserve('m3')).toEqual({ granted: false, used: 2 });
    expect(await reserve('m3', '2025-03-02')).toEqual({ granted: true, used: 1 });
  });
});

describe('createActivities', () => {
  const setup = () => {
    const log = createLogChannel('log');
    const events: PublishedFlowEvent[] = [];
    const activities = createActivities({
      channels: { log },
      ledger: createMemoryCouponLedger(),
      slots: createMemoryMessageSlots(),
      publish: (e) => {
        events.push(e);
        return Promise.resolve();
      },
      now: () => 42,
    });
    return { log, events, activities };
  };
  const message = {
    shopId: 's',
    userId: 'u',
    template: 't',
    vars: { cartId: 'c' },
    idempotencyKey: 'wf/run/1',
  };

  it('sends once per idempotency key', async () => {
    const { log, activities } = setup();
    const first = await activities.sendMessage({ ...message, channel: 'log' });
    const again = await activities.sendMessage({ ...message, channel: 'log' });
    expect(first).toEqual({ messageId: 'log-1', sentAt: 42 });
    expect(again.messageId).toBe('log-1');
    expect(log.sent).toHaveLength(1);
  });

  it('fails non-retryably on a channel that is not configured', async () => {
    const { activities } = setup();
    const err = await activities.sendMessage({ ...message, channel: 'sms' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: ActivityErrorType.ChannelNotConfigured, nonRetryable: true });
  });

  it('fails non-retryably when the campaign budget is spent', async () => {
    const { activities } = setup();
    await activities.issueCoupon(request({ budget: { maxCoupons: 1 } }));
    const err = await activities
      .issueCoupon(request({ userId: 'user-2', budget: { maxCoupons: 1 } }))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ type: ActivityErrorType.CouponBudgetExhausted, nonRetryable: true });
  });

  it('publishes an event under an id derived from its key and time: a retry is the same event', async () => {
    const { activities, events } = setup();
    const event = {
      type: 'reminder_sent' as const,
      shopId: 's',
      userId: 'u',
      occurredAt: 1_700_000_000_000,
      key: 'wf/run/1/reminder_sent',
      properties: { flow: 'cart-recovery', workflowId: 'wf', step: 1, deliveryChannel: 'log' },
    };
    await activities.publishEvent(event);
    await activities.publishEvent(event);
    await activities.publishEvent({ ...event, key: 'wf/run/3/reminder_sent' });
    expect(isUlid(events[0]!.eventId)).toBe(true);
    expect(events[1]!.eventId).toBe(events[0]!.eventId);
    expect(events[2]!.eventId).not.toBe(events[0]!.eventId);
  });
});
