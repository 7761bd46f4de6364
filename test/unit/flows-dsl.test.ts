// The flow DSL's validation: every error a marketer can make, with its code and step index, all at
// once; and the shipped flows are valid plain data.
import {
  FlowValidationError,
  couponOfferFor,
  defineFlow,
  end,
  onCartEmptied,
  onCouponRedeemed,
  onOptOut,
  onPurchase,
  send,
  sendWithCoupon,
  validateFlow,
  wait,
  type Channel,
  type CouponSpec,
  type Duration,
  type Flow,
  type FlowError,
} from '../../workflows/dsl';
import { cartRecovery } from '../../workflows/flows/cart-recovery';
import { flows } from '../../workflows/flows';

const coupon: CouponSpec = {
  campaign: 'spring',
  budget: { maxCoupons: 100 },
  byTier: { new: { amountMinor: 500 }, repeat: { amountMinor: 1_000, minCartMinor: 5_000 } },
};

const base: Flow = {
  name: 'test-flow',
  version: 1,
  trigger: 'cart_abandoned',
  abandonAfter: '30m',
  steps: [wait('1h'), send('email', 'reminder')],
  exit: [onPurchase(), onOptOut()],
};

const codes = (errors: FlowError[]) => errors.map((e) => [e.code, e.step ?? e.field]);

describe('validateFlow', () => {
  it('accepts a valid flow and the shipped ones', () => {
    expect(validateFlow(base)).toEqual([]);
    for (const flow of Object.values(flows)) expect(validateFlow(flow)).toEqual([]);
  });

  it('reports an unknown channel with the step index', () => {
    const flow = { ...base, steps: [wait('1h'), send('fax' as Channel, 'reminder')] };
    const errors = validateFlow(flow);
    expect(codes(errors)).toEqual([['unknown_channel', 1]]);
    expect(errors[0]!.message).toBe(
      "step 1 (send): unknown channel 'fax' (one of app_push, email, sms, wechat, log, webhook)",
    );
  });

  it.each([
    ['-1h', 'negative_wait'],
    ['0s', 'negative_wait'],
    ['1x', 'malformed_duration'],
    ['1.5h', 'malformed_duration'],
    ['h', 'malformed_duration'],
    ['', 'malformed_duration'],
  ])('reports a wait of %j as %s', (duration, code) => {
    const flow = { ...base, steps: [wait(duration as Duration), send('email', 'reminder')] };
    expect(codes(validateFlow(flow))).toEqual([[code, 0]]);
  });

  it('reports a malformed abandonment window on its field', () => {
    expect(codes(validateFlow({ ...base, abandonAfter: '30 minutes' as Duration }))).toEqual([
      ['malformed_duration', 'abandonAfter'],
    ]);
  });

  it('reports a coupon step without a budget or a campaign', () => {
    const noBudget = { ...coupon, budget: {} };
    const noCampaign = { ...coupon, campaign: '' };
    const flow = {
      ...base,
      steps: [sendWithCoupon('email', 'a', noBudget), wait('1d'), sendWithCoupon('sms', 'b', noCampaign)],
    };
    expect(codes(validateFlow(flow))).toEqual([
      ['coupon_without_budget', 0],
      ['coupon_without_campaign', 2],
    ]);
    const missing = {
      ...base,
      steps: [{ kind: 'send_with_coupon', channel: 'email', template: 'a' } as never],
    };
    expect(codes(validateFlow(missing))).toEqual([
      ['coupon_without_campaign', 0],
      ['coupon_without_budget', 0],
      ['invalid_coupon_offer', 0],
    ]);
  });

  it('reports bad offers, unknown tiers and non-positive limits', () => {
    const bad = {
      campaign: 'x',
      budget: { maxSpendMinor: -5 },
      byTier: { vip: { amountMinor: 100 }, new: { amountMinor: 0 } },
    } as unknown as CouponSpec;
    expect(codes(validateFlow({ ...base, steps: [sendWithCoupon('email', 'a', bad)] }))).toEqual([
      ['coupon_without_budget', 0],
      ['unknown_tier', 0],
      ['invalid_coupon_offer', 0],
    ]);
  });

  it('reports every step after an unconditional end as unreachable', () => {
    const flow = { ...base, steps: [wait('1h'), send('email', 'a'), end(), wait('1h'), send('email', 'b')] };
    const errors = validateFlow(flow);
    expect(codes(errors)).toEqual([
      ['unreachable_step', 3],
      ['unreachable_step', 4],
    ]);
    expect(errors[0]!.message).toBe('step 3 (wait): unreachable after the end at step 2');
  });

  it('requires an exit on purchase (and on opt-out), and rejects unknown or repeated exits', () => {
    expect(codes(validateFlow({ ...base, exit: [onOptOut()] }))).toEqual([['missing_exit', 'exit']]);
    expect(validateFlow({ ...base, exit: [onOptOut()] })[0]!.message).toBe(
      'exit: missing onPurchase() (required for cart_abandoned)',
    );
    expect(
      codes(validateFlow({ ...base, exit: [onPurchase(), onPurchase(), { on: 'bored' } as never] })),
    ).toEqual([
      ['duplicate_exit', 'exit'],
      ['unknown_exit', 'exit'],
      ['missing_exit', 'exit'],
    ]);
  });

  it('checks the flow fields: name, version, trigger, audience, quiet hours, cap, steps', () => {
    const flow = {
      ...base,
      name: 'Cart Recovery!',
      version: 0,
      trigger: 'page_viewed',
      audience: { tiers: ['vip'], holdoutPercent: 150 },
      quietHours: { start: '25:00', end: '08:00' },
      frequencyCap: { perUserPerDay: 0 },
      steps: [],
    } as unknown as Flow;
    expect(codes(validateFlow(flow))).toEqual([
      ['missing_name', 'name'],
      ['invalid_version', 'version'],
      ['unknown_trigger', 'trigger'],
      ['invalid_audience', 'audience.tiers'],
      ['invalid_audience', 'audience.holdoutPercent'],
      ['invalid_quiet_hours', 'quietHours'],
      ['invalid_frequency_cap', 'frequencyCap.perUserPerDay'],
      ['no_steps', 'steps'],
    ]);
  });

  it('reports an unknown step kind and a missing template', () => {
    const flow = { ...base, steps: [{ kind: 'teleport' } as never, send('email', '')] };
    expect(codes(validateFlow(flow))).toEqual([
      ['unknown_step', 0],
      ['missing_template', 1],
    ]);
  });
});

describe('validateFlow on tier_reached flows', () => {
  const tierFlow: Flow = {
    name: 'tier-test',
    version: 1,
    trigger: 'tier_reached',
    audience: { tiers: ['repeat'] },
    steps: [sendWithCoupon('app_push', 'welcome', { ...coupon, byTier: { repeat: { amountMinor: 1_000 } } })],
    exit: [onCouponRedeemed(), onOptOut()],
  };

  it('accepts a tier flow that exits on redemption', () => {
    expect(validateFlow(tierFlow)).toEqual([]);
  });

  it('rejects what only a cart flow can have, and a tier flow without its tiers', () => {
    const bad = {
      ...tierFlow,
      audience: {},
      abandonAfter: '30m',
      steps: [sendWithCoupon('app_push', 'welcome', coupon)],
      exit: [onCouponRedeemed(), onOptOut(), onCartEmptied()],
    } as Flow;
    expect(codes(validateFlow(bad))).toEqual([
      ['invalid_for_trigger', 'abandonAfter'],
      ['invalid_for_trigger', 'audience.tiers'],
      ['invalid_for_trigger', 0], // repeat minCartMinor: there is no cart
      ['invalid_for_trigger', 'exit'],
    ]);
  });

  it('releases one coupon, with an offer for every tier it starts on', () => {
    const twoTiers = { ...tierFlow, audience: { tiers: ['repeat', 'high_value'] } } as Flow;
    expect(validateFlow(twoTiers).map((e) => e.message)).toEqual([
      'step 0 (send_with_coupon): no offer for high_value, a tier the flow starts on',
    ]);
    const twoCoupons = { ...tierFlow, steps: [...tierFlow.steps, wait('1d'), ...tierFlow.steps] };
    expect(codes(validateFlow(twoCoupons))).toEqual([['invalid_for_trigger', 2]]);
  });

  it('needs an exit on redemption or purchase, and a coupon step for onCouponRedeemed', () => {
    expect(codes(validateFlow({ ...tierFlow, exit: [onOptOut()] }))).toEqual([['missing_exit', 'exit']]);
    const noCoupon = { ...tierFlow, steps: [send('app_push', 'hello')] };
    expect(validateFlow(noCoupon).map((e) => e.message)).toEqual([
      'exit: onCouponRedeemed() needs a sendWithCoupon step',
    ]);
    // a cart flow may not use the tier exits without a coupon either
    expect(codes(validateFlow({ ...base, exit: [...base.exit, onCouponRedeemed()] }))).toEqual([
      ['invalid_for_trigger', 'exit'],
    ]);
  });
});

describe('defineFlow', () => {
  it('throws a FlowValidationError listing every problem', () => {
    const flow = {
      ...base,
      steps: [wait('-1h'), send('fax' as Channel, 'a'), end(), send('email', 'b')],
    };
    let thrown: unknown;
    try {
      defineFlow({ ...flow, exit: [onCartEmptied()] });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(FlowValidationError);
    const err = thrown as FlowValidationError;
    expect(err).toMatchObject({ name: 'FlowValidationError', code: 'FLOW_INVALID', flow: 'test-flow' });
    expect(codes([...err.errors])).toEqual([
      ['negative_wait', 0],
      ['unknown_channel', 1],
      ['unreachable_step', 3],
      ['missing_exit', 'exit'],
      ['missing_exit', 'exit'],
    ]);
    expect(err.message.split('\n')).toHaveLength(6);
    expect(err.message).toContain(
      "flow 'test-flow' is invalid:\n  - step 0 (wait): must be longer than zero",
    );
  });

  it('returns a valid flow as plain data that survives JSON (workflow arguments)', () => {
    expect(defineFlow(base)).toBe(base);
    expect(JSON.parse(JSON.stringify(cartRecovery))).toEqual(cartRecovery);
  });
});

describe('the shipped cart-recovery flow', () => {
  it('reminds at 1h, 24h and 72h after abandonment, the second with a tier coupon', () => {
    expect(cartRecovery).toMatchObject({
      abandonAfter: '30m',
      quietHours: { start: '21:00', end: '08:00' },
      frequencyCap: { perUserPerDay: 2 },
      audience: { holdoutPercent: 10 },
    });
    expect(cartRecovery.steps.map((s) => s.kind)).toEqual([
      'wait',
      'send',
      'wait',
      'send_with_coupon',
      'wait',
      'send',
    ]);
    expect(cartRecovery.steps.filter((s) => s.kind === 'wait').map((s) => s.duration)).toEqual([
      '1h',
      '23h',
      '48h',
    ]);
    expect(cartRecovery.exit.map((e) => e.on).sort()).toEqual(['cart_emptied', 'opt_out', 'purchase']);
  });
});

describe('couponOfferFor', () => {
  it('gives the tier its amount, or says why not', () => {
    expect(couponOfferFor(coupon, 'new', 100)).toEqual({ amountMinor: 500 });
    expect(couponOfferFor(coupon, 'repeat', 5_000)).toEqual({ amountMinor: 1_000 });
    expect(couponOfferFor(coupon, 'repeat', 4_999)).toBe('cart 4999 below the repeat minimum 5000');
    expect(couponOfferFor(coupon, 'high_value', 100_000)).toBe('no offer for tier high_value');
  });
});
