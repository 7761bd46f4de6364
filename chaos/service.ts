// The pipeline service as a child process (`shopstream serve --no-collector`) for the chaos scenarios:
// its own prefix, embedded ClickHouse data directory and admin port; started, killed, restarted and
// waited on (healthy, drained) by the scenarios.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { JetStreamManager } from 'nats';
import type { Config } from '../infra/config';
import { sqlOverHttp, type Sql } from '../infra/clickhouse/sql';
import { sleep } from '../infra/sleep';
import { getFreePort } from '../infra/stack/processes';
import { uniqueName } from '../infra/stack/test-clickhouse';
import { testConfig } from '../infra/stack/test-config';
import { names } from '../streams/topology';

export const CLI = path.join(__dirname, '../cli/shopstream.cjs');

export interface Instance {
  config: Config;
  dataDir: string;
  adminPort: number;
  /** Extra environment of the child (Temporal's address, batch sizes). */
  env: Record<string, string>;
  child?: ChildProcess;
  sql: Sql;
}

/** A service on `natsUrl` (comma-separated for a cluster) with a prefix and database of its own. */
export async function instance(
  natsUrl: string,
  tag: string,
  env: Record<string, string> = {},
): Promise<Instance> {
  const dataDir = mkdtempSync(path.join(tmpdir(), `shopstream-chaos-${tag}-`));
  const adminPort = await getFreePort();
  const base = testConfig(natsUrl, env);
  const config = { ...base, clickhouse: { ...base.clickhouse, database: uniqueName(tag), dataDir } };
  return {
    config,
    dataDir,
    adminPort,
    env,
    sql: sqlOverHttp(`http://127.0.0.1:${adminPort}`, config.admin.token),
  };
}

/** The child's environment: the instance's configuration, no flows unless `env` names a Temporal. */
export function serviceEnv(i: Instance): NodeJS.ProcessEnv {
  const c = i.config;
  return {
    ...process.env,
    NATS_URL: c.nats.url,
    SHOPSTREAM_PREFIX: c.nats.prefix,
    NATS_PARTITIONS: String(c.nats.partitions),
    CLICKHOUSE_URL: '',
    CLICKHOUSE_DATA_DIR: i.dataDir,
    CLICKHOUSE_DATABASE: c.clickhouse.database,
    ADMIN_PORT: String(i.adminPort),
    ADMIN_TOKEN: c.admin.token,
    ANALYST_PASSWORD: '',
    COUPON_SECRET: c.coupons.secret,
    TEMPORAL_ADDRESS: '127.0.0.1:1', // no flows unless env says where Temporal is
    SINK_BATCH_SIZE: '500',
    SINK_FLUSH_INTERVAL: '500ms',
    SINK_ACK_WAIT: '3s',
    LOG_LEVEL: 'error',
    ...i.env,
  };
}

/** `shopstream <args>` with the instance's environment (the service, or one of its workers). */
export function spawnCli(i: Instance, args: string[]): ChildProcess {
  return spawn(process.execPath, [CLI, ...args], {
    env: serviceEnv(i),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** Starts the instance's service (`serve`, without the collector unless env gives it a port). */
export function start(i: Instance): ChildProcess {
  i.child = spawnCli(i, i.env['COLLECTOR_PORT'] ? ['serve'] : ['serve', '--no-collector']);
  return i.child;
}

export async function healthy(i: Instance, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const ok = await fetch(`http://127.0.0.1:${i.adminPort}/healthz`, {
      signal: AbortSignal.timeout(1000),
    }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`the ${i.config.nats.prefix} service did not become healthy in ${timeoutMs} ms`);
}

export const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));

export const running = (child: ChildProcess | undefined): child is ChildProcess =>
  child !== undefined && child.exitCode === null && child.signalCode === null;

/** SIGTERM (a drain), SIGKILL after 10 s. */
export async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!running(child)) return;
  child.kill('SIGTERM');
  await Promise.race([exited(child), sleep(10_000)]);
  if (running(child)) child.kill('SIGKILL');
  await exited(child);
}

/** Stops the child and deletes the instance's data directory. */
export async function dispose(i: Instance): Promise<void> {
  await stop(i.child);
  rmSync(i.dataDir, { recursive: true, force: true });
}

/** The consumers that must drain (`except`: name prefixes left out, such as triggers without Temporal). */
export async function drained(
  jsm: JetStreamManager,
  prefix: string,
  except: string[] = ['triggers'],
): Promise<boolean> {
  for await (const c of jsm.consumers.list(names(prefix).eventsStream))
    if (!except.some((e) => c.name.startsWith(e)) && c.num_pending + c.num_ack_pending > 0) return false;
  return true;
}

/** Waits until every instance drained, failing after `timeoutMs`. */
export async function allDrained(
  jsm: JetStreamManager,
  instances: Instance[],
  timeoutMs = 300_000,
  except?: string[],
): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    let all = true;
    for (const i of instances) if (!(await drained(jsm, i.config.nats.prefix, except))) all = false;
    if (all) return;
    if (Date.now() > until) throw new Error(`the services did not drain in ${timeoutMs / 1000} s`);
    await sleep(500);
  }
}

/**
 * Pending plus unacked events of the consumers whose names start with `prefixOf` (`not`: or not),
 * and the consumers that have some.
 */
export async function backlog(
  jsm: JetStreamManager,
  prefix: string,
  prefixOf: string,
  not = false,
): Promise<{ total: number; byConsumer: Record<string, number> }> {
  const byConsumer: Record<string, number> = {};
  for await (const c of jsm.consumers.list(names(prefix).eventsStream))
    if (c.name.startsWith(prefixOf) !== not && c.num_pending + c.num_ack_pending > 0)
      byConsumer[c.name] = c.num_pending + c.num_ack_pending;
  return { total: Object.values(byConsumer).reduce((a, b) => a + b, 0), byConsumer };
}

/**
 * Waits while `count()` goes down: until it is 0, or it has not gone down for `stallMs`, or `maxMs`
 * passed. Returns what is left and how long it took.
 */
export async function whileProgressing(
  count: () => Promise<number>,
  stallMs = 60_000,
  maxMs = 20 * 60_000,
): Promise<{ left: number; ms: number }> {
  const from = Date.now();
  let left = await count();
  let progressAt = from;
  while (left > 0 && Date.now() - from < maxMs && Date.now() - progressAt < stallMs) {
    await sleep(2000);
    const now = await count();
    if (now < left) progressAt = Date.now();
    left = now;
  }
  return { left, ms: Date.now() - from };
}

/** Events stored in ClickHouse for a producer: distinct events and rows (before any merge). */
export async function storedEvents(
  i: Instance,
  producerId: string,
): Promise<{ events: number; rows: number }> {
  const db = i.config.clickhouse.database;
  const [c] = await i.sql.query<Record<string, string | number>>(
    `SELECT count() AS rows, uniqExact(event_id) AS events FROM ${db}.events WHERE producer_id = '${producerId}'`,
  );
  return { events: Number(c?.['events'] ?? 0), rows: Number(c?.['rows'] ?? 0) };
}
