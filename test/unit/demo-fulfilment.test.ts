// The simulator's order fulfilment: in time order, nothing after the simulated now, waybills the
// order view accepts, every status of the order view reached by some orders.
import { decodeEnvelope, encodeEnvelope } from '../../schemas/codec';
import { validateEnvelope } from '../../schemas/validate';
import { planFulfilment } from '../../demo/fulfilment';
import { mulberry32 } from '../../demo/random';
import { planSimulation } from '../../demo/simulator';
import { orderFactOf } from '../../streams/processors/orders/model';
import { buildEnvelope } from '../helpers/events';

const T0 = Date.UTC(2026, 5, 10, 2);
const UNTIL = T0 + 2 * 3_600_000;

describe('the demo order fulfilment', () => {
  const plans = Array.from({ length: 2000 }, (_, i) =>
    planFulfilment(
      mulberry32(i),
      { orderId: `o-${i}`, placedAt: T0 + (i % 90) * 60_000, totalMinor: 1999, currency: 'USD' },
      UNTIL,
    ),
  );

  it('emits paid, shipped, delivered and refunded in time order, none after the simulated now', () => {
    const order = ['order_paid', 'order_shipped', 'order_delivered', 'order_refunded'];
    for (const p of plans) {
      expect(p.map((e) => e.type)).toEqual(order.slice(0, p.length));
      for (let i = 1; i < p.length; i++) expect(p[i]!.at).toBeGreaterThan(p[i - 1]!.at);
      for (const e of p) expect(e.at).toBeLessThanOrEqual(UNTIL);
    }
    const reached = new Set(plans.map((p) => p.at(-1)?.type ?? 'placed'));
    expect(reached).toEqual(new Set(['placed', ...order]));
  });

  it('ships with waybills in the couriers formats that the schema and the order view accept', () => {
    const shipments = plans.flatMap((p) => p.filter((e) => e.type === 'order_shipped'));
    expect(new Set(shipments.map((s) => s.properties.carrier))).toEqual(
      new Set(['SF', 'ZTO', 'YTO', 'JD', 'EMS']),
    );
    for (const s of shipments) {
      const e = buildEnvelope('order_shipped', { occurredAt: s.at }, s.properties);
      expect(validateEnvelope(e)).toEqual([]);
      const d = decodeEnvelope(encodeEnvelope(e));
      if (!d.ok) throw new Error(d.detail);
      expect(orderFactOf(d.envelope, 'order_shipped').kind).toBe('ok');
    }
    expect(shipments.find((s) => s.properties.carrier === 'SF')?.properties.trackingNumber).toMatch(
      /^SF\d{12}$/,
    );
  });

  it('the simulator sends them from the server channel after the order, deterministically', () => {
    const users = planSimulation({ users: 300, seed: 7, t0: T0 });
    const shipped = users.flatMap((u) => u.events.filter((e) => e.type === 'order_shipped'));
    expect(shipped.length).toBeGreaterThan(20);
    for (const e of shipped) expect(e.input.channel).toBe('server');
    expect(planSimulation({ users: 300, seed: 7, t0: T0 })).toEqual(users);
  });
});
