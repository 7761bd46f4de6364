// The cart-recovery workflow on the time-skipping test server: the shipped flow's whole timeline,
// exits mid-wait, late and out-of-order events, quiet hours, the frequency cap, holdout, coupons
// (idempotent on retry, budget under concurrency) and continue-as-new.
import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { couponCode, type CouponLedger } from '../../activities';
import { send, wait, type Flow } from '../../workflows/dsl';
import { cartRecovery } from '../../workflows/flows/cart-recovery';
import {
  cartChanged,
  cartRecoveryWorkflow,
  optedOut,
  orderPlaced,
  recoveryState,
  type CartRecoveryInput,
  type TimelineEntry,
} from '../../workflows/cart-recovery';
import { localTime } from '../../schemas/time';
import { createFakes, uniqueId, useWorkflowTestEnv, userIdFor, zoneWhere, type Fakes } from './helpers';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const t = useWorkflowTestEnv('cart-recovery');

const withWorker = <T>(fakes: Fakes, run: () => Promise<T>): Promise<T> =>
  t.withWorker(fakes.activities, run);

/** Start arguments for a user and a cart changed now; override what a test is about. */
async function startArgs(
  over: Partial<CartRecoveryInput> & { heldOut?: boolean } = {},
): Promise<CartRecoveryInput> {
  const now = await t.env.currentTimeMs();
  const { heldOut = false, ...rest } = over;
  const flow = rest.flow ?? cartRecovery;
  return {
    flow,
    shopId: 'shop-1',
    userId: userIdFor(flow.name, flow.audience?.holdoutPercent ?? 0, heldOut),
    cartId: uniqueId('cart'),
    tier: 'repeat',
    // the first reminder (abandoned after 30m, then 1h) falls at 10:00 local
    timeZone: zoneWhere(now + 90 * MINUTE, '10:00'),
    cart: { totalMinor: 8_000, itemCount: 2, currency: 'USD', eventTime: now },
    ...rest,
  };
}

async function start(args: CartRecoveryInput) {
  const handle = await t.env.client.workflow.start(cartRecoveryWorkflow, {
    args: [args],
    taskQueue: t.taskQueue,
    workflowId: uniqueId('cart-recovery'),
  });
  t.started.push(handle);
  return handle;
}

const entries = (timeline: TimelineEntry[], event: TimelineEntry['event']) =>
  timeline.filter((e) => e.event === event);

describe('cart recovery on the shipped flow', () => {
  it('runs the whole timeline: reminders 1h, 24h and 72h after abandonment, the second with the tier coupon', async () => {
    const fakes = createFakes();
    const args = await startArgs();
    const result = await withWorker(fakes, async () => (await start(args)).result());

    expect(result.exit).toBe('completed');
    const [abandoned] = entries(result.timeline, 'abandoned');
    expect(abandoned!.at - args.cart.eventTime).toBeGreaterThanOrEqual(30 * MINUTE);
    const sent = entries(result.timeline, 'sent');
    expect(sent.map((e) => [e.channel, e.template])).toEqual([
      ['app_push', 'cart_reminder_1'],
      ['email', 'cart_reminder_coupon'],
      ['app_push', 'cart_reminder_last'],
    ]);
    const hoursAfterAbandonment = sent.map((e) => Math.round((e.at - abandoned!.at) / HOUR));
    expect(hoursAfterAbandonment).toEqual([1, 24, 72]);
    // 10:00, then 09:00 on the next day and two days later: outside quiet hours, nothing deferred
    expect(sent.map((e) => localTime(e.at, args.timeZone).minuteOfDay / 60)).toEqual([10, 9, 9]);
    expect(entries(result.timeline, 'quiet_hours')).toEqual([]);

    const code = couponCode('test', { ...args, campaign: 'cart-recovery-tier-coupon', tier: 'repeat' });
    expect(sent[1]!.coupon).toEqual({ tier: 'repeat', amountMinor: 1_000, code });
    expect(fakes.channels.email.sent[0]!.vars).toMatchObject({ couponCode: code, couponAmountMinor: 1_000 });
    expect(fakes.sent()).toHaveLength(3);
    expect(fakes.ledger.issued()).toHaveLength(1);
    expect(fakes.events.map((e) => e.type)).toEqual([
      'flow_entered',
      'reminder_sent',
      'coupon_issued',
      'reminder_sent',
      'reminder_sent',
    ]);
    expect(fakes.events[0]!.properties).toMatchObject({ flow: 'cart-recovery', holdout: false });
    expect(new Set(fakes.events.map((e) => e.eventId)).size).toBe(5);
  });
});

describe('exits', () => {
  it('ends at once on purchase during a wait: no further message', async () => {
    const fakes = createFakes();
    const args = await startArgs();
    const { result, afterSignal } = await withWorker(fakes, async () => {
      const handle = await start(args);
      await t.env.sleep('2h'); // the first reminder went at 1h30m; now inside the 23h wait
      expect((await handle.query(recoveryState)).phase).toBe('waiting');
      await handle.signal(orderPlaced, { orderId: 'o-1', eventTime: await t.env.currentTimeMs() });
      const afterSignal = await t.env.currentTimeMs();
      return { result: await handle.result(), afterSignal };
    });
    expect(result).toMatchObject({ exit: 'purchased', orderId: 'o-1' });
    expect(result.timeline.at(-1)!.at - afterSignal).toBeLessThan(MINUTE); // not at the end of the wait
    expect(fakes.sent().map((m) => m.template)).toEqual(['cart_reminder_1']);
  });

  it('ends on a late order whose event time is before the last cart change (orders end carts)', async () => {
    const fakes = createFakes();
    const args = await startArgs();
    const t0 = args.cart.eventTime;
    const result = await withWorker(fakes, async () => {
      const handle = await start(args);
      await t.env.sleep('10m');
      await handle.signal(cartChanged, {
        totalMinor: 9_000,
        itemCount: 3,
        currency: 'USD',
        eventTime: t0 + 10 * MINUTE,
      });
      await handle.signal(orderPlaced, { orderId: 'o-late', eventTime: t0 + 5 * MINUTE });
      return handle.result();
    });
    expect(result.exit).toBe('purchased');
    expect(fakes.sent()).toEqual([]);
  });

  it('ignores a cart event older than the last one applied, and ends on an emptied cart', async () => {
    const fakes = createFakes();
    const args = await startArgs();
    const t0 = args.cart.eventTime;
    const result = await withWorker(fakes, async () => {
      const handle = await start(args);
      await t.env.sleep('10m');
      await handle.signal(cartChanged, { totalMinor: 9_000, itemCount: 3, eventTime: t0 + 9 * MINUTE });
      await handle.signal(cartChanged, { totalMinor: 0, itemCount: 0, eventTime: t0 + 1 * MINUTE }); // late
      expect((await handle.query(recoveryState)).cart.itemCount).toBe(3);
      await handle.signal(cartChanged, { totalMinor: 0, itemCount: 0, eventTime: t0 + 10 * MINUTE });
      return handle.result();
    });
    expect(result.exit).toBe('cart_emptied');
    expect(fakes.sent()).toEqual([]);
  });
  it('ends at once on opt-out', async () => {
    const fakes = createFakes();
    const result = await withWorker(fakes, async () => {
      const handle = await start(await startArgs());
      await t.env.sleep('10m');
      await handle.signal(optedOut, { eventTime: await t.env.currentTimeMs() });
      return handle.result();
    });
    expect(result.exit).toBe('opted_out');
    expect(fakes.sent()).toEqual([]);
  });

  it('records a message its channel cannot take and goes on with the next step', async () => {
    const fakes = createFakes();
    const flow: Flow = {
      ...cartRecovery,
      audience: { holdoutPercent: 0 },
      steps: [send('sms', 'no_sms_adapter'), wait('1h'), send('app_push', 'after_sms')],
    };
    const result = await withWorker(fakes, async () => (await start(await startArgs({ flow }))).result());
    const [failed] = entries(result.timeline, 'send_failed');
    expect(failed).toMatchObject({ step: 0, channel: 'sms' });
    expect(failed!.detail).toMatch(/^ChannelNotConfigured: /);
    expect(entries(result.timeline, 'sent').map((e) => e.template)).toEqual(['after_sms']);
  });
  it('fails at once, without retrying, on an invalid flow or time zone', async () => {
    const fakes = createFakes();
    const flow = { ...cartRecovery, steps: [wait('-1h')] };
    const err = await withWorker(fakes, async () =>
      (await start(await startArgs({ flow, timeZone: 'Mars/Olympus' }))).result().catch((e: unknown) => e),
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe('FlowInvalid');
    expect(cause!.message).toMatch(
      /step 0 \(wait\): must be longer than zero; unknown time zone 'Mars\/Olympus'/,
    );
  });
});

describe('abandonment', () => {
  it('counts the window from the cart’s last change (its event time), not from the first workflow task', async () => {
    const fakes = createFakes();
    const now = await t.env.currentTimeMs();
    // the cart changed 20 minutes before the flow started (a backlog): abandoned 10 minutes in
    const args = await startArgs({ cart: { totalMinor: 8_000, itemCount: 2, eventTime: now - 20 * MINUTE } });
    const state = await withWorker(fakes, async () => {
      const handle = await start(args);
      await t.env.sleep('15m');
      const s = await handle.query(recoveryState);
      await handle.signal(orderPlaced, { orderId: 'o-1', eventTime: await t.env.currentTimeMs() });
      await handle.result();
      return s;
    });
    const [abandoned] = entries(state.timeline, 'abandoned');
    expect(abandoned).toBeDefined();
    expect(Math.round((abandoned!.at - args.cart.eventTime) / MINUTE)).toBe(30);
  });

  it('a flow started after its abandonment moment has passed acts at once', async () => {
    const fakes = createFakes();
    const now = await t.env.currentTimeMs();
    const flow: Flow = { ...cartRecovery, steps: [send('email', 'cart_reminder_1')], quietHours: undefined };
    const args = await startArgs({
      flow,
      timeZone: 'UTC',
      cart: { totalMinor: 8_000, itemCount: 2, eventTime: now - 3 * HOUR },
    });
    const result = await withWorker(fakes, async () => (await start(args)).result());
    expect(result.exit).toBe('completed');
    const [abandoned] = entries(result.timeline, 'abandoned');
    const [sent] = entries(result.timeline, 'sent');
    // no timer of its own: abandoned and sent at once (within the test server's skipping)
    expect(abandoned!.at - now).toBeLessThan(MINUTE);
    expect(sent!.at - now).toBeLessThan(MINUTE);
  });

  it('restarts the abandonment timer on a cart change', async () => {
    const fakes = createFakes();
    const args = await startArgs();
    const t0 = args.cart.eventTime;
    const timeline = await withWorker(fakes, async () => {
      const handle = await start(args);
      await t.env.sleep('20m');
      const changedAt = await t.env.currentTimeMs();
      await handle.signal(cartChanged, { totalMinor: 9_000, itemCount: 3, eventTime: changedAt });
      await t.env.sleep(80 * MINUTE); // 1h40m: past the first reminder without the change (1h30m), before it with (1h50m)
      const state = await handle.query(recoveryState);
      await handle.signal(orderPlaced, { orderId: 'o-2', eventTime: await t.env.currentTimeMs() });
      return { state, changedAt, result: await handle.result() };
    });
    const [abandoned] = entries(timeline.result.timeline, 'abandoned');
    expect(Math.round((abandoned!.at - timeline.changedAt) / MINUTE)).toBe(30);
    expect(timeline.state).toMatchObject({ phase: 'waiting', nextStep: 0 }); // in the 1h wait (step 0)
    expect(entries(timeline.state.timeline, 'sent')).toEqual([]);
    expect(abandoned!.at - t0).toBeGreaterThan(50 * MINUTE);
    expect(fakes.sent()).toEqual([]);
  });

  it('after a cart change mid-flow, waits for idleness again and resumes without repeating a message', async () => {
    const fakes = createFakes();
    const args = await startArgs();
    const result = await withWorker(fakes, async () => {
      const handle = await start(args);
      await t.env.sleep('3h'); // first reminder sent at 1h30m
      await handle.signal(cartChanged, {
        totalMinor: 9_000,
        itemCount: 3,
        eventTime: await t.env.currentTimeMs(),
      });
      return handle.result();
    });
    expect(result.exit).toBe('completed');
    expect(entries(result.timeline, 'abandoned')).toHaveLength(2);
    expect(entries(result.timeline, 'sent').map((e) => e.template)).toEqual([
      'cart_reminder_1',
      'cart_reminder_coupon',
      'cart_reminder_last',
    ]);
  });
});

describe('quiet hours, frequency cap, holdout', () => {
  /** A zone where the first reminder (1h30m from now) falls at 23:00: a fixed offset, or Shanghai (UTC+8, no DST) after moving the clock. */
  const zones: [string, () => Promise<string>][] = [
    ['a fixed offset', async () => zoneWhere((await t.env.currentTimeMs()) + 90 * MINUTE, '23:00')],
    [
      'an IANA zone',
      async () => {
        const now = await t.env.currentTimeMs();
        const dueUtc = 15 * HOUR; // 23:00 in Shanghai
        const wait = (((dueUtc - 90 * MINUTE - (now % (24 * HOUR))) % (24 * HOUR)) + 24 * HOUR) % (24 * HOUR);
        await t.env.sleep(wait);
        return 'Asia/Shanghai';
      },
    ],
  ];

  it.each(zones)('holds a reminder due at 23:00 user-local until 08:00 (%s)', async (_name, zone) => {
    const fakes = createFakes();
    const args = await startArgs({ timeZone: await zone() });
    const state = await withWorker(fakes, async () => {
      const handle = await start(args);
      await t.env.sleep('2h');
      const during = await handle.query(recoveryState);
      expect(during.phase).toBe('quiet_hours');
      expect(fakes.sent()).toEqual([]);
      await t.env.sleep('9h');
      const after = await handle.query(recoveryState);
      await handle.signal(orderPlaced, { orderId: 'o-3', eventTime: await t.env.currentTimeMs() });
      await handle.result();
      return after;
    });
    const [deferred] = entries(state.timeline, 'quiet_hours');
    const [sent] = entries(state.timeline, 'sent');
    expect(localTime(deferred!.at, args.timeZone).minuteOfDay).toBe(23 * 60);
    expect(localTime(sent!.at, args.timeZone).minuteOfDay).toBe(8 * 60);
    expect(sent!.at - deferred!.at).toBeGreaterThan(9 * HOUR - MINUTE); // 23:00:ss to 08:00:00
    expect(sent!.at - deferred!.at).toBeLessThanOrEqual(9 * HOUR);
    expect(fakes.sent()).toHaveLength(1);
  });

  it('skips a message when the user already had the day’s cap from other flows', async () => {
    const fakes = createFakes();
    const args = await startArgs();
    const day = localTime(args.cart.eventTime + 90 * MINUTE, args.timeZone).day;
    for (const key of ['other-flow-1', 'other-flow-2'])
      await fakes.slots.reserve({ shopId: args.shopId, userId: args.userId, localDay: day, cap: 2, key });
    const result = await withWorker(fakes, async () => (await start(args)).result());
    expect(
      result.timeline.filter((e) => e.step !== undefined && e.event !== 'abandoned').map((e) => e.event),
    ).toEqual(['capped', 'sent', 'sent']);
    expect(entries(result.timeline, 'capped')[0]!.detail).toBe(`2 of 2 messages already sent on ${day}`);
    expect(entries(result.timeline, 'sent').map((e) => e.template)).toEqual([
      'cart_reminder_coupon',
      'cart_reminder_last',
    ]);
    expect(fakes.sent()).toHaveLength(2);
    expect(fakes.slots.used(args.shopId, args.userId, day)).toBe(2);
  });

  it('sends nothing to the holdout group but records what it would have sent', async () => {
    const fakes = createFakes();
    const args = await startArgs({ heldOut: true });
    const result = await withWorker(fakes, async () => (await start(args)).result());
    expect(result.exit).toBe('completed');
    const heldOut = entries(result.timeline, 'held_out');
    expect(heldOut.map((e) => e.template)).toEqual([
      'cart_reminder_1',
      'cart_reminder_coupon',
      'cart_reminder_last',
    ]);
    expect(heldOut[1]!.coupon).toEqual({ tier: 'repeat', amountMinor: 1_000 });
    expect(fakes.sent()).toEqual([]);
    expect(fakes.ledger.issued()).toEqual([]);
    // only the assignment, so uplift can be measured against this user
    expect(fakes.events.map((e) => [e.type, e.properties])).toEqual([
      ['flow_entered', expect.objectContaining({ holdout: true, cartId: args.cartId, tier: 'repeat' })],
    ]);
  });
});

/** One coupon message, no holdout, no cap: the coupon tests' flow. */
const couponFlow = (budget: { maxCoupons: number }): Flow => ({
  ...cartRecovery,
  name: 'coupon-test',
  audience: { holdoutPercent: 0 },
  frequencyCap: undefined,
  quietHours: undefined,
  steps: [
    {
      kind: 'send_with_coupon',
      channel: 'email',
      template: 'coupon',
      coupon: { campaign: 'test-campaign', budget, byTier: { repeat: { amountMinor: 1_000 } } },
    },
  ],
});

describe('coupons', () => {
  it('issues the same code once when issueCoupon fails after issuing and is retried', async () => {
    let failures = 0;
    const flaky = (inner: CouponLedger): CouponLedger => ({
      ref: (code) => inner.ref(code),
      async issue(req) {
        const outcome = await inner.issue(req);
        if (failures++ === 0) throw new Error('connection reset after the ledger committed');
        return outcome;
      },
    });
    const fakes = createFakes({ ledger: flaky });
    const args = await startArgs({ flow: couponFlow({ maxCoupons: 100 }) });
    const result = await withWorker(fakes, async () => (await start(args)).result());
    expect(failures).toBe(2); // the failed attempt and the retry
    const issued = fakes.ledger.issued();
    expect(issued).toHaveLength(1);
    expect(fakes.ledger.spend(args.shopId, 'test-campaign')).toEqual({ count: 1, spentMinor: 1_000 });
    expect(entries(result.timeline, 'sent')[0]!.coupon!.code).toBe(issued[0]!.code);
    expect(fakes.channels.email.sent[0]!.vars.couponCode).toBe(issued[0]!.code);
    // published once (the retry found it already issued; the event id comes from the code)
    expect(fakes.events.filter((e) => e.type === 'coupon_issued')).toHaveLength(1);
  });

  it('never exceeds the budget with 50 concurrent workflows; the rest get the message without a coupon', async () => {
    const fakes = createFakes();
    const flow = couponFlow({ maxCoupons: 20 });
    const results = await withWorker(fakes, async () => {
      const handles = await Promise.all(
        Array.from({ length: 50 }, async () => start(await startArgs({ flow }))),
      );
      await t.env.sleep('1h'); // all of them abandon at 30m and issue at once
      // results one at a time: the test server stalls on dozens of concurrent long polls
      const results = [];
      for (const h of handles) results.push(await h.result());
      return results;
    });
    expect(fakes.ledger.issued()).toHaveLength(20);
    expect(fakes.ledger.spend('shop-1', 'test-campaign').count).toBe(20);
    expect(fakes.channels.email.sent).toHaveLength(50);
    const skipped = results.flatMap((r) => entries(r.timeline, 'coupon_skipped'));
    expect(skipped).toHaveLength(30);
    expect(skipped[0]!.detail).toMatch(/^CouponBudgetExhausted: /);
  });
});

describe('history limits', () => {
  it('continues as new past the history limit, carrying its state', async () => {
    const fakes = createFakes();
    const args = await startArgs({ maxHistoryEvents: 40 });
    const result = await withWorker(fakes, async () => {
      const handle = await start(args);
      for (let i = 1; i <= 20; i++) {
        await t.env.sleep('1m');
        await handle.signal(cartChanged, {
          totalMinor: 8_000 + i,
          itemCount: 2,
          eventTime: await t.env.currentTimeMs(),
        });
      }
      await t.env.sleep('2h');
      const state = await handle.query(recoveryState);
      expect(state.runs).toBeGreaterThan(0);
      expect(state.cartChanges).toBe(20);
      expect(state.cart.totalMinor).toBe(8_020);
      await handle.signal(orderPlaced, { orderId: 'o-4', eventTime: await t.env.currentTimeMs() });
      return handle.result();
    });
    expect(result.exit).toBe('purchased');
    expect(fakes.sent().map((m) => m.template)).toEqual(['cart_reminder_1']);
  });
});
