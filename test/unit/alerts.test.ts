import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { ALERT_RULES, createAlerts, prometheusRules, type AlertChange } from '../../streams/dashboard/alerts';
import type { DashboardPayload } from '../../streams/dashboard/routes';

const T0 = Date.UTC(2026, 11, 4, 12);
const MIN = 60_000;

function payload(over: {
  botP95?: number | null;
  sla?: number | null;
  lag?: number;
  deadLetters?: number;
  lastIngestedMs?: number;
}): DashboardPayload {
  return {
    generatedAt: new Date(T0).toISOString(),
    totals: { events: 10, orders: 1, revenue: 1, lastIngestedMs: over.lastIngestedMs ?? T0 },
    throughput: [],
    funnel: { viewed: 0, carted: 0, checkedOut: 0, ordered: 0 },
    recovery: [],
    couponsByTier: [],
    service: [
      { responder: 'bot', first_response_p95: over.botP95 ?? 200 },
      { responder: 'human', first_response_sla: over.sla === undefined ? 0.95 : over.sla },
    ],
    operations: {
      lag: [{ consumer: 'sink', pending: over.lag ?? 0 }],
      deadLetters: { total: over.deadLetters ?? 0, byReason: {} },
    },
    gaps: [],
    alerts: [],
  };
}

function harness() {
  const changes: AlertChange[] = [];
  const gauge = new Map<string, boolean>();
  const alerts = createAlerts({
    publish: (c) => {
      changes.push(c);
      return Promise.resolve();
    },
    gauge: (a, f) => gauge.set(a, f),
  });
  const firing = async (p: DashboardPayload, now: number): Promise<string[]> =>
    (await alerts.evaluate(p, now)).filter((s) => s.firing).map((s) => s.name);
  return { alerts, changes, gauge, firing };
}

describe('alert rules', () => {
  it('fire over (or under) their threshold, publish each change once, and resolve', async () => {
    const h = harness();
    expect(await h.firing(payload({}), T0)).toEqual([]);
    expect(h.changes).toEqual([]); // nothing changed: nothing published
    expect(await h.firing(payload({ botP95: 1500, sla: 0.5 }), T0 + MIN)).toEqual([
      'BotFirstResponseSlow',
      'HumanSlaAttainmentLow',
    ]);
    expect(await h.firing(payload({ botP95: 1600, sla: 0.5 }), T0 + 2 * MIN)).toHaveLength(2);
    expect(h.changes.map((c) => `${c.alert}:${c.state}`)).toEqual([
      'BotFirstResponseSlow:firing',
      'HumanSlaAttainmentLow:firing',
    ]);
    expect(h.changes[0]).toMatchObject({ value: 1500, threshold: 1000, severity: 'warning' });
    expect(h.gauge.get('BotFirstResponseSlow')).toBe(true);
    const states = await h.alerts.evaluate(payload({ botP95: 300, sla: 0.5 }), T0 + 3 * MIN);
    expect(states.find((s) => s.name === 'BotFirstResponseSlow')).toMatchObject({ firing: false });
    expect(states.find((s) => s.name === 'HumanSlaAttainmentLow')).toMatchObject({
      firing: true,
      since: new Date(T0 + MIN).toISOString(),
    });
    expect(h.changes.at(-1)).toMatchObject({ alert: 'BotFirstResponseSlow', state: 'resolved' });
    expect(h.gauge.get('BotFirstResponseSlow')).toBe(false);
  });

  it('never fires on what is not measured yet', async () => {
    const h = harness();
    expect(await h.firing(payload({ botP95: null, sla: null, lastIngestedMs: 0 }), T0)).toEqual([]);
  });

  it('consumer lag fires only while it grows at every look, over the threshold', async () => {
    const h = harness();
    expect(await h.firing(payload({ lag: 20_000 }), T0)).toEqual([]); // one look
    expect(await h.firing(payload({ lag: 30_000 }), T0 + MIN)).toEqual([]); // two
    expect(await h.firing(payload({ lag: 40_000 }), T0 + 2 * MIN)).toEqual(['ConsumerLagGrowing']);
    expect(await h.firing(payload({ lag: 35_000 }), T0 + 3 * MIN)).toEqual([]); // draining: resolved
  });

  it('dead letters fire on how many were added in 10 minutes, not on the total', async () => {
    const h = harness();
    const at = (deadLetters: number, minute: number) =>
      h.firing(payload({ deadLetters, lastIngestedMs: T0 + minute * MIN }), T0 + minute * MIN);
    expect(await at(1000, 0)).toEqual([]);
    expect(await at(1040, 5)).toEqual([]);
    expect(await at(1060, 9)).toEqual(['DeadLettersRising']); // 60 added since minute 0
    // at minute 20 the window starts at the look of minute 11 (1060): 10 added
    await at(1060, 11);
    expect(await at(1070, 20)).toEqual([]);
  });

  it('no events for more than 5 minutes fires', async () => {
    const h = harness();
    expect(await h.firing(payload({ lastIngestedMs: T0 - 4 * MIN }), T0)).toEqual([]);
    expect(await h.firing(payload({ lastIngestedMs: T0 - 6 * MIN }), T0)).toEqual(['NoEvents']);
  });

  it('are exported as a Prometheus rules file, kept in infra/prometheus/shopstream-alerts.yml', () => {
    const doc = parse(prometheusRules()) as {
      groups: {
        name: string;
        rules: { alert: string; expr: string; for: string; labels: { severity: string } }[];
      }[];
    };
    expect(doc.groups[0]!.rules.map((r) => r.alert)).toEqual(ALERT_RULES.map((r) => r.name));
    for (const r of doc.groups[0]!.rules) {
      expect(r.expr).toMatch(/shopstream_/);
      expect(r.for).toMatch(/^\d+m$/);
      expect(['warning', 'critical']).toContain(r.labels.severity);
    }
    const committed = readFileSync(
      path.join(__dirname, '../../infra/prometheus/shopstream-alerts.yml'),
      'utf8',
    );
    expect(committed).toBe(prometheusRules()); // regenerate: npx shopstream alerts rules > infra/prometheus/shopstream-alerts.yml
  });
});
