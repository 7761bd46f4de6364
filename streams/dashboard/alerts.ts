// Alert rules as code, evaluated by the pipeline service on live data (the dashboard's figures from
// ClickHouse and the pipeline's operations, every ALERT_EVERY_MS), shown on the dashboard, exported
// as the gauge shopstream_alert_firing{alert}, published as `alert_changed` events when a rule starts
// or stops firing, and written as a Prometheus alerting-rules file (`shopstream alerts rules`) with
// the same rules over the service's own metrics for operators who run Prometheus.
import { stringify } from 'yaml';
import type { DashboardPayload } from './routes';

export const ALERT_EVERY_MS = 15_000;
/** How far back the rules that compare over time look (lag growing, dead letters added). */
const WINDOW_MS = 10 * 60_000;

export interface Sample {
  t: number;
  lag: number;
  deadLetters: number;
}

export interface AlertRule {
  name: string;
  severity: 'warning' | 'critical';
  /** What it watches, with the threshold's unit. */
  description: string;
  threshold: number;
  /** The value now; undefined when there is nothing to judge yet (never firing). */
  measure(p: DashboardPayload, history: readonly Sample[], now: number): number | undefined;
  /** Fires above the threshold (default), or below it. */
  below?: boolean;
  prometheus: { expr: string; for: string };
}

const serviceRow = (p: DashboardPayload, who: string): Record<string, unknown> | undefined =>
  p.service.find((r) => r['responder'] === who);
const numberOrUndefined = (v: unknown): number | undefined =>
  v === null || v === undefined || !Number.isFinite(Number(v)) ? undefined : Number(v);

export const ALERT_RULES: readonly AlertRule[] = [
  {
    name: 'BotFirstResponseSlow',
    severity: 'warning',
    description: "the bot's first response p95 over the last 24 hours, in ms",
    threshold: 1000,
    measure: (p) => numberOrUndefined(serviceRow(p, 'bot')?.['first_response_p95']),
    prometheus: {
      expr: 'histogram_quantile(0.95, sum by (le) (rate(shopstream_chat_reply_seconds_bucket[5m]))) > 1',
      for: '5m',
    },
  },
  {
    name: 'HumanSlaAttainmentLow',
    severity: 'warning',
    description: 'share of decided escalations whose first response met its SLA, last 24 hours',
    threshold: 0.8,
    below: true,
    measure: (p) => numberOrUndefined(serviceRow(p, 'human')?.['first_response_sla']),
    // from ClickHouse: the service's own judgement, as its gauge
    prometheus: { expr: 'max(shopstream_alert_firing{alert="HumanSlaAttainmentLow"}) == 1', for: '5m' },
  },
  {
    name: 'ConsumerLagGrowing',
    severity: 'critical',
    description:
      'messages pending on the events stream across consumers, growing at every look for 10 minutes',
    threshold: 10_000,
    measure: (p, history, now) => {
      const recent = history.filter((s) => s.t >= now - WINDOW_MS);
      const total = p.operations.lag.reduce((a, c) => a + c.pending, 0);
      const growing = recent.length >= 3 && recent.every((s, i) => i === 0 || s.lag > recent[i - 1]!.lag);
      return growing ? total : 0;
    },
    prometheus: {
      expr: 'sum(shopstream_sink_pending_messages) > 10000 and sum(deriv(shopstream_sink_pending_messages[10m])) > 0',
      for: '10m',
    },
  },
  {
    name: 'DeadLettersRising',
    severity: 'warning',
    description: 'dead letters added in the last 10 minutes',
    threshold: 50,
    measure: (p, history, now) => {
      const first = history.find((s) => s.t >= now - WINDOW_MS);
      return first === undefined ? undefined : p.operations.deadLetters.total - first.deadLetters;
    },
    prometheus: { expr: 'sum(increase(shopstream_dlq_published_total[10m])) > 50', for: '1m' },
  },
  {
    name: 'NoEvents',
    severity: 'critical',
    description: 'minutes since the last event was stored in ClickHouse',
    threshold: 5,
    measure: (p, _history, now) =>
      p.totals.lastIngestedMs > 0 ? Math.round((now - p.totals.lastIngestedMs) / 6000) / 10 : undefined,
    prometheus: { expr: 'sum(increase(shopstream_sink_events_total{result="stored"}[5m])) == 0', for: '5m' },
  },
];

export interface AlertState {
  name: string;
  severity: string;
  firing: boolean;
  value: number | null;
  threshold: number;
  summary: string;
  /** When it started firing (ISO), while it does. */
  since?: string;
}

export interface AlertChange {
  alert: string;
  state: 'firing' | 'resolved';
  severity: string;
  value: number;
  threshold: number;
  summary: string;
}

export interface Alerts {
  /** Judges every rule on `payload`; publishes what changed. */
  evaluate(payload: DashboardPayload, now?: number): Promise<AlertState[]>;
  current(): AlertState[];
}

export function createAlerts(opts: {
  rules?: readonly AlertRule[];
  publish: (change: AlertChange) => Promise<void>;
  gauge?: (alert: string, firing: boolean) => void;
}): Alerts {
  const rules = opts.rules ?? ALERT_RULES;
  const history: Sample[] = [];
  const firingSince = new Map<string, number>();
  let states: AlertState[] = rules.map((r) => ({
    name: r.name,
    severity: r.severity,
    firing: false,
    value: null,
    threshold: r.threshold,
    summary: `${r.description}: not measured yet`,
  }));
  return {
    current: () => states,
    async evaluate(payload, now = Date.now()) {
      history.push({
        t: now,
        lag: payload.operations.lag.reduce((a, c) => a + c.pending, 0),
        deadLetters: payload.operations.deadLetters.total,
      });
      while (history.length > 0 && history[0]!.t < now - 3 * WINDOW_MS) history.shift();
      const next: AlertState[] = [];
      for (const r of rules) {
        const value = r.measure(payload, history, now);
        const firing = value !== undefined && (r.below ? value < r.threshold : value > r.threshold);
        const was = firingSince.has(r.name);
        const summary = `${r.description}: ${value === undefined ? 'not measured yet' : value} (threshold ${r.below ? 'at least' : 'at most'} ${r.threshold})`;
        if (firing && !was) firingSince.set(r.name, now);
        if (!firing && was) firingSince.delete(r.name);
        if (firing !== was)
          await opts.publish({
            alert: r.name,
            state: firing ? 'firing' : 'resolved',
            severity: r.severity,
            value: value ?? 0,
            threshold: r.threshold,
            summary: summary.slice(0, 512),
          });
        opts.gauge?.(r.name, firing);
        const since = firingSince.get(r.name);
        next.push({
          name: r.name,
          severity: r.severity,
          firing,
          value: value ?? null,
          threshold: r.threshold,
          summary,
          ...(since === undefined ? {} : { since: new Date(since).toISOString() }),
        });
      }
      states = next;
      return states;
    },
  };
}

/** The rules as a Prometheus alerting-rules file. */
export function prometheusRules(rules: readonly AlertRule[] = ALERT_RULES): string {
  return `# Generated by \`npx shopstream alerts rules\` from streams/dashboard/alerts.ts: do not edit.\n${stringify(
    {
      groups: [
        {
          name: 'shopstream',
          rules: rules.map((r) => ({
            alert: r.name,
            expr: r.prometheus.expr,
            for: r.prometheus.for,
            labels: { severity: r.severity },
            annotations: { summary: `${r.description} (threshold ${r.threshold})` },
          })),
        },
      ],
    },
    { lineWidth: 0 },
  )}`;
}
