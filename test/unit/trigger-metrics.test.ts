// The stream triggers' stats as a Prometheus counter, read at scrape time.
import { createMetrics, flattenCounts } from '../../infra/metrics';

describe('trigger metrics', () => {
  it('flattens stats into results, nested counts joined with _', () => {
    expect(
      flattenCounts({ started: 3, failed: 0, rejected: { CouponExpired: 2, NotTheOwner: 1 }, label: 'x' }),
    ).toEqual([
      ['started', 3],
      ['rejected_CouponExpired', 2],
      ['rejected_NotTheOwner', 1],
    ]);
  });

  it('exports each trigger’s current counts as shopstream_trigger_results_total', async () => {
    const metrics = createMetrics({ defaults: false });
    const stats = { started: 1, redeemed: 0 };
    metrics.addTrigger('coupon', () => stats);
    stats.started = 4;
    stats.redeemed = 2;
    const text = await metrics.registry.metrics();
    expect(text).toContain('shopstream_trigger_results_total{trigger="coupon",result="started"} 4');
    expect(text).toContain('shopstream_trigger_results_total{trigger="coupon",result="redeemed"} 2');
  });
});
