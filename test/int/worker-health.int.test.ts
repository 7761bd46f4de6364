// The Temporal worker's health endpoint (WORKER_ADMIN_PORT): /readyz 200 while its task queue's worker
// runs with NATS connected and Temporal answering, 503 (saying which) once Temporal is gone, /livez
// whatever the dependencies, /metrics the process's own; SIGTERM drains it and it exits 0.
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { eventually } from '../../infra/stack/test-clickhouse';
import { testConfig } from '../../infra/stack/test-config';
import { startTestNats, type TestNats } from '../../infra/stack/test-nats';
import { startTestTemporal, type TestTemporal } from '../../infra/stack/test-temporal';
import { getFreePort } from '../../infra/stack/processes';
import { connectNats } from '../../infra/nats';
import { applyTopology } from '../../streams/topology-apply';

const CLI = path.join(__dirname, '../../cli/shopstream.cjs');
let nats: TestNats;
let temporal: TestTemporal;
let child: ChildProcess | undefined;

beforeAll(async () => {
  [nats, temporal] = await Promise.all([startTestNats(), startTestTemporal()]);
}, 120_000);

afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await Promise.all([nats?.stop(), temporal?.stop()]);
});

const get = async (url: string): Promise<{ status: number; body: string }> => {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
};

it('readiness follows the worker and its dependencies; liveness the process', async () => {
  const config = testConfig(nats.url);
  const port = await getFreePort();
  // the worker checks the events stream it publishes to (the service or `topology apply` makes it)
  const nc = await connectNats(config.nats, 'test');
  await applyTopology(await nc.jetstreamManager(), config);
  await nc.close();
  child = spawn(process.execPath, [CLI, 'worker', '--queues', 'flows'], {
    env: {
      ...process.env,
      NATS_URL: nats.url,
      SHOPSTREAM_PREFIX: config.nats.prefix,
      TEMPORAL_ADDRESS: temporal.address,
      COUPON_SECRET: config.coupons.secret,
      WORKER_ADMIN_PORT: String(port),
      LOG_LEVEL: 'error',
    },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  const base = `http://127.0.0.1:${port}`;
  const ready = await eventually(
    () => get(`${base}/readyz`).catch(() => ({ status: 0, body: '' })),
    (r) => r.status === 200,
    90_000,
  );
  expect(JSON.parse(ready.body)).toEqual({
    ok: true,
    workers: { [config.temporal.taskQueue]: 'RUNNING' },
    temporal: true,
    nats: true,
  });
  expect((await get(`${base}/metrics`)).body).toMatch(/shopstream_process_resident_memory_bytes \d/);

  await temporal.stop();
  const down = await eventually(
    () => get(`${base}/readyz`),
    (r) => r.status === 503,
    30_000,
  );
  expect(JSON.parse(down.body)).toMatchObject({ ok: false, temporal: false, nats: true });
  expect((await get(`${base}/livez`)).status).toBe(200);

  const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
}, 180_000);
