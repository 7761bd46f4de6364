// Flow timing from configuration: the demo runs the shipped flows with durations scaled and capped,
// not copies of them.
import { loadConfig } from '../../infra/config';
import {
  AS_WRITTEN,
  cartRecovery,
  shippedFlows,
  tierCoupons,
  timingFrom,
  withTiming,
} from '../../workflows/flows';
import { scaleDuration } from '../../workflows/flows/timing';
import { escalationDeadlines } from '../../streams/triggers/chat-model';

const DEMO = { timeScale: 360, maxWaitMs: 6000, quietHours: false, frequencyCapPerDay: 10 };

it('as written by default: the shipped flows themselves', () => {
  const flows = shippedFlows(timingFrom(loadConfig({}).flows));
  expect(flows.cartRecovery).toBe(cartRecovery);
  expect(flows.tierCoupons).toEqual([tierCoupons]);
  expect(withTiming(cartRecovery, AS_WRITTEN)).toBe(cartRecovery);
});

it("the demo's timing scales waits and abandonment, caps waits, drops quiet hours, keeps names", () => {
  const f = withTiming(cartRecovery, DEMO);
  expect(f.name).toBe('cart-recovery');
  expect(f.abandonAfter).toBe('5s'); // 30m / 360
  expect(f.steps.filter((s) => s.kind === 'wait').map((s) => s.kind === 'wait' && s.duration)).toEqual([
    '6s', // 1h / 360 = 10 s, capped
    '6s',
    '6s',
  ]);
  const coupon = f.steps.find((s) => s.kind === 'send_with_coupon');
  expect(coupon?.kind === 'send_with_coupon' && coupon.coupon.expiresAfter).toBe('1680s'); // 7d / 360, not capped
  expect(f.quietHours).toBeUndefined();
  expect(f.frequencyCap).toEqual({ perUserPerDay: 10 });
  expect(cartRecovery.quietHours).toBeDefined(); // the shipped flow is untouched
  expect(cartRecovery.abandonAfter).toBe('30m');
});

it('scaled durations are whole seconds, at least one', () => {
  expect(scaleDuration('1s', 1000)).toBe('1s');
  expect(scaleDuration('1h', 1)).toBe('3600s');
  expect(scaleDuration('2d', 1, 60_000)).toBe('60s');
});

it('config: FLOW_* and ESCALATION_* are read and validated', () => {
  const c = loadConfig({
    FLOW_TIME_SCALE: '360',
    FLOW_MAX_WAIT: '6s',
    FLOW_QUIET_HOURS: 'off',
    FLOW_FREQUENCY_CAP: '10',
    ESCALATION_FIRST_RESPONSE: '5s',
    ESCALATION_RESOLUTION: '25s',
  });
  expect(timingFrom(c.flows)).toEqual(DEMO);
  expect(escalationDeadlines(c.flows)).toEqual({ firstResponseDeadline: '5s', resolutionDeadline: '25s' });
  expect(escalationDeadlines(loadConfig({}).flows)).toEqual({
    firstResponseDeadline: '300s',
    resolutionDeadline: '3600s',
  });
  expect(() => loadConfig({ FLOW_TIME_SCALE: '0' })).toThrow(/FLOW_TIME_SCALE/);
  expect(() => loadConfig({ FLOW_QUIET_HOURS: 'sometimes' })).toThrow(/FLOW_QUIET_HOURS/);
});
