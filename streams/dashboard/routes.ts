// The live dashboard, on the admin endpoint (loopback, Host-checked, like /metrics): GET /dashboard
// (a page), its script and Apache ECharts served from the installed package (no CDN), and
// GET /dashboard/data: ClickHouse's figures (analytics/dashboard.ts), the pipeline's operations
// (consumer lag, dead letters by reason) and the top knowledge-base gaps, as JSON the page polls.
// Aggregates only; gap examples have digit runs and e-mail addresses masked.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildDashboardData, type DashboardData } from '../../analytics/dashboard';
import { unansweredQuestions } from '../../analytics/kb-gaps';
import { groupGaps } from '../../bot/kb/gaps';
import type { Sql } from '../../infra/clickhouse/sql';
import type { AlertState } from './alerts';

export interface Operations {
  /** Messages each consumer has not acknowledged yet (pending + in flight). */
  lag: { consumer: string; pending: number }[];
  deadLetters: { total: number; byReason: Record<string, number> };
}

export interface DashboardDeps {
  sql: Sql;
  database: string;
  operations: () => Promise<Operations>;
  /** The alert rules' latest judgement (streams/dashboard/alerts.ts). */
  alerts?: () => AlertState[];
}

export interface DashboardPayload extends DashboardData {
  operations: Operations;
  gaps: { asked: number; intent: string; examples: string[] }[];
  alerts: AlertState[];
}

/** Digit runs of 4 or more and e-mail addresses masked: order numbers, phones, addresses stay out. */
export const maskPersonal = (text: string): string =>
  text
    .replace(/[^\s@,;]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g, '***@***')
    .replace(/\d{4,}/g, (d) => `${d.slice(0, 2)}***`);

export async function dashboardPayload(deps: DashboardDeps, now = Date.now()): Promise<DashboardPayload> {
  const data = await buildDashboardData(deps.sql, deps.database, { now });
  const unanswered = await unansweredQuestions(deps.sql, {
    database: deps.database,
    from: now - 86_400_000,
    to: now + 60_000,
  });
  const gaps = groupGaps(unanswered, { top: 8 })
    .slice(0, 8)
    .map((g) => ({ asked: g.asked, intent: g.intent, examples: g.examples.slice(0, 3).map(maskPersonal) }));
  return { ...data, operations: await deps.operations(), gaps, alerts: deps.alerts?.() ?? [] };
}

const ASSETS = {
  '': { file: path.join(__dirname, 'index.html'), type: 'text/html; charset=utf-8' },
  '/dashboard.js': { file: path.join(__dirname, 'dashboard.js'), type: 'text/javascript; charset=utf-8' },
  '/favicon.svg': { file: path.join(__dirname, 'favicon.svg'), type: 'image/svg+xml' },
  '/echarts.min.js': {
    file: require.resolve('echarts/dist/echarts.min.js'),
    type: 'text/javascript; charset=utf-8',
  },
};

export function registerDashboard(app: FastifyInstance, deps: DashboardDeps): void {
  for (const [route, asset] of Object.entries(ASSETS)) {
    const body = readFileSync(asset.file); // read once: a missing file fails at start
    app.get(`/dashboard${route}`, async (_req, reply) =>
      reply
        .type(asset.type)
        .header('cache-control', route === '' ? 'no-cache' : 'public, max-age=300')
        .header('content-security-policy', "default-src 'self'; style-src 'self' 'unsafe-inline'")
        .header('x-content-type-options', 'nosniff')
        .send(body),
    );
  }
  app.get('/dashboard/data', async (_req, reply) => {
    reply.header('cache-control', 'no-store');
    return dashboardPayload(deps);
  });
}
