// Workflow starts and exits: how fast the cart triggers' calls get cart-recovery flows going on one
// worker and the local Temporal dev server (SQLite), and how fast a purchase ends a waiting flow. On a
// throwaway nats-server (the topology applied: the activities' KV buckets and the events stream) and a
// throwaway `temporal server start-dev`, one real worker (startWorker as `shopstream worker --queues
// flows` runs it: the real activities wired as bench/flows.ts wires them, the SDK's default worker
// settings; `tuning` swaps in other workflow-task settings for experiments):
//   1. start: `flows` cart-recovery flows started the way the cart triggers start them, `concurrency`
//      calls in flight. Each flow's call is the trigger's own: a cart_item_added envelope (encoded and
//      decoded as on the wire) goes through streams/triggers/cart-triggers.ts triggerFor (workflow id
//      cartRecoveryWorkflowId, the cart snapshot), then client.signalWithStart(cartRecoveryWorkflow)
//      with the cartChanged signal, REJECT_DUPLICATE, the flow the triggers component runs
//      (shippedFlows(timingFrom(config.flows)): the shipped timing), tier 'new' and zone 'UTC' (the
//      trigger's defaults for a user without a profile), on a client connection with the trigger's
//      retry interceptor. The calls are built before the clock starts (decoding is not timed).
//   2. first tasks: each sampled flow's history, read until its first workflow task completed and its
//      abandonment timer started.
//   3. exit: a sample of the flows, all parked on that timer, each sent the order_placed trigger's
//      call (triggerFor of an order_placed envelope for its cart, then getHandle(id).signal(orderPlaced)),
//      `concurrency` at a time, and awaited until the workflow closed (handle.result()).
// Why the shipped timing: a flow's first timer is its 30 min abandonment window, so no flow moves on
// its own while it is measured (the demo's 5 s window would have flows sending reminders during the
// start phase and their activities would compete with the starts), and the exit measured is the common
// one: a purchase while the cart is still fresh. bench/flows.ts measures whole flows at demo timing.
//
// Figures:
//   workflow_starts_per_s    flows / seconds from the first signal-with-start call sent to the last one
//                            returned (every call accepted by Temporal; failed calls are not retried
//                            and are counted in detail.start.errors).
//   schedule_to_start_ms     p50/p95/p99 over the sampled flows (default: all of them) of the first
//                            workflow task's WorkflowTaskScheduled -> WorkflowTaskStarted event times in
//                            its history (the server's clock): how long the first task waited for a
//                            worker poller during the start burst.
//   signal_to_exit_ms        p50/p95/p99 over the exit sample (default 500) of: just before the
//                            orderPlaced signal call -> handle.result() resolved (the close event seen
//                            by the client's long poll), this machine's clock; `concurrency` in flight.
//                            detail.exit.server_ms: WorkflowExecutionSignaled -> WorkflowExecutionCompleted
//                            in the history.
//   history_events_per_flow  the median number of events in the history of an exited flow (started,
//                            parked on its timer, signalled, closed).
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import {
  Client,
  Connection,
  defaultGrpcRetryOptions,
  makeGrpcRetryInterceptor,
  type WorkflowHandle,
} from '@temporalio/client';
import {
  bundleWorkflowCode,
  DefaultLogger,
  NativeConnection,
  Worker,
  type WorkerOptions,
} from '@temporalio/worker';
import { createActivities, createLogChannel, type ActivityDeps } from '../activities';
import { createKvMessageSlots } from '../activities/kv-message-slots';
import { startWorker } from '../activities/worker';
import { createKvCouponLedger } from '../coupons/kv-coupon-ledger';
import type { Config } from '../infra/config';
import { createLogger } from '../infra/logger';
import { sleep } from '../infra/sleep';
import { testConfig } from '../infra/stack/test-config';
import { installQuietRuntime, startTestTemporal, type TestTemporal } from '../infra/stack/test-temporal';
import { decodeEnvelope, encodeEnvelope } from '../schemas/codec';
import {
  channelValue,
  SCHEMA_VERSION,
  payloadField,
  type EnvelopeInit,
  type EventType,
} from '../schemas/events';
import { newEventId } from '../schemas/ulid';
import { createNatsPublish } from '../streams/producer/flow-events';
import { names } from '../streams/topology';
import { triggerFor, type CartAction } from '../streams/triggers/cart-triggers';
import {
  cartChanged,
  cartRecoveryWorkflow,
  orderPlaced,
  type CartRecoveryInput,
} from '../workflows/cart-recovery';
import { shippedFlows, timingFrom } from '../workflows/flows';
import { onThrowawayNats, round1, spread, type Quantiles, type Spread } from './common';

/** Workflow-task settings to try instead of the SDK defaults startWorker runs with. */
export type WorkerTuning = Pick<
  WorkerOptions,
  | 'maxConcurrentWorkflowTaskExecutions'
  | 'maxCachedWorkflows'
  | 'maxConcurrentWorkflowTaskPolls'
  | 'workflowTaskPollerBehavior'
  | 'nonStickyToStickyPollRatio'
  | 'maxConcurrentActivityTaskExecutions'
>;

export interface WorkflowOptions {
  /** Flows started. Default 2,000. */
  flows?: number;
  /** Calls in flight (starts, then exit signals). Default 64. */
  concurrency?: number;
  /** Flows whose first workflow task is read from history. Default: all. */
  historySample?: number;
  /** Flows ended by an order. Default 500 (at most `flows`). */
  exitSample?: number;
  /**
   * Other workflow-task settings (experiments): the worker is then created here with startWorker's
   * options plus these, instead of by startWorker. Absent: startWorker, the service's defaults.
   */
  tuning?: WorkerTuning;
  log?: (line: string) => void;
}

export interface WorkflowFigures {
  workflow_starts_per_s: number;
  schedule_to_start_ms: Quantiles;
  signal_to_exit_ms: Quantiles;
  history_events_per_flow: number;
  flows: number;
  concurrency: number;
  detail: WorkflowDetail;
}

export interface WorkflowDetail {
  /** The flow's timing and its first timer. */
  timing: string;
  /** The worker's effective workflow-task settings. */
  worker: {
    created_by: 'startWorker' | 'bench (tuning)';
    workflow_task_slots: number | string;
    workflow_task_pollers: string;
    non_sticky_to_sticky_poll_ratio: number;
    max_cached_workflows: number;
    activity_task_slots: number | string;
  };
  start: {
    seconds: number;
    /** Calls that failed (not retried; those flows are left out of the samples). */
    errors: number;
    /** One signal-with-start call, sent -> returned. */
    call_ms: Spread;
  };
  first_task: {
    sampled: number;
    /** schedule_to_start_ms with its max and count. */
    schedule_to_start_ms: Spread;
    /** WorkflowExecutionStarted -> the first task's WorkflowTaskCompleted (server clock). */
    started_to_parked_ms: Spread;
    /** From the first start call to the last sampled flow's first task completed (s). */
    all_parked_s: number;
    /** Sampled flows whose first task took more than one attempt (a timeout or failure). */
    retried: number;
    /** Sampled flows not parked on their timer within the wait (left out). */
    not_parked: number;
  };
  exit: {
    sampled: number;
    /** Flows that closed with exit 'purchased'. */
    purchased: number;
    /** Flows that closed otherwise, failed or did not close within EXIT_TIMEOUT_MS. */
    other: number;
    seconds: number;
    /** signal_to_exit_ms with its max and count. */
    signal_to_exit_ms: Spread;
    /** WorkflowExecutionSignaled (orderPlaced) -> WorkflowExecutionCompleted (server clock). */
    server_ms: Spread;
    /** The exit's workflow task: WorkflowTaskScheduled -> WorkflowTaskStarted. */
    task_schedule_to_start_ms: Spread;
  };
  history_events: Spread;
  /** One exited flow's history, its events in order (the attribute names, 'EventAttributes' cut). */
  history_example: string[];
  /** CPU of this process (client and worker) and of the Temporal server, % of one core, per phase. */
  cpu_pct: {
    bench_process: { start: number; first_tasks: number; exit: number };
    temporal_server: { start: number; first_tasks: number; exit: number } | null;
  };
  /**
   * The machine's CPU pressure (/proc/pressure/cpu some avg10, %: the share of time a runnable task
   * waited for a core) before the run and at the end of each phase. High: other load on the machine.
   */
  cpu_pressure_pct: { before: number; start: number; first_tasks: number; exit: number };
  setup_seconds: number;
  total_seconds: number;
  machine: string;
  load_average_at_start: number[];
}

const SHOP = 'bench';
/** A sampled flow not parked on its timer by then (after the start phase) is left out. */
const PARK_TIMEOUT_MS = 120_000;
/** A signalled flow not closed by then counts as `other`. */
const EXIT_TIMEOUT_MS = 30_000;
const CART_TOTAL_MINOR = 8_000;

// ---- small helpers -------------------------------------------------------------------------------------

const toQuantiles = ({ p50, p95, p99 }: Spread): Quantiles => ({ p50, p95, p99 });

type LongLike = number | { toNumber(): number } | null | undefined;
const num = (v: LongLike): number => (typeof v === 'number' ? v : v ? v.toNumber() : 0);

/** A protobuf Timestamp as epoch ms. */
function tsMs(ts: { seconds?: LongLike; nanos?: number | null } | null | undefined): number {
  if (!ts) return Number.NaN;
  return num(ts.seconds) * 1000 + (ts.nanos ?? 0) / 1e6;
}

/** Runs `run` over `items`, `width` at a time; `run` must not throw. */
async function pool<T>(
  items: readonly T[],
  width: number,
  run: (item: T, i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      await run(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(width, items.length)) }, lane));
}

/** `p`'s value, or 'timeout' after `ms` (p's later rejection is swallowed). */
async function within<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  p.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** `n` indices spread evenly over 0..total-1 (all of them when n >= total). */
function spreadIndices(total: number, n: number): number[] {
  if (n >= total) return Array.from({ length: total }, (_, i) => i);
  return Array.from({ length: n }, (_, k) => Math.floor((k * total) / n));
}

/** The pid of the process whose command line holds `arg` (the Temporal server: its temp dir). */
function pidWithArg(arg: string): number | undefined {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(arg)) return Number(d);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/** A process's CPU time so far (user + system), ms; NaN when unreadable. */
function cpuMsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime in 1/100 s
  } catch {
    return Number.NaN;
  }
}

/**
 * The machine's CPU pressure: the share of the last 10 s in which some runnable task waited for a
 * core (/proc/pressure/cpu "some avg10", %); NaN where the kernel has none. Over ~50 the figures
 * measure the machine's other load as much as Temporal.
 */
function cpuPressure(): number {
  try {
    const m = /some avg10=([\d.]+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    return m ? Number(m[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** CPU clocks of this process and the server: lap() gives each one's % of a core since the last lap. */
function cpuMeter(serverPid: number | undefined) {
  const read = () => ({
    at: performance.now(),
    self: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
    server: serverPid === undefined ? Number.NaN : cpuMsOf(serverPid),
  });
  let last = read();
  return {
    lap(): { self: number; server: number; pressure: number } {
      const now = read();
      const ms = now.at - last.at;
      const out = {
        pressure: cpuPressure(),
        self: Math.round(((now.self - last.self) / ms) * 100),
        server: Math.round(((now.server - last.server) / ms) * 100),
      };
      last = now;
      return out;
    },
  };
}

/** An envelope as the trigger sees it: encoded and decoded as on the wire. */
function wireEnvelope<T extends EventType>(type: T, userId: string, occurredAt: number, payload: object) {
  const init: EnvelopeInit = {
    eventId: newEventId(),
    schemaVersion: SCHEMA_VERSION,
    shopId: SHOP,
    userId,
    sessionId: `sess-${userId}`,
    channel: channelValue('web'),
    occurredAt,
    sequence: 1,
    producerId: 'bench-workflows',
    [payloadField(type)]: payload,
  };
  const decoded = decodeEnvelope(encodeEnvelope(init));
  if (!decoded.ok) throw new Error(`bench envelope did not decode: ${decoded.detail}`);
  return decoded.envelope;
}

const product = {
  sku: 'BENCH-0001',
  productId: 'BENCH-0001',
  name: 'Bench item',
  category: 'phones',
  priceMinor: CART_TOTAL_MINOR / 2,
  quantity: 2,
};

/** What the cart trigger decides for user i adding to cart i. */
function cartChangedAction(i: number, at: number): Extract<CartAction, { kind: 'cart_changed' }> {
  const env = wireEnvelope('cart_item_added', `bench-user-${i}`, at, {
    cartId: `bench-cart-${i}`,
    product,
    cartTotalMinor: CART_TOTAL_MINOR,
    currency: 'USD',
  });
  const action = triggerFor(env, 'cart_item_added');
  if (action.kind !== 'cart_changed') throw new Error(`cart trigger ignored the bench event: ${action.kind}`);
  return action;
}

/** What the cart trigger decides for user i's order of cart i. */
function orderPlacedAction(i: number, at: number): Extract<CartAction, { kind: 'order_placed' }> {
  const env = wireEnvelope('order_placed', `bench-user-${i}`, at, {
    orderId: `bench-order-${i}`,
    cartId: `bench-cart-${i}`,
    products: [product],
    totalMinor: CART_TOTAL_MINOR,
    currency: 'USD',
  });
  const action = triggerFor(env, 'order_placed');
  if (action.kind !== 'order_placed') throw new Error(`cart trigger ignored the bench order: ${action.kind}`);
  return action;
}

/**
 * A worker with startWorker's options (its Worker.create call: namespace, queue, bundle, the
 * activities, shutdown times) plus `tuning`. Only for the tuning experiments: startWorker takes no
 * workflow-task settings.
 */
async function startTunedWorker(opts: {
  config: Config;
  connection: NativeConnection;
  bundle: WorkerOptions['workflowBundle'];
  activitiesDeps: ActivityDeps;
  tuning: WorkerTuning;
}) {
  const worker = await Worker.create({
    connection: opts.connection,
    namespace: opts.config.temporal.namespace,
    taskQueue: opts.config.temporal.taskQueue,
    workflowBundle: opts.bundle!,
    activities: createActivities(opts.activitiesDeps),
    shutdownGraceTime: 10_000,
    shutdownForceTime: 30_000,
    ...opts.tuning,
  });
  const done = worker.run();
  done.catch(() => undefined); // awaited by shutdown()
  return {
    worker,
    async shutdown(): Promise<void> {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}

function describeWorker(w: Worker, tuned: boolean): WorkflowDetail['worker'] {
  const o = w.options;
  const slots = (s: { type: string; numSlots?: number }): number | string =>
    s.type === 'fixed-size' && s.numSlots !== undefined ? s.numSlots : s.type;
  const p = o.workflowTaskPollerBehavior;
  return {
    created_by: tuned ? 'bench (tuning)' : 'startWorker',
    workflow_task_slots: slots(o.tuner.workflowTaskSlotSupplier as { type: string; numSlots?: number }),
    workflow_task_pollers:
      p.type === 'simple-maximum'
        ? `simple-maximum ${p.maximum}`
        : `autoscaling ${p.minimum}..${p.maximum} (initial ${p.initial})`,
    non_sticky_to_sticky_poll_ratio: o.nonStickyToStickyPollRatio,
    max_cached_workflows: o.maxCachedWorkflows,
    activity_task_slots: slots(o.tuner.activityTaskSlotSupplier as { type: string; numSlots?: number }),
  };
}

// ---- the measurement -------------------------------------------------------------------------------

export async function measureWorkflows(opts: WorkflowOptions = {}): Promise<WorkflowFigures> {
  const flows = opts.flows ?? 2000;
  const concurrency = opts.concurrency ?? 64;
  const historySample = Math.min(flows, opts.historySample ?? flows);
  const exitSample = Math.min(flows, opts.exitSample ?? 500);
  const log = opts.log ?? (() => undefined);
  if (!(flows > 0 && concurrency > 0)) throw new Error('flows and concurrency must be positive');
  const began = performance.now();
  const loadAtStart = loadavg().map(round1);
  const pressureBefore = cpuPressure();
  installQuietRuntime();

  // the dev server and the workflow bundle at once; the one that succeeded is cleaned up if the other failed
  const [temporalR, bundleR] = await Promise.allSettled([
    startTestTemporal(),
    bundleWorkflowCode({
      workflowsPath: require.resolve('../workflows/index'),
      logger: new DefaultLogger('WARN'),
    }),
  ]);
  const temporal: TestTemporal | undefined = temporalR.status === 'fulfilled' ? temporalR.value : undefined;
  try {
    if (temporalR.status === 'rejected') throw temporalR.reason;
    if (bundleR.status === 'rejected') throw bundleR.reason;
    const bundle = bundleR.value;
    const serverPid = pidWithArg(temporal!.dir);
    return await onThrowawayNats(
      {
        name: 'bench-workflows',
        config: (url) =>
          testConfig(url, {
            TEMPORAL_ADDRESS: temporal!.address,
            TEMPORAL_NAMESPACE: 'default',
            TEMPORAL_TASK_QUEUE: 'bench-flows',
          }),
      },
      async ({ config, nc }) => {
        const js = nc.jetstream();
        const n = names(config.nats.prefix);
        const { publish, producer } = await createNatsPublish(config, nc);
        let connection: Connection | undefined;
        let workerConnection: NativeConnection | undefined;
        let running: { worker: Worker; shutdown(): Promise<void> } | undefined;
        try {
          const activitiesDeps: ActivityDeps = {
            channels: { app_push: createLogChannel('app_push'), email: createLogChannel('email') },
            ledger: createKvCouponLedger(await js.views.kv(n.couponsBucket, { bindOnly: true }), {
              secret: randomBytes(32).toString('hex'),
            }),
            slots: createKvMessageSlots(await js.views.kv(n.slotsBucket, { bindOnly: true })),
            publish,
          };
          // the trigger's connection: its retry interceptor (4 attempts), as streams/pipeline/triggers.ts
          connection = await Connection.connect({
            address: config.temporal.address,
            interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: 4 }))],
          });
          workerConnection = await NativeConnection.connect({ address: config.temporal.address });
          if (opts.tuning)
            running = await startTunedWorker({
              config,
              connection: workerConnection,
              bundle,
              activitiesDeps,
              tuning: opts.tuning,
            });
          else {
            const started = await startWorker({
              config,
              connection: workerConnection,
              chatTaskQueue: null, // `shopstream worker --queues flows`, as the stack runs it
              logger: createLogger('silent', 'bench'),
              shutdownSignals: [],
              workflowBundle: bundle,
              activitiesDeps,
            });
            started.done.catch(() => undefined); // a failure surfaces from shutdown()
            running = started;
          }
          const client = new Client({ connection, namespace: config.temporal.namespace });
          const figures = await measure({
            client,
            config,
            flows,
            concurrency,
            historySample,
            exitSample,
            log,
            cpu: cpuMeter(serverPid),
            worker: describeWorker(running.worker, opts.tuning !== undefined),
            serverFound: serverPid !== undefined,
            began,
            pressureBefore,
          });
          figures.detail.load_average_at_start = loadAtStart;
          return figures;
        } finally {
          // every step, whatever failed before it (a cleanup failure is logged, not thrown over the result)
          const quietly = (what: string, p: Promise<unknown> | undefined) =>
            p?.catch((err: unknown) => log(`cleanup: ${what} failed: ${String(err)}`));
          await quietly('worker shutdown', running?.shutdown());
          await quietly('worker connection', workerConnection?.close());
          await quietly('producer', producer.close());
          await quietly('client connection', connection?.close());
        }
      },
    );
  } finally {
    await temporal?.stop();
  }
}

interface MeasureContext {
  client: Client;
  config: Config;
  flows: number;
  concurrency: number;
  historySample: number;
  exitSample: number;
  log: (line: string) => void;
  cpu: ReturnType<typeof cpuMeter>;
  worker: WorkflowDetail['worker'];
  serverFound: boolean;
  began: number;
  pressureBefore: number;
}

interface FirstTask {
  scheduleToStart: number;
  startedToParked: number;
  parkedAt: number;
  retried: boolean;
}

async function measure(ctx: MeasureContext): Promise<WorkflowFigures> {
  const { client, config, flows, concurrency, log } = ctx;
  const flow = shippedFlows(timingFrom(config.flows)).cartRecovery;
  const setupSeconds = (performance.now() - ctx.began) / 1000;
  log(
    `setup ${setupSeconds.toFixed(1)} s; worker ${JSON.stringify(ctx.worker)}; flow '${flow.name}' abandonAfter ${flow.abandonAfter ?? '0s'}`,
  );

  // ---- 1. starts, as the cart trigger makes them (built before the clock starts)
  const now = Date.now();
  const calls = Array.from({ length: flows }, (_, i) => {
    const action = cartChangedAction(i, now);
    const input: CartRecoveryInput = {
      flow,
      shopId: action.shopId,
      userId: action.userId,
      cartId: action.cartId,
      tier: 'new',
      timeZone: 'UTC',
      cart: action.cart,
    };
    return { action, input };
  });
  const callMs: number[] = [];
  const startedOk: boolean[] = Array.from({ length: flows }, () => false);
  let startErrors = 0;
  let firstError: unknown;
  let lastStarted: number | undefined;
  ctx.cpu.lap();
  const t0 = performance.now();
  const t0Wall = Date.now();
  await pool(calls, concurrency, async ({ action, input }, i) => {
    const c0 = performance.now();
    try {
      await client.workflow.signalWithStart(cartRecoveryWorkflow, {
        workflowId: action.workflowId,
        taskQueue: config.temporal.taskQueue,
        args: [input],
        signal: cartChanged,
        signalArgs: [action.cart],
        workflowIdReusePolicy: 'REJECT_DUPLICATE', // WorkflowIdReusePolicy.REJECT_DUPLICATE
      });
      callMs.push(performance.now() - c0);
      startedOk[i] = true;
      lastStarted = i;
    } catch (err) {
      startErrors++;
      firstError ??= err;
    }
  });
  const startSeconds = (performance.now() - t0) / 1000;
  const cpuStart = ctx.cpu.lap();
  if (startErrors === flows) throw new Error('every start failed', { cause: firstError });
  const startsPerS = (flows - startErrors) / startSeconds;
  log(
    `started ${flows - startErrors}/${flows} in ${startSeconds.toFixed(1)} s: ${startsPerS.toFixed(0)}/s` +
      (startErrors > 0 ? ` (${startErrors} failed: ${String(firstError)})` : ''),
  );

  // ---- 2. first tasks: from the histories, once each sampled flow is parked on its timer
  const exitIdx = spreadIndices(flows, ctx.exitSample).filter((i) => startedOk[i]);
  const sampleIdx = [...new Set([...spreadIndices(flows, ctx.historySample), ...exitIdx])].filter(
    (i) => startedOk[i],
  );
  const historyOf = (i: number) => client.workflow.getHandle(calls[i]!.action.workflowId).fetchHistory();
  const first = new Map<number, FirstTask>();
  /** The flow's first task, once it completed and the flow is parked on its timer. */
  const readFirstTask = async (i: number): Promise<FirstTask | undefined> => {
    const events = (await historyOf(i)).events ?? [];
    const started = events.find((e) => e.workflowExecutionStartedEventAttributes);
    const scheduled = events.find((e) => e.workflowTaskScheduledEventAttributes);
    const taskStarted = events.find((e) => e.workflowTaskStartedEventAttributes);
    const completed = events.find((e) => e.workflowTaskCompletedEventAttributes);
    const timer = events.find((e) => e.timerStartedEventAttributes);
    if (!started || !scheduled || !taskStarted || !completed || !timer) return undefined;
    return {
      scheduleToStart: tsMs(taskStarted.eventTime) - tsMs(scheduled.eventTime),
      startedToParked: tsMs(completed.eventTime) - tsMs(started.eventTime),
      parkedAt: tsMs(completed.eventTime),
      retried: events.some(
        (e) => e.workflowTaskTimedOutEventAttributes || e.workflowTaskFailedEventAttributes,
      ),
    };
  };
  const parkDeadline = performance.now() + PARK_TIMEOUT_MS;
  // While the worker works through the backlog, one probe at a time (reading every history now would
  // load the server the worker competes for): the flow whose start returned last, whose first task
  // is about the last in the queue (matching hands out a backlog in order).
  if (lastStarted !== undefined)
    while (performance.now() < parkDeadline) {
      const f = await readFirstTask(lastStarted).catch(() => undefined);
      if (f) break;
      await sleep(250);
    }
  let waiting = sampleIdx;
  while (waiting.length > 0 && performance.now() < parkDeadline) {
    const still: number[] = [];
    await pool(waiting, concurrency, async (i) => {
      const f = await readFirstTask(i).catch(() => undefined);
      if (f) first.set(i, f);
      else still.push(i);
    });
    waiting = still;
    if (waiting.length > 0) await sleep(250);
  }
  const cpuFirst = ctx.cpu.lap();
  const firstTasks = [...first.values()];
  const histSet = new Set(spreadIndices(flows, ctx.historySample));
  const histTasks = [...first.entries()].filter(([i]) => histSet.has(i)).map(([, f]) => f);
  const scheduleToStart = spread(histTasks.map((f) => f.scheduleToStart));
  const allParkedS =
    firstTasks.length === 0 ? Number.NaN : (Math.max(...firstTasks.map((f) => f.parkedAt)) - t0Wall) / 1000;
  log(
    `first tasks of ${first.size}/${sampleIdx.length} sampled flows done ${allParkedS.toFixed(1)} s after the first start; schedule-to-start p50 ${scheduleToStart.p50} p99 ${scheduleToStart.p99} ms`,
  );

  // ---- 3. exits: the order_placed trigger's signal to parked flows, `concurrency` in flight
  const exiting = exitIdx.filter((i) => first.has(i));
  const exitMs: number[] = [];
  let purchased = 0;
  let other = 0;
  const e0 = performance.now();
  await pool(exiting, concurrency, async (i) => {
    const order = orderPlacedAction(i, Date.now());
    const handle: WorkflowHandle<typeof cartRecoveryWorkflow> = client.workflow.getHandle(order.workflowId);
    const s0 = performance.now();
    try {
      await handle.signal(orderPlaced, { orderId: order.orderId, eventTime: order.eventTime });
      const result = await within(handle.result(), EXIT_TIMEOUT_MS);
      if (result !== 'timeout' && result.exit === 'purchased') {
        exitMs.push(performance.now() - s0);
        purchased++;
      } else other++;
    } catch {
      other++;
    }
  });
  const exitSeconds = (performance.now() - e0) / 1000;
  const cpuExit = ctx.cpu.lap();
  const signalToExit = spread(exitMs);
  log(
    `${purchased}/${exiting.length} flows ended by an order in ${exitSeconds.toFixed(1)} s; signal-to-exit p50 ${signalToExit.p50} p99 ${signalToExit.p99} ms`,
  );

  // ---- the exited flows' histories
  const lengths: number[] = [];
  const serverMs: number[] = [];
  const exitTaskMs: number[] = [];
  let example: string[] = [];
  await pool(exiting, concurrency, async (i) => {
    try {
      const events = (await historyOf(i)).events ?? [];
      const closed = events.find((e) => e.workflowExecutionCompletedEventAttributes);
      if (!closed) return;
      lengths.push(events.length);
      if (example.length === 0)
        example = events.map(
          (e) =>
            Object.keys(e)
              .find((k) => k.endsWith('EventAttributes') && e[k as keyof typeof e])
              ?.replace(/EventAttributes$/, '') ?? '?',
        );
      const signalled = events.find(
        (e) => e.workflowExecutionSignaledEventAttributes?.signalName === orderPlaced.name,
      );
      if (signalled) {
        serverMs.push(tsMs(closed.eventTime) - tsMs(signalled.eventTime));
        const scheduled = events.find(
          (e) => e.workflowTaskScheduledEventAttributes && num(e.eventId) > num(signalled.eventId),
        );
        const started = events.find(
          (e) =>
            e.workflowTaskStartedEventAttributes &&
            num(e.workflowTaskStartedEventAttributes.scheduledEventId) === num(scheduled?.eventId),
        );
        if (scheduled && started) exitTaskMs.push(tsMs(started.eventTime) - tsMs(scheduled.eventTime));
      }
    } catch {
      // counted by its absence (history_events.n)
    }
  });
  const history = spread(lengths);

  return {
    workflow_starts_per_s: Math.round(startsPerS),
    schedule_to_start_ms: toQuantiles(scheduleToStart),
    signal_to_exit_ms: toQuantiles(signalToExit),
    history_events_per_flow: history.p50,
    flows,
    concurrency,
    detail: {
      timing: `the shipped timing (config flows section: scale ${config.flows.timeScale}): abandonAfter ${flow.abandonAfter ?? '0s'}, each flow parks on that timer`,
      worker: ctx.worker,
      start: { seconds: round1(startSeconds), errors: startErrors, call_ms: spread(callMs) },
      first_task: {
        sampled: histTasks.length,
        schedule_to_start_ms: scheduleToStart,
        started_to_parked_ms: spread(histTasks.map((f) => f.startedToParked)),
        all_parked_s: round1(allParkedS),
        retried: firstTasks.filter((f) => f.retried).length,
        not_parked: waiting.length,
      },
      exit: {
        sampled: exiting.length,
        purchased,
        other,
        seconds: round1(exitSeconds),
        signal_to_exit_ms: signalToExit,
        server_ms: spread(serverMs),
        task_schedule_to_start_ms: spread(exitTaskMs),
      },
      history_events: history,
      history_example: example,
      cpu_pct: {
        bench_process: { start: cpuStart.self, first_tasks: cpuFirst.self, exit: cpuExit.self },
        temporal_server: ctx.serverFound
          ? { start: cpuStart.server, first_tasks: cpuFirst.server, exit: cpuExit.server }
          : null,
      },
      cpu_pressure_pct: {
        before: ctx.pressureBefore,
        start: cpuStart.pressure,
        first_tasks: cpuFirst.pressure,
        exit: cpuExit.pressure,
      },
      setup_seconds: round1(setupSeconds),
      total_seconds: round1((performance.now() - ctx.began) / 1000),
      machine: `${cpus().length} cores, node ${process.version}`,
      load_average_at_start: [],
    },
  };
}
