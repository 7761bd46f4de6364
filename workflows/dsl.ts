// The marketers' flow DSL. A flow is plain data (JSON-serialisable), so a workflow receives the
// definition in its start arguments and keeps the version it started with for its whole life.
// Pure: no I/O, safe to import from workflow code.
import { TIERS, type Tier } from '../schemas/tiers';
import { parseClock, parseDuration, type Duration, type QuietHours } from '../schemas/time';

export type { Duration, QuietHours, Tier };
export { TIERS };

export const FLOW_CHANNELS = ['app_push', 'email', 'sms', 'wechat', 'log', 'webhook'] as const;
export type Channel = (typeof FLOW_CHANNELS)[number];
/**
 * cart_abandoned: one run per (user, cart) once the cart is idle for `abandonAfter`.
 * tier_reached: one run per (user, flow, tier) when the interest processor moves a user into one of
 * `audience.tiers` (a tier_changed event).
 */
export const FLOW_TRIGGERS = ['cart_abandoned', 'tier_reached'] as const;
export type Trigger = (typeof FLOW_TRIGGERS)[number];
export const EXITS = ['purchase', 'cart_emptied', 'opt_out', 'coupon_redeemed'] as const;
export type ExitOn = (typeof EXITS)[number];

/** A fixed amount off, in minor units; only for carts of at least `minCartMinor` (cart flows). */
export interface TierOffer {
  amountMinor: number;
  minCartMinor?: number;
}

/** A campaign's budget: the ledger never issues past either limit. */
export interface CouponBudget {
  maxCoupons?: number;
  maxSpendMinor?: number;
}

export interface CouponSpec {
  campaign: string;
  budget: CouponBudget;
  /** Offer per value tier; a tier without one gets the message without a coupon. */
  byTier: Partial<Record<Tier, TierOffer>>;
  /** How long an issued code stays valid. Default 7d. */
  expiresAfter?: Duration;
  currency?: string;
}

export type Step =
  | { kind: 'wait'; duration: Duration }
  | { kind: 'send'; channel: Channel; template: string }
  | { kind: 'send_with_coupon'; channel: Channel; template: string; coupon: CouponSpec }
  | { kind: 'end' };

export interface Exit {
  on: ExitOn;
}

export interface Flow {
  name: string;
  version: number;
  trigger: Trigger;
  audience?: { tiers?: Tier[]; holdoutPercent?: number };
  /** cart_abandoned flows: how long the cart must stay unchanged before the steps start. */
  abandonAfter?: Duration;
  /** In the user's time zone; a message due inside waits for the end. */
  quietHours?: QuietHours;
  /** Across all flows, per user-local day. */
  frequencyCap?: { perUserPerDay: number };
  steps: Step[];
  exit: Exit[];
}

export const wait = (duration: Duration): Step => ({ kind: 'wait', duration });
export const send = (channel: Channel, template: string): Step => ({ kind: 'send', channel, template });
export const sendWithCoupon = (channel: Channel, template: string, coupon: CouponSpec): Step => ({
  kind: 'send_with_coupon',
  channel,
  template,
  coupon,
});
/** Ends the flow here; steps after it can never run. */
export const end = (): Step => ({ kind: 'end' });
export const onPurchase = (): Exit => ({ on: 'purchase' });
export const onCartEmptied = (): Exit => ({ on: 'cart_emptied' });
export const onOptOut = (): Exit => ({ on: 'opt_out' });
/** Ends the flow once the coupon it issued is redeemed (flows with a coupon step). */
export const onCouponRedeemed = (): Exit => ({ on: 'coupon_redeemed' });

/** What a coupon step offers a tier for a cart: the amount, or why there is no coupon. */
export function couponOfferFor(
  spec: CouponSpec,
  tier: Tier,
  cartTotalMinor: number,
): { amountMinor: number } | string {
  const offer = spec.byTier[tier];
  if (!offer) return `no offer for tier ${tier}`;
  if (offer.minCartMinor !== undefined && cartTotalMinor < offer.minCartMinor)
    return `cart ${cartTotalMinor} below the ${tier} minimum ${offer.minCartMinor}`;
  return { amountMinor: offer.amountMinor };
}

export type FlowErrorCode =
  | 'missing_name'
  | 'invalid_version'
  | 'unknown_trigger'
  | 'malformed_duration'
  | 'negative_wait'
  | 'unknown_step'
  | 'unknown_channel'
  | 'missing_template'
  | 'coupon_without_campaign'
  | 'coupon_without_budget'
  | 'invalid_coupon_offer'
  | 'unknown_tier'
  | 'unreachable_step'
  | 'no_steps'
  | 'unknown_exit'
  | 'duplicate_exit'
  | 'missing_exit'
  | 'invalid_audience'
  | 'invalid_quiet_hours'
  | 'invalid_frequency_cap'
  | 'invalid_for_trigger';

export interface FlowError {
  code: FlowErrorCode;
  message: string;
  /** Index into `steps`, for errors about one step. */
  step?: number;
  /** The offending field, for errors about the flow itself. */
  field?: string;
}

export class FlowValidationError extends Error {
  override readonly name = 'FlowValidationError';
  readonly code = 'FLOW_INVALID';
  constructor(
    readonly flow: string,
    readonly errors: readonly FlowError[],
  ) {
    super(`flow '${flow}' is invalid:\n${errors.map((e) => `  - ${e.message}`).join('\n')}`);
  }
}

const isPositiveInt = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n > 0;
const isOneOf = <T extends string>(list: readonly T[], v: unknown): v is T =>
  (list as readonly unknown[]).includes(v);

/** Checks a positive duration; returns the error, if any. */
function checkDuration(d: unknown, where: string, at: Pick<FlowError, 'step' | 'field'>): FlowError[] {
  const ms = typeof d === 'string' ? parseDuration(d) : undefined;
  if (ms === undefined)
    return [{ code: 'malformed_duration', message: `${where}: malformed duration '${String(d)}'`, ...at }];
  if (ms <= 0) return [{ code: 'negative_wait', message: `${where}: must be longer than zero`, ...at }];
  return [];
}

function checkCoupon(c: Partial<CouponSpec> | undefined, where: string, step: number): FlowError[] {
  const errors: FlowError[] = [];
  const add = (code: FlowErrorCode, message: string): number => errors.push({ code, message, step });
  if (typeof c?.campaign !== 'string' || !c.campaign)
    add('coupon_without_campaign', `${where}: a coupon step needs a campaign id`);
  const b = c?.budget;
  if (!b || (b.maxCoupons === undefined && b.maxSpendMinor === undefined))
    add('coupon_without_budget', `${where}: a coupon step needs a budget (maxCoupons or maxSpendMinor)`);
  else if (
    (b.maxCoupons !== undefined && !isPositiveInt(b.maxCoupons)) ||
    (b.maxSpendMinor !== undefined && !isPositiveInt(b.maxSpendMinor))
  )
    add('coupon_without_budget', `${where}: budget limits must be positive integers`);
  const tiers = Object.entries(c?.byTier ?? {});
  if (tiers.length === 0) add('invalid_coupon_offer', `${where}: byTier offers no coupon to any tier`);
  for (const [tier, offer] of tiers) {
    if (!isOneOf(TIERS, tier)) add('unknown_tier', `${where}: unknown tier '${tier}'`);
    if (!isPositiveInt(offer?.amountMinor))
      add('invalid_coupon_offer', `${where}: ${tier} amountMinor must be a positive integer`);
    const min = offer?.minCartMinor;
    if (min !== undefined && !(Number.isInteger(min) && min >= 0))
      add('invalid_coupon_offer', `${where}: ${tier} minCartMinor must be a non-negative integer`);
  }
  if (c?.expiresAfter !== undefined)
    errors.push(...checkDuration(c.expiresAfter, `${where} expiresAfter`, { step }));
  return errors;
}

function checkStep(s: Step, i: number): FlowError[] {
  const where = `step ${i} (${String(s?.kind)})`;
  if (s?.kind === 'end') return [];
  if (s?.kind === 'wait') return checkDuration(s.duration, where, { step: i });
  if (s?.kind !== 'send' && s?.kind !== 'send_with_coupon')
    return [{ code: 'unknown_step', message: `${where}: unknown step kind`, step: i }];
  const errors: FlowError[] = [];
  if (!isOneOf(FLOW_CHANNELS, s.channel))
    errors.push({
      code: 'unknown_channel',
      message: `${where}: unknown channel '${String(s.channel)}' (one of ${FLOW_CHANNELS.join(', ')})`,
      step: i,
    });
  if (typeof s.template !== 'string' || !s.template)
    errors.push({ code: 'missing_template', message: `${where}: missing template`, step: i });
  if (s.kind === 'send_with_coupon') errors.push(...checkCoupon(s.coupon, where, i));
  return errors;
}

function checkFlowFields(f: Flow): FlowError[] {
  const errors: FlowError[] = [];
  const add = (code: FlowErrorCode, field: string, message: string): number =>
    errors.push({ code, field, message: `${field}: ${message}` });
  if (typeof f.name !== 'string' || !/^[a-z0-9][a-z0-9-]*$/.test(f.name))
    add('missing_name', 'name', 'a lower-case name (letters, digits, dashes) is required');
  if (!isPositiveInt(f.version)) add('invalid_version', 'version', 'must be a positive integer');
  if (!isOneOf(FLOW_TRIGGERS, f.trigger)) add('unknown_trigger', 'trigger', `unknown '${String(f.trigger)}'`);
  if (f.trigger === 'cart_abandoned')
    errors.push(...checkDuration(f.abandonAfter, 'abandonAfter', { field: 'abandonAfter' }));
  else if (f.trigger === 'tier_reached' && f.abandonAfter !== undefined)
    add('invalid_for_trigger', 'abandonAfter', `only cart_abandoned flows wait for abandonment`);
  const a = f.audience;
  if (f.trigger === 'tier_reached' && !(a?.tiers && a.tiers.length > 0))
    add('invalid_for_trigger', 'audience.tiers', 'a tier_reached flow names the tiers it starts on');
  if (a?.tiers?.some((t) => !isOneOf(TIERS, t))) add('invalid_audience', 'audience.tiers', 'unknown tier');
  const h = a?.holdoutPercent;
  if (h !== undefined && !(Number.isInteger(h) && h >= 0 && h <= 100))
    add('invalid_audience', 'audience.holdoutPercent', 'must be an integer from 0 to 100');
  const q = f.quietHours;
  if (q && (parseClock(q.start) === undefined || parseClock(q.end) === undefined || q.start === q.end))
    add('invalid_quiet_hours', 'quietHours', `expected two different 'HH:MM' times`);
  if (f.frequencyCap && !isPositiveInt(f.frequencyCap.perUserPerDay))
    add('invalid_frequency_cap', 'frequencyCap.perUserPerDay', 'must be a positive integer');
  return errors;
}

function checkExits(exits: Exit[] | undefined, trigger: Trigger, hasCoupon: boolean): FlowError[] {
  const errors: FlowError[] = [];
  const seen = new Set<string>();
  for (const e of exits ?? []) {
    if (!isOneOf(EXITS, e?.on))
      errors.push({ code: 'unknown_exit', field: 'exit', message: `exit: unknown '${String(e?.on)}'` });
    else if (seen.has(e.on))
      errors.push({ code: 'duplicate_exit', field: 'exit', message: `exit: '${e.on}' listed twice` });
    seen.add(String(e?.on));
  }
  const missing = (message: string): number => errors.push({ code: 'missing_exit', field: 'exit', message });
  const invalid = (message: string): number =>
    errors.push({ code: 'invalid_for_trigger', field: 'exit', message });
  if (!seen.has('opt_out')) missing('exit: missing onOptOut() (required)');
  if (trigger === 'cart_abandoned' && !seen.has('purchase'))
    missing('exit: missing onPurchase() (required for cart_abandoned)');
  if (trigger === 'tier_reached' && !seen.has('purchase') && !seen.has('coupon_redeemed'))
    missing('exit: a tier_reached flow needs onCouponRedeemed() or onPurchase()');
  if (trigger !== 'cart_abandoned' && seen.has('cart_emptied'))
    invalid(`exit: onCartEmptied() needs a cart_abandoned trigger`);
  if (seen.has('coupon_redeemed') && trigger === 'cart_abandoned')
    invalid('exit: onCouponRedeemed() is for tier_reached flows (a cart flow ends on the purchase)');
  else if (seen.has('coupon_redeemed') && !hasCoupon)
    invalid('exit: onCouponRedeemed() needs a sendWithCoupon step');
  return errors;
}

/**
 * A tier flow releases one coupon, to every tier it starts on, without cart conditions (there is no
 * cart): the steps after it are about that coupon.
 */
function checkTierCoupons(flow: Flow, steps: Step[]): FlowError[] {
  const errors: FlowError[] = [];
  const add = (step: number, message: string): number =>
    errors.push({
      code: 'invalid_for_trigger',
      step,
      message: `step ${step} (send_with_coupon): ${message}`,
    });
  const couponSteps = steps.flatMap((s, i) => (s?.kind === 'send_with_coupon' ? [i] : []));
  for (const i of couponSteps.slice(1)) add(i, 'a tier_reached flow releases one coupon');
  for (const i of couponSteps.slice(0, 1)) {
    const byTier = (steps[i] as Extract<Step, { kind: 'send_with_coupon' }>).coupon?.byTier ?? {};
    for (const [tier, offer] of Object.entries(byTier))
      if (offer?.minCartMinor !== undefined)
        add(i, `${tier} minCartMinor needs a cart (cart_abandoned flows)`);
    for (const tier of flow.audience?.tiers ?? [])
      if (!byTier[tier]) add(i, `no offer for ${tier}, a tier the flow starts on`);
  }
  return errors;
}

/** Every problem with a flow, in order; empty when it is valid. */
export function validateFlow(flow: Flow): FlowError[] {
  const steps = Array.isArray(flow.steps) ? flow.steps : [];
  const errors = checkFlowFields(flow);
  if (steps.length === 0)
    errors.push({ code: 'no_steps', field: 'steps', message: 'steps: a flow needs steps' });
  const endAt = steps.findIndex((s) => s?.kind === 'end');
  steps.forEach((s, i) => {
    errors.push(...checkStep(s, i));
    if (endAt >= 0 && i > endAt)
      errors.push({
        code: 'unreachable_step',
        step: i,
        message: `step ${i} (${String(s?.kind)}): unreachable after the end at step ${endAt}`,
      });
  });
  if (flow.trigger === 'tier_reached') errors.push(...checkTierCoupons(flow, steps));
  const hasCoupon = steps.some((s) => s?.kind === 'send_with_coupon');
  errors.push(...checkExits(flow.exit, flow.trigger, hasCoupon));
  return errors;
}

/** Validates a flow and returns it; throws a FlowValidationError listing every problem. */
export function defineFlow(flow: Flow): Flow {
  const errors = validateFlow(flow);
  if (errors.length > 0) throw new FlowValidationError(String(flow.name), errors);
  return flow;
}
