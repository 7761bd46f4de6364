// The dashboard's live side in the pipeline service: its data sources (the read-only ClickHouse
// session, NATS for lag and dead letters) and the alert rules, judged every ALERT_EVERY_MS, whose
// changes go out as `alert_changed` events (shop `ops`, user `anonymous_id = ops`).
import type { ClickHouseClient } from '../../infra/clickhouse/client';
import { sqlFromClient } from '../../infra/clickhouse/sql';
import type { PipelineContext } from '../pipeline/component';
import { createProducer } from '../producer/producer';
import { ALERT_EVERY_MS, createAlerts } from './alerts';
import { readOperations, registerConsumerMetrics } from './operations';
import { dashboardPayload, type DashboardDeps } from './routes';

export const OPS_SHOP = 'ops';

export async function startDashboard(
  ctx: PipelineContext,
  readOnlyCh: ClickHouseClient,
  opts: { everyMs?: number } = {},
): Promise<{ deps: DashboardDeps; stop: () => Promise<void> }> {
  const { config, nc, metrics } = ctx;
  const logger = ctx.logger.child({ component: 'alerts' });
  const producer = await createProducer({
    nats: config.nats,
    shopId: OPS_SHOP,
    producerId: 'alerts',
    connection: nc,
  });
  const alerts = createAlerts({
    publish: async (change) => {
      logger.warn({ alert: change.alert, state: change.state, value: change.value }, 'alert changed');
      await producer.track('alert_changed', { anonymousId: 'ops', channel: 'server', properties: change });
    },
    gauge: (alert, firing) => metrics.alertFiring.set({ alert }, firing ? 1 : 0),
  });
  registerConsumerMetrics(metrics.registry, () => nc.jetstreamManager(), config.nats.prefix);
  const deps: DashboardDeps = {
    sql: sqlFromClient(readOnlyCh),
    database: config.clickhouse.database,
    operations: async () => readOperations(await nc.jetstreamManager(), config.nats.prefix),
    alerts: () => alerts.current(),
  };
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = running
      .then(async () => alerts.evaluate(await dashboardPayload(deps)))
      .catch((err: unknown) =>
        logger.warn({ err: (err as Error).message }, 'alert rules not judged this time'),
      );
  }, opts.everyMs ?? ALERT_EVERY_MS);
  timer.unref();
  return {
    deps,
    stop: async () => {
      clearInterval(timer);
      await running;
      await producer.close();
    },
  };
}
