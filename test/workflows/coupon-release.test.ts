// The tiered coupon release on the time-skipping test server: the shipped tier-coupons flow's
// timeline, redemption mid-wait (only its own code), expiry stopping the follow-up, audience,
// holdout (recorded, nothing sent), a spent budget, and the same code when the activity is retried.
import { couponCode, type CouponLedger } from '../../activities';
import { defineFlow, onCouponRedeemed, onOptOut, send, sendWithCoupon, wait } from '../../workflows/dsl';
import {
  CAPPED_COUPON_RETRY_DAYS,
  couponRedeemed,
  couponReleaseState,
  couponReleaseWorkflow,
  couponReleaseWorkflowId,
  optedOut,
  type CouponReleaseInput,
} from '../../workflows/coupon-release';
import { tierCoupons } from '../../workflows/flows/tier-coupons';
import { localTime } from '../../schemas/time';
import { createFakes, useWorkflowTestEnv, userIdFor, zoneWhere, type Fakes } from './helpers';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const t = useWorkflowTestEnv('coupon-release');

const withWorker = <T>(fakes: Fakes, run: () => Promise<T>): Promise<T> =>
  t.withWorker(fakes.activities, run);

async function startArgs(
  over: Partial<CouponReleaseInput> & { heldOut?: boolean } = {},
): Promise<CouponReleaseInput> {
  const now = await t.env.currentTimeMs();
  const { heldOut = false, ...rest } = over;
  const flow = rest.flow ?? tierCoupons;
  return {
    flow,
    shopId: 'shop-1',
    userId: userIdFor(flow.name, flow.audience?.holdoutPercent ?? 0, heldOut),
    tier: 'repeat',
    previousTier: 'new',
    // daytime now, so quiet hours do not move the messages
    timeZone: zoneWhere(now, '10:00'),
    ...rest,
  };
}

async function start(args: CouponReleaseInput) {
  const handle = await t.env.client.workflow.start(couponReleaseWorkflow, {
    args: [args],
    taskQueue: t.taskQueue,
    workflowId: couponReleaseWorkflowId(args.shopId, args.userId, args.flow.name, args.tier),
  });
  t.started.push(handle);
  return handle;
}

/** Short windows: coupon valid 2 days, reminder after 3: expiry comes first. */
const expiringFlow = defineFlow({
  name: 'tier-coupons-short',
  version: 1,
  trigger: 'tier_reached',
  audience: { tiers: ['repeat'] },
  steps: [
    sendWithCoupon('app_push', 'tier_coupon_welcome', {
      campaign: 'short',
      budget: { maxCoupons: 10 },
      byTier: { repeat: { amountMinor: 500 } },
      expiresAfter: '2d',
    }),
    wait('3d'),
    send('email', 'tier_coupon_expiring'),
  ],
  exit: [onCouponRedeemed(), onOptOut()],
});

describe('tiered coupon release', () => {
  it('releases the tier coupon at once and reminds 11 days later', async () => {
    const fakes = createFakes();
    const args = await startArgs();
    const t0 = await t.env.currentTimeMs();
    const result = await withWorker(fakes, async () => (await start(args)).result());
    expect(result.exit).toBe('completed');
    const code = couponCode('test', { ...args, campaign: 'tier-coupons', tier: 'repeat' });
    expect(result.coupon).toMatchObject({ code, amountMinor: 1_000, tier: 'repeat' });
    expect(result.coupon!.expiresAt - result.coupon!.issuedAt).toBe(14 * DAY);
    const sent = result.timeline.filter((e) => e.event === 'sent');
    expect(sent.map((e) => [e.template, Math.round((e.at - t0) / DAY)])).toEqual([
      ['tier_coupon_welcome', 0],
      ['tier_coupon_expiring', 11],
    ]);
    expect(fakes.channels.app_push.sent[0]!.vars).toMatchObject({ couponCode: code, tier: 'repeat' });
    expect(fakes.channels.email.sent[0]!.vars).toMatchObject({ couponCode: code });
    expect(fakes.events.map((e) => e.type)).toEqual([
      'flow_entered',
      'coupon_issued',
      'reminder_sent',
      'reminder_sent',
    ]);
    expect(fakes.events[0]!.properties).toMatchObject({
      flow: 'tier-coupons',
      holdout: false,
      tier: 'repeat',
    });
  });

  it('ends when its own coupon is redeemed, even mid-wait; another code does not end it', async () => {
    const fakes = createFakes();
    const args = await startArgs({ tier: 'high_value' });
    const result = await withWorker(fakes, async () => {
      const handle = await start(args);
      await t.env.sleep(2 * DAY);
      const { coupon } = await handle.query(couponReleaseState);
      expect(coupon?.amountMinor).toBe(3_000);
      const at = await t.env.currentTimeMs();
      await handle.signal(couponRedeemed, { code: 'OTHER-CODE', orderId: 'o-0', eventTime: at });
      await t.env.sleep(HOUR);
      expect((await handle.query(couponReleaseState)).exit).toBeUndefined();
      await handle.signal(couponRedeemed, { code: coupon!.code, orderId: 'o-1', eventTime: at });
      return handle.result();
    });
    expect(result).toMatchObject({ exit: 'redeemed', orderId: 'o-1' });
    expect(fakes.channels.email.sent).toHaveLength(0); // no expiry reminder after redemption
  });

  it('stops at expiry: no reminder about a coupon that no longer works', async () => {
    const fakes = createFakes();
    const args = await startArgs({ flow: expiringFlow });
    const t0 = await t.env.currentTimeMs();
    const result = await withWorker(fakes, async () => (await start(args)).result());
    expect(result.exit).toBe('coupon_expired');
    const endedAfter = result.timeline.at(-1)!.at - t0;
    expect(endedAfter).toBeGreaterThanOrEqual(2 * DAY); // the expiry, counted from the issue
    expect(endedAfter).toBeLessThan(2 * DAY + 60_000);
    expect(fakes.channels.email.sent).toHaveLength(0);
  });

  it('a tier outside the audience gets nothing and publishes nothing', async () => {
    const fakes = createFakes();
    const result = await withWorker(fakes, async () =>
      (await start(await startArgs({ tier: 'new' }))).result(),
    );
    expect(result.exit).toBe('not_in_audience');
    expect(fakes.events).toEqual([]);
  });

  it('holds out the holdout group: no coupon, no message, the assignment recorded', async () => {
    const fakes = createFakes();
    const args = await startArgs({ heldOut: true });
    const result = await withWorker(fakes, async () => (await start(args)).result());
    expect(result.exit).toBe('completed');
    expect(fakes.sent()).toEqual([]);
    expect(fakes.ledger.issued()).toEqual([]);
    expect(fakes.events.map((e) => [e.type, e.properties])).toEqual([
      ['flow_entered', expect.objectContaining({ holdout: true, tier: 'repeat' })],
    ]);
  });

  it('with the budget spent: no coupon message and no follow-up', async () => {
    const fakes = createFakes({
      ledger: () => ({
        ref: (code) => code,
        issue: () =>
          Promise.resolve({ ok: false, reason: 'budget_exhausted', detail: 'tier-coupons: spent' }),
      }),
    });
    const result = await withWorker(fakes, async () => (await start(await startArgs())).result());
    expect(result.exit).toBe('no_coupon');
    expect(fakes.sent()).toEqual([]);
    expect(result.timeline.map((e) => e.event)).toEqual(['coupon_skipped', 'exited']);
  });

  /** Fills the user's cap (2 a day, as tier-coupons) on `days` user-local days from now. */
  async function fillCap(fakes: Fakes, args: CouponReleaseInput, days: number): Promise<void> {
    const now = await t.env.currentTimeMs();
    for (let d = 0; d < days; d++) {
      const localDay = localTime(now + d * DAY, args.timeZone).day;
      for (const key of [`cart-1/${d}`, `cart-2/${d}`])
        await fakes.slots.reserve({ shopId: args.shopId, userId: args.userId, localDay, cap: 2, key });
    }
  }

  it('a welcome over the day’s message cap waits for the user’s next morning', async () => {
    const fakes = createFakes();
    const args = await startArgs();
    await fillCap(fakes, args, 1);
    const startedAt = await t.env.currentTimeMs();
    const result = await withWorker(fakes, async () => (await start(args)).result());
    expect(result.exit).toBe('completed');
    const events = result.timeline.map((e) => e.event);
    expect(events.slice(0, 4)).toEqual(['capped', 'deferred', 'quiet_hours', 'sent']);
    const sent = result.timeline.find((e) => e.event === 'sent')!;
    // the next local day, after quiet hours (08:00 local): 22 hours after 10:00 local
    expect(localTime(sent.at, args.timeZone).day).toBe(localTime(startedAt + DAY, args.timeZone).day);
    expect(localTime(sent.at, args.timeZone).minuteOfDay).toBe(8 * 60);
    expect(fakes.ledger.issued()).toHaveLength(1);
    expect(fakes.sent().map((m) => m.template)).toEqual(['tier_coupon_welcome', 'tier_coupon_expiring']);
  });

  it('capped day after day: no coupon and no follow-up after three more days', async () => {
    const fakes = createFakes();
    const args = await startArgs();
    await fillCap(fakes, args, 1 + CAPPED_COUPON_RETRY_DAYS);
    const result = await withWorker(fakes, async () => (await start(args)).result());
    expect(result.exit).toBe('no_coupon');
    expect(result.timeline.filter((e) => e.event === 'deferred')).toHaveLength(CAPPED_COUPON_RETRY_DAYS);
    expect(result.timeline.filter((e) => e.event === 'capped')).toHaveLength(1 + CAPPED_COUPON_RETRY_DAYS);
    expect(fakes.sent()).toEqual([]);
    expect(fakes.ledger.issued()).toEqual([]);
  });

  it('an opt-out while a capped coupon waits for the next day ends the flow', async () => {
    const fakes = createFakes();
    const args = await startArgs();
    await fillCap(fakes, args, 1);
    const result = await withWorker(fakes, async () => {
      const handle = await start(args);
      await t.env.sleep(HOUR);
      expect((await handle.query(couponReleaseState)).timeline.map((e) => e.event)).toEqual([
        'capped',
        'deferred',
      ]);
      await handle.signal(optedOut, { eventTime: await t.env.currentTimeMs() });
      return handle.result();
    });
    expect(result.exit).toBe('opted_out');
    expect(fakes.sent()).toEqual([]);
    expect(fakes.ledger.issued()).toEqual([]);
  });

  it('issues one code when the issuing activity fails after the ledger recorded it', async () => {
    let failures = 0;
    const fakes = createFakes({
      ledger: (inner: CouponLedger) => ({
        ref: (code) => inner.ref(code),
        async issue(req) {
          const out = await inner.issue(req);
          if (failures++ === 0) throw new Error('connection reset after the write');
          return out;
        },
      }),
    });
    const args = await startArgs();
    const result = await withWorker(fakes, async () => (await start(args)).result());
    expect(failures).toBe(2);
    expect(fakes.ledger.issued()).toHaveLength(1);
    expect(result.coupon!.code).toBe(fakes.ledger.issued()[0]!.code);
    expect(fakes.events.filter((e) => e.type === 'coupon_issued')).toHaveLength(1);
  });
});
