// The pipeline service's admin endpoint (loopback by default): Prometheus metrics, health, stats, and
// read-only SQL against the ClickHouse this process owns (the embedded database has one owner).
import Fastify, { type FastifyInstance } from 'fastify';
import { ClickHouseError } from '@clickhouse/client';
import type { ClickHouseClient } from '../infra/clickhouse/client';
import type { Metrics } from '../infra/metrics';

export interface AdminDeps {
  metrics: Metrics;
  ch?: ClickHouseClient;
  health: () => Promise<{ ok: boolean; checks: Record<string, boolean> }>;
  stats: () => Record<string, unknown>;
}

const READ_ONLY = /^\s*(SELECT|WITH|SHOW|DESCRIBE|DESC|EXISTS|EXPLAIN)\b/i;

export function buildAdmin(deps: AdminDeps): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
  app.get('/healthz', async (_req, reply) => {
    const h = await deps.health();
    reply.code(h.ok ? 200 : 503);
    return h;
  });
  app.get('/v1/stats', () => deps.stats());
  app.post<{ Body: { sql?: unknown; params?: unknown } }>('/v1/sql', async (req, reply) => {
    const { sql, params } = req.body ?? {};
    if (!deps.ch)
      return reply.code(404).send({ error: 'this process has no ClickHouse client', code: 'NO_CLICKHOUSE' });
    if (typeof sql !== 'string' || !READ_ONLY.test(sql) || /;\s*\S/.test(sql)) {
      return reply.code(400).send({
        error:
          'sql must be one read-only statement (SELECT, WITH, SHOW, DESCRIBE, EXISTS, EXPLAIN), without ;',
        code: 'BAD_SQL',
      });
    }
    try {
      const rs = await deps.ch.query({
        query: sql,
        query_params: (params && typeof params === 'object' ? params : {}) as Record<string, unknown>,
        format: 'JSONEachRow',
        // no `readonly` setting: chDB keeps settings in its session, so it would stop the sink's inserts
        clickhouse_settings: { max_execution_time: 60 },
      });
      return { rows: await rs.json() };
    } catch (err) {
      const code = err instanceof ClickHouseError ? (err.type ?? err.code) : 'QUERY_FAILED';
      return reply.code(400).send({ error: (err as Error).message, code });
    }
  });
  return app;
}
