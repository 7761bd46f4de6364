// Killing the worker mid-flow and starting it again: the flow completes, and no reminder or coupon is
// sent twice. The worker runs in a child process (test/int/fixtures/restart-worker.ts) whose
// activities write their effects to files keyed by idempotency key; the first worker is SIGKILLed
// right after the first reminder's effect was written but before Temporal heard the activity
// complete, so Temporal retries that activity on the second worker, which must absorb it.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, bundleWorkflowCode } from '@temporalio/worker';
import { PROJECT_ROOT } from '../../infra/config';
import { cartRecoveryWorkflow, cartRecoveryWorkflowId } from '../../workflows/cart-recovery';
import {
  defineFlow,
  onCartEmptied,
  onOptOut,
  onPurchase,
  send,
  sendWithCoupon,
  wait,
} from '../../workflows/dsl';
import { eventually } from '../../infra/stack/test-clickhouse';
import {
  effectFiles,
  readLines,
  type Attempt,
  type CouponEffect,
  type MessageEffect,
} from './fixtures/file-effects';
import { startTestTemporal, type TestTemporal } from '../../infra/stack/test-temporal';

const flow = defineFlow({
  name: 'cart-recovery-restart-test',
  version: 1,
  trigger: 'cart_abandoned',
  abandonAfter: '2s',
  steps: [
    send('log', 'reminder_1'),
    wait('2s'),
    sendWithCoupon('log', 'reminder_2', {
      campaign: 'restart-test',
      budget: { maxCoupons: 10 },
      byTier: { new: { amountMinor: 500 } },
    }),
    wait('2s'),
    send('log', 'reminder_3'),
  ],
  exit: [onPurchase(), onCartEmptied(), onOptOut()],
});

const TASK_QUEUE = 'restart-test';
let temporal: TestTemporal;
let connection: Connection;
let client: Client;
let dir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  temporal = await startTestTemporal();
  dir = fs.mkdtempSync(path.join(temporal.dir, 'effects-'));
  const bundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows/index'),
    logger: new DefaultLogger('WARN'),
  });
  fs.writeFileSync(path.join(dir, 'workflows.js'), bundle.code);
  connection = await Connection.connect({ address: temporal.address });
  client = new Client({ connection });
}, 180_000); // a dev server start (up to 60 s) and bundling the workflows, on a possibly busy machine

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await connection?.close();
  await temporal?.stop();
});

/** Starts a worker process; resolves once it polls. */
async function startWorkerProcess(name: string, env: Record<string, string> = {}): Promise<ChildProcess> {
  const log = fs.openSync(path.join(dir, `${name}.log`), 'a');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(__dirname, 'fixtures', 'restart-worker.ts')],
    {
      cwd: PROJECT_ROOT,
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: temporal.address,
        TEMPORAL_TASK_QUEUE: TASK_QUEUE,
        WORKFLOW_BUNDLE: path.join(dir, 'workflows.js'),
        EFFECTS_DIR: dir,
        LOG_LEVEL: 'info',
        ...env,
      },
      stdio: ['ignore', 'pipe', log],
    },
  );
  children.push(child);
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      fs.appendFileSync(path.join(dir, `${name}.log`), chunk);
      if (out.includes('READY')) resolve();
    });
    child.once('exit', (code, signal) =>
      reject(
        new Error(
          `worker ${name} exited (${code ?? signal}) before it was ready: ${fs.readFileSync(path.join(dir, `${name}.log`), 'utf8')}`,
        ),
      ),
    );
  });
  return child;
}

const exited = (c: ChildProcess): Promise<void> =>
  c.exitCode !== null || c.signalCode !== null
    ? Promise.resolve()
    : new Promise((r) => c.once('exit', () => r()));

it('a worker SIGKILLed mid-flow: a new worker completes the flow, each reminder and the coupon once', async () => {
  const files = effectFiles(dir);
  const first = await startWorkerProcess('worker-1', { HANG_AFTER: 'reminder_1' });
  const workflowId = cartRecoveryWorkflowId('shop-r', 'user-r', `cart-${Date.now()}`);
  const handle = await client.workflow.start(cartRecoveryWorkflow, {
    workflowId,
    taskQueue: TASK_QUEUE,
    args: [
      {
        flow,
        shopId: 'shop-r',
        userId: 'user-r',
        cartId: 'cart-r',
        tier: 'new',
        timeZone: 'UTC',
        cart: { totalMinor: 5000, itemCount: 1, currency: 'USD', eventTime: Date.now() },
      },
    ],
  });

  // the first reminder is sent (its effect is on disk) but the worker has not reported it yet
  await eventually(
    () => Promise.resolve(readLines<MessageEffect>(files.messages)),
    (m) => m.some((e) => e.template === 'reminder_1'),
    75_000,
  );
  first.kill('SIGKILL');
  await exited(first);
  expect(first.signalCode).toBe('SIGKILL');
  expect((await handle.describe()).status.name).toBe('RUNNING');

  const second = await startWorkerProcess('worker-2');
  const result = await handle.result();
  expect(result.exit).toBe('completed');
  expect(result.timeline.filter((t) => t.event === 'sent').map((t) => t.template)).toEqual([
    'reminder_1',
    'reminder_2',
    'reminder_3',
  ]);

  const messages = readLines<MessageEffect>(files.messages);
  expect(messages.map((m) => m.template)).toEqual(['reminder_1', 'reminder_2', 'reminder_3']);
  expect(new Set(messages.map((m) => m.key)).size).toBe(3);
  expect(messages[0]!.pid).toBe(first.pid);
  expect(messages[1]!.pid).toBe(second.pid);
  const coupons = readLines<CouponEffect>(files.coupons);
  expect(coupons).toHaveLength(1);
  expect(coupons[0]).toMatchObject({ campaign: 'restart-test', tier: 'new', amountMinor: 500 });

  // the point: the first reminder's activity ran again on the new worker, and was absorbed
  const attempts = readLines<Attempt>(files.attempts);
  const first1 = attempts.filter((a) => a.kind === 'message' && a.key === messages[0]!.key);
  expect(first1.map((a) => [a.pid, a.duplicate])).toEqual([
    [first.pid, false],
    [second.pid, true],
  ]);
  const events = readLines<{ key: string; type: string }>(files.events);
  expect(events.filter((e) => e.type === 'reminder_sent')).toHaveLength(3);
  expect(events.filter((e) => e.type === 'coupon_issued')).toHaveLength(1);

  second.kill('SIGTERM'); // drains
  await exited(second);
  expect(second.exitCode === 0 || second.signalCode === 'SIGTERM').toBe(true);
  // two cold worker starts, the 2 s abandonment and waits, and the activity timeout (30 s) before the
  // retry on the second worker: generous, for a loaded machine
}, 300_000);
