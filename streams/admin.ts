// The pipeline service's admin endpoint (loopback by default): Prometheus metrics, health, stats, and
// read-only SQL against the ClickHouse this process owns (the embedded database has one owner).
//
// Every request must name this endpoint in its Host header (a web page cannot reach it by DNS
// rebinding); SQL and stats also need `Authorization: Bearer <ADMIN_TOKEN>` (compared in constant
// time; without a configured token they refuse). SQL runs on a read-only client
// (infra/clickhouse/readonly.ts): read-only at the engine, bounded in time and rows.
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { ClickHouseError } from '@clickhouse/client';
import type { ClickHouseClient } from '../infra/clickhouse/client';
import { checkReadOnlySql, ReadOnlySqlError } from '../infra/clickhouse/readonly';
import type { Metrics } from '../infra/metrics';
import { registerDashboard, type DashboardDeps } from './dashboard/routes';

export interface AdminDeps {
  metrics: Metrics;
  /** A read-only client (openReadOnlyClickHouse); none: POST /v1/sql answers 404. */
  readOnlyCh?: ClickHouseClient;
  /** `ok` decides 200 or 503; the rest (checks, per-component details) is shown as it is. */
  health: () => Promise<{ ok: boolean; [detail: string]: unknown }>;
  stats: () => Record<string, unknown>;
  /** Bearer token of /v1/sql and /v1/stats; '' refuses them (403). */
  token: string;
  /** Host names this endpoint answers to besides loopback names (e.g. its ADMIN_HOST). */
  hosts?: string[];
  /** The live dashboard's data (streams/dashboard); none: no /dashboard. */
  dashboard?: DashboardDeps;
}

const LOOPBACK = ['localhost', '127.0.0.1', '[::1]', '::1'];

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Whether `presented` equals `expected`, in time that does not depend on where they differ. */
export function sameSecret(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected)) && expected !== '';
}

/** The host name of a Host header, without the port ('[::1]:8089' -> '[::1]'). */
function hostName(header: string | undefined): string {
  const h = (header ?? '').trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const i = h.lastIndexOf(':');
  return i < 0 ? h : h.slice(0, i);
}

export function buildAdmin(deps: AdminDeps): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024, requestTimeout: 120_000 });
  const allowed = new Set([...LOOPBACK, ...(deps.hosts ?? []).map((h) => h.toLowerCase())]);

  app.addHook('onRequest', async (req, reply) => {
    if (allowed.has(hostName(req.headers.host))) return;
    return reply.code(421).send({ error: 'this endpoint does not answer to that Host', code: 'BAD_HOST' });
  });

  const authorized = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (deps.token === '') {
      return reply.code(403).send({
        error: 'no ADMIN_TOKEN is configured for this service: SQL and stats are off',
        code: 'NO_ADMIN_TOKEN',
      });
    }
    const [scheme = '', value = ''] = (req.headers.authorization ?? '').trim().split(/\s+/, 2);
    if (/^bearer$/i.test(scheme) && sameSecret(value, deps.token)) return;
    reply.header('www-authenticate', 'Bearer');
    return reply
      .code(401)
      .send({ error: 'Authorization: Bearer <ADMIN_TOKEN> required', code: 'UNAUTHORIZED' });
  };

  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
  // readiness: every component's checks (NATS connected, consumers bound, ClickHouse reachable,
  // Temporal answering for the triggers); 503 while one fails. /healthz is the same (older name).
  const ready = async (_req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const h = await deps.health();
    reply.code(h.ok ? 200 : 503);
    return h;
  };
  app.get('/healthz', ready);
  app.get('/readyz', ready);
  // liveness: the process answers (its event loop turns); a restart would not help a failing check
  app.get('/livez', () => ({ ok: true, uptimeSeconds: Math.round(process.uptime()) }));
  app.get('/v1/stats', { onRequest: authorized }, () => deps.stats());
  if (deps.dashboard) registerDashboard(app, deps.dashboard);
  app.post<{ Body: { sql?: unknown; params?: unknown } }>(
    '/v1/sql',
    { onRequest: authorized },
    async (req, reply) => {
      const { sql, params } = req.body ?? {};
      if (!deps.readOnlyCh)
        return reply
          .code(404)
          .send({ error: 'this process has no ClickHouse client', code: 'NO_CLICKHOUSE' });
      try {
        checkReadOnlySql(sql);
      } catch (err) {
        if (err instanceof ReadOnlySqlError)
          return reply.code(400).send({ error: err.message, code: err.code });
        throw err;
      }
      try {
        const rs = await deps.readOnlyCh.query({
          query: sql as string,
          query_params: (params && typeof params === 'object' ? params : {}) as Record<string, unknown>,
          format: 'JSONEachRow',
        });
        return { rows: await rs.json() };
      } catch (err) {
        const code =
          err instanceof ClickHouseError
            ? (err.type ?? err.code)
            : (/\(([A-Z][A-Z0-9_]+)\)/.exec((err as Error).message)?.[1] ?? 'QUERY_FAILED');
        return reply.code(400).send({ error: (err as Error).message, code });
      }
    },
  );
  return app;
}
