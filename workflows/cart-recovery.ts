// Runs a cart_abandoned flow for one (shop, user, cart): waits until the cart has been idle for the
// flow's abandonment window, then runs its steps. Purchase, an emptied cart and opt-out end it at
// once, even mid-wait; a cart change sends it back to waiting for idleness, after which it resumes at
// the first step not yet done (a message is never sent twice). Deterministic: time is workflow time,
// every side effect is an activity.
import {
  ApplicationFailure,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  patched,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { IssuedCoupon } from '../activities/types';
import { couponOfferFor, validateFlow, type CouponSpec, type Flow, type Step, type Tier } from './dsl';
import { couponIssued, flowEntered, reminderSent } from './flow-events';
import { isHeldOut } from './holdout';
import {
  acts,
  couponVars,
  localActs,
  pinnedId,
  sendStepMessage,
  takeCapSlot,
  waitOutQuietHours,
} from './message-step';
import { attempt } from './outcome';
import { durationMs, isValidTimeZone } from '../schemas/time';

export interface CartSnapshot {
  totalMinor: number;
  itemCount: number;
  currency?: string;
  /** When the change happened (the event's occurred_at), epoch ms. */
  eventTime: number;
}

export interface OrderPlacedSignal {
  orderId: string;
  eventTime: number;
}

export interface OptedOutSignal {
  eventTime: number;
}

/**
 * One workflow per (shop, user, cart): the trigger signals-with-start cartChanged under this id, so
 * the first change starts the flow and later ones reset its timer; orders and opt-outs are signals.
 */
export const cartRecoveryWorkflowId = (shopId: string, userId: string, cartId: string): string =>
  `cart-recovery/${shopId}/${userId}/${cartId}`;

/** Resets the abandonment timer; an empty cart ends the flow (with onCartEmptied). */
export const cartChanged = defineSignal<[CartSnapshot]>('cartChanged');
/** Ends the flow whatever the order's event time: orders end carts. */
export const orderPlaced = defineSignal<[OrderPlacedSignal]>('orderPlaced');
export const optedOut = defineSignal<[OptedOutSignal]>('optedOut');

export type ExitReason = 'purchased' | 'cart_emptied' | 'opted_out' | 'completed' | 'not_in_audience';
export type Phase = 'waiting_for_abandonment' | 'waiting' | 'quiet_hours' | 'sending' | 'done';

export interface TimelineEntry {
  at: number;
  event:
    | 'abandoned'
    | 'quiet_hours'
    | 'sent'
    | 'held_out'
    | 'capped'
    | 'deferred'
    | 'coupon_skipped'
    | 'send_failed'
    | 'exited';
  step?: number;
  channel?: string;
  template?: string;
  coupon?: { tier: Tier; amountMinor: number; code?: string };
  detail?: string;
}

export interface RecoveryState {
  flow: string;
  phase: Phase;
  nextStep: number;
  heldOut: boolean;
  cart: CartSnapshot;
  cartChanges: number;
  runs: number;
  exit?: ExitReason;
  timeline: TimelineEntry[];
}
export const recoveryState = defineQuery<RecoveryState>('recoveryState');

/** What a run hands the next one on continue-as-new. */
export interface CarriedState {
  nextStep: number;
  idle: boolean;
  cart: CartSnapshot;
  cartChanges: number;
  runs: number;
  timeline: TimelineEntry[];
  /** flow_entered was published (runs from before the 'flow-entered-event' patch never do). */
  entered?: boolean;
}

export interface CartRecoveryInput {
  flow: Flow;
  shopId: string;
  userId: string;
  cartId: string;
  tier: Tier;
  /** 'UTC', a fixed offset ('+08:00') or an IANA zone ('Asia/Shanghai'). */
  timeZone: string;
  cart: CartSnapshot;
  /** Continue as new past this many history events. Default 5000. */
  maxHistoryEvents?: number;
  carried?: CarriedState;
}

export interface CartRecoveryResult {
  exit: ExitReason;
  orderId?: string;
  timeline: TimelineEntry[];
}

export async function cartRecoveryWorkflow(input: CartRecoveryInput): Promise<CartRecoveryResult> {
  const { flow, shopId, userId, cartId, tier, timeZone } = input;
  const problems = validateFlow(flow).map((p) => p.message);
  if (!isValidTimeZone(timeZone)) problems.push(`unknown time zone '${timeZone}'`);
  if (flow.trigger !== 'cart_abandoned') problems.push(`a ${flow.trigger} flow is not a cart flow`);
  if (problems.length > 0)
    throw ApplicationFailure.nonRetryable(`cannot run '${flow.name}': ${problems.join('; ')}`, 'FlowInvalid');
  const s: CarriedState = input.carried ?? {
    nextStep: 0,
    idle: false,
    cart: input.cart,
    cartChanges: 0,
    runs: 0,
    timeline: [],
  };
  // Runs begun before this patch keep scheduling every call as an activity (their histories say so).
  const quick = patched('local-activities') ? localActs : acts;
  const exits = new Set(flow.exit.map((e) => e.on));
  const heldOut = isHeldOut(flow.name, userId, flow.audience?.holdoutPercent ?? 0);
  const info = workflowInfo();
  const keyBase = `${info.workflowId}/${info.firstExecutionRunId}`;
  let exit: ExitReason | undefined;
  let orderId: string | undefined;
  let changed = false;
  let phase: Phase = 'waiting_for_abandonment';

  setHandler(cartChanged, (cart) => {
    if (exit || cart.eventTime < s.cart.eventTime) return; // a late event: a newer one is already applied
    s.cart = cart;
    s.cartChanges++;
    if (cart.itemCount === 0 && exits.has('cart_emptied')) exit = 'cart_emptied';
    else changed = true;
  });
  setHandler(orderPlaced, (order) => {
    exit ??= 'purchased';
    orderId ??= order.orderId;
  });
  setHandler(optedOut, () => {
    exit ??= 'opted_out';
  });
  setHandler(recoveryState, () => ({
    flow: `${flow.name}@${flow.version}`,
    phase,
    nextStep: s.nextStep,
    heldOut,
    cart: s.cart,
    cartChanges: s.cartChanges,
    runs: s.runs,
    ...(exit ? { exit } : {}),
    timeline: s.timeline,
  }));

  const record = (entry: Omit<TimelineEntry, 'at'>): void => {
    s.timeline.push({ at: Date.now(), ...entry });
  };

  /** Sleeps; true if the time passed, false if an exit or a cart change (not yet handled) came first. */
  async function pause(ms: number, next: Phase): Promise<boolean> {
    phase = next;
    await condition(() => exit !== undefined || changed, ms);
    return exit === undefined && !changed;
  }

  /**
   * Waits until the cart has been idle for the flow's abandonment window, counted from the cart's
   * last change (its event time), not from when this task runs: a flow started late (a backlog)
   * whose moment has passed goes on at once. Runs from before the 'abandon-from-event-time' patch
   * count the window from now (their histories say so).
   */
  async function waitForAbandonment(): Promise<boolean> {
    const window = durationMs(flow.abandonAfter ?? '0s');
    if (!patched('abandon-from-event-time')) return pause(window, 'waiting_for_abandonment');
    // never longer than the window: an event time in the future does not hold the flow back
    const left = Math.min(window, s.cart.eventTime + window - Date.now());
    if (left > 0) return pause(left, 'waiting_for_abandonment');
    phase = 'waiting_for_abandonment';
    return exit === undefined && !changed;
  }

  async function maybeContinueAsNew(): Promise<void> {
    const { historyLength, continueAsNewSuggested } = workflowInfo();
    if (historyLength <= (input.maxHistoryEvents ?? 5000) && !continueAsNewSuggested) return;
    await continueAsNew<typeof cartRecoveryWorkflow>({ ...input, carried: { ...s, runs: s.runs + 1 } });
  }

  /** Runs a message step; false if interrupted before sending. */
  async function sendStep(step: Extract<Step, { channel: string }>, index: number): Promise<boolean> {
    if (!(await waitOutQuietHours(flow, timeZone, index, (ms) => pause(ms, 'quiet_hours'), record)))
      return false;
    phase = 'sending';
    const base = { step: index, channel: step.channel, template: step.template };
    const offer =
      step.kind === 'send_with_coupon' ? couponOfferFor(step.coupon, tier, s.cart.totalMinor) : undefined;
    if (heldOut) {
      const coupon = typeof offer === 'object' ? { tier, ...offer } : undefined;
      record({ event: 'held_out', ...base, ...(coupon ? { coupon } : {}) });
      return true;
    }
    const key = `${keyBase}/${index}`;
    if (!(await takeCapSlot(quick, flow, { shopId, userId, timeZone }, { ...base, key }, record)))
      return true;
    if (exit) return false;
    let coupon: IssuedCoupon | undefined;
    if (typeof offer === 'string') record({ event: 'coupon_skipped', ...base, detail: offer });
    else if (offer && step.kind === 'send_with_coupon')
      coupon = await issue(step.coupon, offer.amountMinor, index);
    if (exit) return false;
    const vars: Record<string, string | number> = {
      cartId,
      cartTotalMinor: s.cart.totalMinor,
      itemCount: s.cart.itemCount,
      timeZone,
    };
    if (s.cart.currency) vars.currency = s.cart.currency;
    if (coupon) Object.assign(vars, couponVars(coupon));
    if (!(await sendStepMessage({ shopId, userId }, { ...base, key }, vars, record))) return true;
    record({
      event: 'sent',
      ...base,
      ...(coupon ? { coupon: { tier, amountMinor: coupon.amountMinor, code: coupon.code } } : {}),
    });
    const facts = {
      flow: flow.name,
      workflowId: info.workflowId,
      shopId,
      userId,
      cartId,
      key,
      at: Date.now(),
    };
    await attempt(() =>
      quick.publishEvent(pinnedId(reminderSent({ ...facts, ...base, ...(coupon ? { coupon } : {}) }))),
    );
    return true;
  }

  async function issue(
    spec: CouponSpec,
    amountMinor: number,
    step: number,
  ): Promise<IssuedCoupon | undefined> {
    const issuedAt = Date.now();
    const currency = spec.currency ?? s.cart.currency;
    const expiresAt = issuedAt + durationMs(spec.expiresAfter ?? '7d');
    const { campaign, budget } = spec;
    const req = { shopId, userId, campaign, budget, tier, amountMinor, issuedAt, expiresAt };
    const result = await attempt(() => quick.issueCoupon({ ...req, ...(currency ? { currency } : {}) }));
    if (!result.ok) {
      record({ event: 'coupon_skipped', step, detail: `${result.type}: ${result.message}` });
      return undefined;
    }
    // Published even when the ledger already had it (an attempt that issued, then failed): its event
    // id comes from the code and the first issue time, so every publish of one coupon is one event.
    await attempt(() => quick.publishEvent(couponIssued(shopId, userId, result.value)));
    return result.value;
  }

  const finish = (reason: ExitReason): CartRecoveryResult => {
    exit ??= reason;
    phase = 'done';
    record({ event: 'exited', detail: exit });
    return { exit, ...(orderId ? { orderId } : {}), timeline: s.timeline };
  };

  const audience = flow.audience?.tiers;
  if (audience && !audience.includes(tier)) return finish('not_in_audience');
  if (s.cart.itemCount === 0 && exits.has('cart_emptied')) return finish('cart_emptied');

  while (exit === undefined && s.nextStep < flow.steps.length) {
    if (changed) {
      changed = false; // the user is back: wait for the cart to be idle again, then resume
      s.idle = false;
    }
    await maybeContinueAsNew();
    if (!s.idle) {
      if (await waitForAbandonment()) {
        s.idle = true;
        record({ event: 'abandoned', step: s.nextStep });
        // Added after v1 histories were recorded: replaying those runs never publishes it; a run from
        // before the patch that goes idle again in a live task publishes it then (late, once).
        if (!s.entered && patched('flow-entered-event')) {
          s.entered = true;
          const entry = { flow: flow.name, version: flow.version, workflowId: info.workflowId };
          const who = { shopId, userId, cartId, tier, holdout: heldOut, key: keyBase, at: Date.now() };
          await attempt(() => quick.publishEvent(pinnedId(flowEntered({ ...entry, ...who }))));
        }
      }
      continue;
    }
    const step = flow.steps[s.nextStep]!;
    let done = true;
    if (step.kind === 'wait') done = await pause(durationMs(step.duration), 'waiting');
    else if (step.kind === 'end') s.nextStep = flow.steps.length - 1;
    else done = await sendStep(step, s.nextStep);
    if (done) s.nextStep++;
  }
  return finish('completed');
}
