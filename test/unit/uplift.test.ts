import { ratio, upliftInterval } from '../../analytics/named-reports';

describe('recovery uplift with a 95% confidence interval', () => {
  it('is significant when the interval excludes 0', () => {
    // 50/100 vs 20/100: diff 0.3; se = sqrt(0.25/100 + 0.16/100) = 0.064031; 1.959964 * se = 0.125499
    const u = upliftInterval({ n: 100, converted: 50 }, { n: 100, converted: 20 })!;
    expect(u.diff).toBeCloseTo(0.3, 10);
    expect(u.low).toBeCloseTo(0.174501, 5);
    expect(u.high).toBeCloseTo(0.425499, 5);
    expect(u.significant).toBe(true);
  });

  it('is not significant when the interval holds 0, and significant below 0 too', () => {
    expect(upliftInterval({ n: 10, converted: 4 }, { n: 5, converted: 1 })!.significant).toBe(false);
    expect(upliftInterval({ n: 100, converted: 20 }, { n: 100, converted: 50 })!.significant).toBe(true);
  });

  it('has no interval without a holdout or a treatment group', () => {
    expect(upliftInterval({ n: 10, converted: 4 }, { n: 0, converted: 0 })).toBeUndefined();
    expect(upliftInterval({ n: 0, converted: 0 }, { n: 5, converted: 1 })).toBeUndefined();
  });

  it('rates of nothing are null, not 0', () => {
    expect(ratio(0, 0)).toBeNull();
    expect(ratio(1, 3)).toBe(0.3333);
  });
});
