// Runs a tier_reached flow for one (shop, user, flow, tier): the interest processor moved the user
// into a value tier the flow's audience names, so the flow releases that tier's coupon and follows it
// up, for example a welcome coupon for new repeat customers and a reminder before it expires.
//
// One run per (user, flow, tier), ever: the trigger starts it under couponReleaseWorkflowId with
// REJECT_DUPLICATE, and the ledger's code is derived from (shop, user, campaign, tier), so a retried
// activity, a replayed workflow or a user who drops out of a tier and comes back gets the same code.
// Expiry is enforced here: once the coupon has expired, no later step runs (a reminder about a coupon
// that no longer works would be wrong); redemption is matched from orders by the coupon triggers,
// which signal couponRedeemed. Holdout users get no message and no coupon, and are still recorded
// (flow_entered, holdout=true), so the coupon's uplift can be measured against them.
import {
  ApplicationFailure,
  condition,
  defineQuery,
  defineSignal,
  patched,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { IssuedCoupon } from '../activities/types';
import type { OptedOutSignal, OrderPlacedSignal, TimelineEntry } from './cart-recovery';
import { couponOfferFor, validateFlow, type CouponSpec, type Flow, type Step, type Tier } from './dsl';
import { couponIssued, flowEntered, reminderSent } from './flow-events';
import { isHeldOut } from './holdout';
import {
  couponVars,
  localActs,
  pinnedId,
  sendStepMessage,
  takeCapSlot,
  waitOutQuietHours,
} from './message-step';
import { attempt } from './outcome';
import { durationMs, isValidTimeZone, msUntilNextLocalDay } from '../schemas/time';

export type { OptedOutSignal, OrderPlacedSignal, TimelineEntry };

/**
 * A coupon step over the day's message cap tries again on the user's next local days, this many
 * times, before the flow gives up on the coupon (exit `no_coupon`). Runs started before the
 * 'capped-coupon-next-day' patch give up at once. Changing the number changes what running workflows
 * do: guard it with a new patch. Without quiet hours in the flow, the next try is at local midnight.
 */
export const CAPPED_COUPON_RETRY_DAYS = 3;

/** One run per (shop, user, flow, tier). */
export const couponReleaseWorkflowId = (shopId: string, userId: string, flow: string, tier: Tier): string =>
  `coupon-release/${shopId}/${userId}/${flow}/${tier}`;

export interface CouponRedeemedSignal {
  code: string;
  orderId: string;
  eventTime: number;
}

/** The flow's coupon was redeemed by an order (matched by the coupon triggers). */
export const couponRedeemed = defineSignal<[CouponRedeemedSignal]>('couponRedeemed');
/** Any order of the user: ends flows with onPurchase(). */
export const orderPlaced = defineSignal<[OrderPlacedSignal]>('orderPlaced');
export const optedOut = defineSignal<[OptedOutSignal]>('optedOut');

export type CouponExitReason =
  | 'redeemed'
  | 'purchased'
  | 'opted_out'
  | 'coupon_expired'
  /** The coupon step released nothing (capped day after day, no offer, budget spent): no follow-up. */
  | 'no_coupon'
  | 'completed'
  | 'not_in_audience';

export interface CouponReleaseState {
  flow: string;
  tier: Tier;
  heldOut: boolean;
  nextStep: number;
  coupon?: IssuedCoupon;
  exit?: CouponExitReason;
  timeline: TimelineEntry[];
}
export const couponReleaseState = defineQuery<CouponReleaseState>('couponReleaseState');

export interface CouponReleaseInput {
  flow: Flow;
  shopId: string;
  userId: string;
  /** The tier the user reached. */
  tier: Tier;
  previousTier?: Tier;
  /** 'UTC', a fixed offset ('+08:00') or an IANA zone ('Asia/Shanghai'). */
  timeZone: string;
}

export interface CouponReleaseResult {
  exit: CouponExitReason;
  coupon?: IssuedCoupon;
  orderId?: string;
  timeline: TimelineEntry[];
}

export async function couponReleaseWorkflow(input: CouponReleaseInput): Promise<CouponReleaseResult> {
  const { flow, shopId, userId, tier, timeZone } = input;
  const problems = validateFlow(flow).map((p) => p.message);
  if (!isValidTimeZone(timeZone)) problems.push(`unknown time zone '${timeZone}'`);
  if (flow.trigger !== 'tier_reached') problems.push(`a ${flow.trigger} flow is not a tier flow`);
  if (problems.length > 0)
    throw ApplicationFailure.nonRetryable(`cannot run '${flow.name}': ${problems.join('; ')}`, 'FlowInvalid');

  const quick = localActs;
  const exits = new Set(flow.exit.map((e) => e.on));
  const heldOut = isHeldOut(flow.name, userId, flow.audience?.holdoutPercent ?? 0);
  const info = workflowInfo();
  const keyBase = `${info.workflowId}/${info.firstExecutionRunId}`;
  const timeline: TimelineEntry[] = [];
  let nextStep = 0;
  let coupon: IssuedCoupon | undefined;
  let exit: CouponExitReason | undefined;
  let orderId: string | undefined;
  let noCoupon = false;
  let cappedDays = 0;

  setHandler(couponRedeemed, (r) => {
    // only this flow's coupon ends it; a redemption of another coupon is not this flow's business
    if (exits.has('coupon_redeemed') && coupon && r.code === coupon.code) {
      exit ??= 'redeemed';
      orderId ??= r.orderId;
    }
  });
  setHandler(orderPlaced, (o) => {
    if (!exits.has('purchase')) return;
    exit ??= 'purchased';
    orderId ??= o.orderId;
  });
  setHandler(optedOut, () => {
    exit ??= 'opted_out';
  });
  setHandler(couponReleaseState, () => ({
    flow: `${flow.name}@${flow.version}`,
    tier,
    heldOut,
    nextStep,
    ...(coupon ? { coupon } : {}),
    ...(exit ? { exit } : {}),
    timeline,
  }));

  const record = (entry: Omit<TimelineEntry, 'at'>): void => {
    timeline.push({ at: Date.now(), ...entry });
  };
  const expired = (): boolean => coupon !== undefined && Date.now() >= coupon.expiresAt;

  /** Sleeps; true if the time passed, false if an exit came first. At most until the coupon expires. */
  async function pause(ms: number): Promise<boolean> {
    const untilExpiry = coupon ? Math.max(0, coupon.expiresAt - Date.now()) : Infinity;
    await condition(() => exit !== undefined, Math.min(ms, untilExpiry));
    return exit === undefined && !expired();
  }

  async function issue(
    spec: CouponSpec,
    amountMinor: number,
    step: number,
  ): Promise<IssuedCoupon | undefined> {
    const issuedAt = Date.now();
    const expiresAt = issuedAt + durationMs(spec.expiresAfter ?? '7d');
    const { campaign, budget } = spec;
    const req = { shopId, userId, campaign, budget, tier, amountMinor, issuedAt, expiresAt };
    const result = await attempt(() =>
      quick.issueCoupon({ ...req, ...(spec.currency ? { currency: spec.currency } : {}) }),
    );
    if (!result.ok) {
      record({ event: 'coupon_skipped', step, detail: `${result.type}: ${result.message}` });
      return undefined;
    }
    await attempt(() => quick.publishEvent(couponIssued(shopId, userId, result.value)));
    return result.value;
  }

  async function sendStep(step: Extract<Step, { channel: string }>, index: number): Promise<boolean> {
    if (!(await waitOutQuietHours(flow, timeZone, index, pause, record))) return false;
    const base = { step: index, channel: step.channel, template: step.template };
    const offer = step.kind === 'send_with_coupon' ? couponOfferFor(step.coupon, tier, 0) : undefined;
    if (heldOut) {
      const held = typeof offer === 'object' ? { tier, ...offer } : undefined;
      record({ event: 'held_out', ...base, ...(held ? { coupon: held } : {}) });
      return true;
    }
    const key = `${keyBase}/${index}`;
    const capped = !(await takeCapSlot(quick, flow, { shopId, userId, timeZone }, { ...base, key }, record));
    // A coupon step that releases no coupon (capped, no offer, budget spent) ends the flow: every
    // later step is about that coupon. Over the cap, the coupon waits for the user's next day first.
    if (capped) {
      if (step.kind !== 'send_with_coupon') return true;
      if (cappedDays < CAPPED_COUPON_RETRY_DAYS && patched('capped-coupon-next-day')) {
        cappedDays++;
        const detail = `over the day's cap: trying again on the user's next day (${cappedDays} of ${CAPPED_COUPON_RETRY_DAYS})`;
        record({ event: 'deferred', ...base, detail });
        await pause(msUntilNextLocalDay(Date.now(), timeZone));
        return false; // the step again (quiet hours, a slot on the new day), unless the flow exited
      }
      noCoupon = true;
      return true;
    }
    if (exit) return false;
    if (typeof offer === 'string') {
      record({ event: 'coupon_skipped', ...base, detail: offer });
      noCoupon = true;
      return true;
    }
    if (offer && step.kind === 'send_with_coupon') {
      const issued = await issue(step.coupon, offer.amountMinor, index);
      if (!issued) {
        noCoupon = true;
        return true;
      }
      coupon = issued;
    }
    if (exit) return false;
    const vars: Record<string, string | number> = { tier, timeZone };
    if (coupon) Object.assign(vars, couponVars(coupon), coupon.currency ? { currency: coupon.currency } : {});
    if (!(await sendStepMessage({ shopId, userId }, { ...base, key }, vars, record))) return true;
    const withCoupon = step.kind === 'send_with_coupon' && coupon;
    record({
      event: 'sent',
      ...base,
      ...(withCoupon ? { coupon: { tier, amountMinor: coupon!.amountMinor, code: coupon!.code } } : {}),
    });
    const facts = { flow: flow.name, workflowId: info.workflowId, shopId, userId, cartId: '', key };
    await attempt(() =>
      quick.publishEvent(
        pinnedId(
          reminderSent({ ...facts, ...base, at: Date.now(), ...(withCoupon ? { coupon: coupon! } : {}) }),
        ),
      ),
    );
    return true;
  }

  const finish = (reason: CouponExitReason): CouponReleaseResult => {
    exit ??= reason;
    record({ event: 'exited', detail: exit });
    return {
      exit,
      ...(coupon ? { coupon } : {}),
      ...(orderId ? { orderId } : {}),
      timeline,
    };
  };

  if (!flow.audience?.tiers?.includes(tier)) return finish('not_in_audience');
  const entry = { flow: flow.name, version: flow.version, workflowId: info.workflowId };
  await attempt(() =>
    quick.publishEvent(
      pinnedId(
        flowEntered({ ...entry, shopId, userId, tier, holdout: heldOut, key: keyBase, at: Date.now() }),
      ),
    ),
  );

  while (exit === undefined && nextStep < flow.steps.length) {
    if (expired()) return finish('coupon_expired');
    if (noCoupon) return finish('no_coupon');
    const step = flow.steps[nextStep]!;
    let done = true;
    if (step.kind === 'wait') done = await pause(durationMs(step.duration));
    else if (step.kind === 'end') nextStep = flow.steps.length - 1;
    else done = await sendStep(step, nextStep);
    if (done) nextStep++;
  }
  if (exit === undefined && expired()) return finish('coupon_expired');
  if (exit === undefined && noCoupon) return finish('no_coupon');
  return finish('completed');
}
