import type { WorkflowHandle } from '@temporalio/client';
// Workflow tests run on Temporal's time-skipping test server, passed by path (the SDK's own download
// is not used). Helpers: the server, the workflow bundle (built once per test file), in-memory
// activities, and clocks for building scenarios.
import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  DefaultLogger,
  Runtime,
  Worker,
  bundleWorkflowCode,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { loadConfig } from '../../infra/config';
import { findTools } from '../../infra/stack/tools';
import {
  createActivities,
  createLogChannel,
  createMemoryCouponLedger,
  createMemoryMessageSlots,
  type Activities,
  type CouponLedger,
  type LogChannel,
  type PublishedFlowEvent,
} from '../../activities';
import type { Channel } from '../../workflows/dsl';
import { isHeldOut } from '../../workflows/holdout';

/** The temporal-test-server binary: .tools/venv/bin first, then PATH. */
export async function testServerPath(): Promise<string> {
  const { temporalTestServer } = await findTools(loadConfig().stack);
  if (!temporalTestServer)
    throw new Error(
      'temporal-test-server not found in .tools/venv/bin or on PATH: run `make install` (or `npx shopstream stack install`) first',
    );
  return temporalTestServer;
}

let runtimeInstalled = false;

export async function startTestEnv(): Promise<TestWorkflowEnvironment> {
  if (!runtimeInstalled) {
    runtimeInstalled = true;
    try {
      Runtime.install({
        logger: new DefaultLogger('WARN'),
        // core warns that the test server predates heartbeat-details-on-failure; not relevant here
        telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } },
      });
    } catch {
      // already installed in this process by an earlier test file
    }
  }
  const path = await testServerPath();
  return TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path } },
  });
}

export function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows/index'),
    logger: new DefaultLogger('WARN'),
  });
}

export const uniqueId = (prefix: string): string => `${prefix}-${randomUUID()}`;

/** A user id in (or out of) a flow's holdout group. */
export function userIdFor(flowName: string, holdoutPercent: number, heldOut: boolean): string {
  for (;;) {
    const id = uniqueId('user');
    if (isHeldOut(flowName, id, holdoutPercent) === heldOut) return id;
  }
}

/**
 * A fixed-offset time zone in which `atMs` is the local clock time `hhmm` (to the minute), so a test
 * can put a message at 10:00 or 23:00 local whatever the server's clock says.
 */
export function zoneWhere(atMs: number, hhmm: string): string {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  const utcMinute = Math.floor((atMs % 86_400_000) / 60_000);
  let offset = (h * 60 + m - utcMinute) % 1440;
  if (offset < -720) offset += 1440;
  if (offset >= 720) offset -= 1440;
  const abs = Math.abs(offset);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${offset < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

export interface Fakes {
  activities: Activities;
  channels: Record<'app_push' | 'email', LogChannel>;
  ledger: ReturnType<typeof createMemoryCouponLedger>;
  slots: ReturnType<typeof createMemoryMessageSlots>;
  events: PublishedFlowEvent[];
  /** Every message sent on any channel. */
  sent(): LogChannel['sent'];
}

/** In-memory activities; pass `ledger` to wrap the real one (e.g. to fail after issuing). */
export function createFakes(options: { ledger?: (inner: CouponLedger) => CouponLedger } = {}): Fakes {
  const channels = { app_push: createLogChannel('app_push'), email: createLogChannel('email') };
  const ledger = createMemoryCouponLedger({ secret: 'test' });
  const slots = createMemoryMessageSlots();
  const events: PublishedFlowEvent[] = [];
  const activities = createActivities({
    channels: channels satisfies Partial<Record<Channel, LogChannel>>,
    ledger: options.ledger ? options.ledger(ledger) : ledger,
    slots,
    publish: (e) => {
      events.push(e);
      return Promise.resolve();
    },
  });
  return {
    activities,
    channels,
    ledger,
    slots,
    events,
    sent: () => [...channels.app_push.sent, ...channels.email.sent],
  };
}

export interface WorkflowTestContext {
  env: TestWorkflowEnvironment;
  workflowBundle: WorkflowBundleWithSourceMap;
  /** A fresh task queue per test: a test that fails leaves no worker behind on the next one's queue. */
  taskQueue: string;
  /** Workflows a test started; all terminated after it. */
  started: WorkflowHandle[];
  /** Runs `run` while a worker with these activities polls the test's task queue. */
  withWorker<T>(activities: object, run: () => Promise<T>): Promise<T>;
}

/**
 * The hooks every workflow test file needs: one test server and one bundle per file, a task queue per
 * test, and every started workflow terminated after its test (a workflow left running holds the test
 * server's clock, since its tasks wait for a worker that has gone, and every later test would time out).
 */
export function useWorkflowTestEnv(queuePrefix: string): WorkflowTestContext {
  const ctx = { started: [] as WorkflowHandle[] } as WorkflowTestContext;
  ctx.withWorker = async (activities, run) => {
    const worker = await Worker.create({
      connection: ctx.env.nativeConnection,
      taskQueue: ctx.taskQueue,
      workflowBundle: ctx.workflowBundle,
      activities,
    });
    return worker.runUntil(run);
  };
  beforeAll(async () => {
    [ctx.env, ctx.workflowBundle] = await Promise.all([startTestEnv(), bundleWorkflows()]);
  });
  afterAll(async () => {
    await ctx.env?.teardown();
  });
  beforeEach(() => {
    ctx.taskQueue = uniqueId(queuePrefix);
  });
  afterEach(async () => {
    await Promise.all(ctx.started.splice(0).map((h) => h.terminate('test over').catch(() => undefined)));
  });
  return ctx;
}
