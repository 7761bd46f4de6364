// Prometheus metrics, one registry per process; names carry their unit (_seconds, _total, _bytes).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics(opts: { defaults?: boolean } = {}) {
  const registry = new Registry();
  if (opts.defaults !== false) collectDefaultMetrics({ register: registry, prefix: 'shopstream_' });
  const triggers = new Map<string, () => object>();
  return {
    registry,
    /** Reports a stream trigger's stats (counts since start) as shopstream_trigger_results_total. */
    addTrigger(name: string, stats: () => object): void {
      triggers.set(name, stats);
    },
    triggerResults: new Counter({
      name: 'shopstream_trigger_results_total',
      help: 'What the stream triggers did with events, by trigger (cart, chat, coupon) and result (started, signalled, redeemed, rejected_CouponExpired, failed, ...)',
      labelNames: ['trigger', 'result'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const [trigger, stats] of triggers)
          for (const [result, value] of flattenCounts(stats())) this.inc({ trigger, result }, value);
      },
    }),
    sinkEvents: new Counter({
      name: 'shopstream_sink_events_total',
      help: 'Events handled by the ClickHouse sink, by result (stored, duplicate, dead_lettered, retried)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    sinkBatchSeconds: new Histogram({
      name: 'shopstream_sink_batch_duration_seconds',
      help: 'Time to decode, insert and ack one sink batch',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    sinkBatchRows: new Histogram({
      name: 'shopstream_sink_batch_rows',
      help: 'Rows per ClickHouse insert',
      buckets: [1, 10, 100, 500, 1000, 2500, 5000, 10000],
      registers: [registry],
    }),
    sinkLagSeconds: new Gauge({
      name: 'shopstream_sink_event_lag_seconds',
      help: 'Age of the newest stored event at insert time (now - occurred_at)',
      registers: [registry],
    }),
    sinkPending: new Gauge({
      name: 'shopstream_sink_pending_messages',
      help: 'Events on the stream the ClickHouse sink has not stored or dead-lettered yet (num_pending + num_ack_pending)',
      registers: [registry],
    }),
    sinkOldestUnstoredSeconds: new Gauge({
      name: 'shopstream_sink_oldest_unstored_seconds',
      help: 'How long the oldest event the sink has not stored yet has been on the stream (0 when caught up)',
      registers: [registry],
    }),
    sinkRetries: new Counter({
      name: 'shopstream_sink_clickhouse_retries_total',
      help: 'ClickHouse calls of the sink retried in place, by kind (unavailable: no answer or an operational error)',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    dlqPublished: new Counter({
      name: 'shopstream_dlq_published_total',
      help: 'Events written to the dead-letter stream, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    interestEvents: new Counter({
      name: 'shopstream_interest_events_total',
      help: 'Events seen by the interest processor, by result (applied, duplicate, undecodable, ignored, invalid, future, dead_lettered)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    interestWrites: new Counter({
      name: 'shopstream_interest_profile_writes_total',
      help: 'Profile writes to the KV bucket, by result (ok, conflict: lost a compare-and-set and retried)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    interestBatchSeconds: new Histogram({
      name: 'shopstream_interest_batch_duration_seconds',
      help: 'Time to apply and store one interest batch',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    chatTurns: new Counter({
      name: 'shopstream_chat_turns_total',
      help: 'Chat and desk events the bot handled, by outcome (replied, replayed, assisted, recorded, ignored, dead_lettered, failed)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    alertFiring: new Gauge({
      name: 'shopstream_alert_firing',
      help: 'Whether an alert rule of the service fires now (1) or not (0): streams/dashboard/alerts.ts',
      labelNames: ['alert'] as const,
      registers: [registry],
    }),
    chatReplySeconds: new Histogram({
      name: 'shopstream_chat_reply_seconds',
      help: 'From a user turn reaching JetStream to the bot reply published, seconds',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    orderViewEvents: new Counter({
      name: 'shopstream_order_view_events_total',
      help: 'Order events seen by the order view, by result (applied, duplicate, unchanged, invalid, ignored, refused)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    orderViewApplySeconds: new Histogram({
      name: 'shopstream_order_view_apply_duration_seconds',
      help: "Time to apply one order event to the user's order view (KV read and compare-and-set write)",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    collectorEvents: new Counter({
      name: 'shopstream_collector_events_total',
      help: 'Events received by the HTTP collector, by result (accepted, duplicate, rejected)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    collectorRefused: new Counter({
      name: 'shopstream_collector_refused_requests_total',
      help: 'Collector requests refused before reading events, by reason (busy, rate_limited)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    collectorRequestSeconds: new Histogram({
      name: 'shopstream_collector_request_duration_seconds',
      help: 'Time to answer one collector request',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Numeric fields of a stats object, one level of nesting joined with '_' (rejected.CouponExpired). */
export function flattenCounts(stats: object, prefix = ''): [string, number][] {
  const out: [string, number][] = [];
  for (const [k, v] of Object.entries(stats)) {
    if (typeof v === 'number' && v > 0) out.push([`${prefix}${k}`, v]);
    else if (v && typeof v === 'object' && !prefix) out.push(...flattenCounts(v as object, `${k}_`));
  }
  return out;
}
