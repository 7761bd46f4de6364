// The Temporal worker: the flows' workflows (workflows/index.ts, bundled at start or prebuilt) and
// the activities built by createActivities. Runs until shutdown: SIGTERM/SIGINT drain it (in-flight
// activities finish, workflow tasks are handed back), so a deploy loses nothing; a SIGKILL loses
// nothing either, only time: Temporal retries the activity attempts the dead worker held.
import {
  DefaultLogger,
  NativeConnection,
  Worker,
  bundleWorkflowCode,
  type WorkerOptions,
} from '@temporalio/worker';
import type { Config } from '../infra/config';
import type { Logger } from '../infra/logger';
import { temporalTls } from '../infra/temporal-tls';
import { createActivities, type ActivityDeps } from './index';

export interface RunWorkerOptions {
  config: Config;
  /** Default: a new connection to config.temporal.address (closed at the end). */
  connection?: NativeConnection;
  /** Default config.temporal.taskQueue. */
  taskQueue?: string;
  /**
   * The chat escalations' queue, polled by a second worker on the same connection and bundle, so a
   * backlog of marketing flows' tasks never queues ahead of an escalation's (they still share this
   * process's CPU: `shopstream worker --queues chat` runs them apart, as the demo does). Default
   * config.temporal.chatTaskQueue; null: do not poll it.
   */
  chatTaskQueue?: string | null;
  activitiesDeps: ActivityDeps;
  logger: Logger;
  /** A prebuilt bundle (bundleWorkflowCode), else workflows/index.ts is bundled at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /**
   * Stop on these signals (drain). Default SIGTERM and SIGINT. (The Temporal Runtime also shuts its
   * workers down on these by default; this makes it explicit and logged.)
   */
  shutdownSignals?: NodeJS.Signals[];
  /** Called once the worker polls its task queue. */
  onRunning?: (worker: Worker) => void;
  /** How long in-flight activities get on shutdown before they are cancelled, ms. Default 10s. */
  shutdownGraceTimeMs?: number;
}

export interface RunningWorker {
  worker: Worker;
  /** The chat task queue's worker, if any. */
  chatWorker?: Worker;
  /** Resolves when the worker has stopped (after shutdown()). */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

/** Creates the worker and starts it; `done` resolves once it has drained. */
export async function startWorker(opts: RunWorkerOptions): Promise<RunningWorker> {
  const { config, logger } = opts;
  const taskQueue = opts.taskQueue ?? config.temporal.taskQueue;
  const ownsConnection = !opts.connection;
  const connection =
    opts.connection ??
    (await NativeConnection.connect({
      address: config.temporal.address,
      ...temporalTls(config.temporal),
    }));
  const chatTaskQueue =
    opts.chatTaskQueue === null ? undefined : (opts.chatTaskQueue ?? config.temporal.chatTaskQueue);
  const activities = createActivities(opts.activitiesDeps);
  let bundle = opts.workflowBundle;
  const create = (queue: string): Promise<Worker> =>
    Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: queue,
      ...(bundle ? { workflowBundle: bundle } : { workflowsPath: require.resolve('../workflows/index') }),
      activities,
      shutdownGraceTime: opts.shutdownGraceTimeMs ?? 10_000,
      shutdownForceTime: 30_000,
    });
  const workers: Worker[] = [];
  try {
    // bundled once for both queues
    if (!bundle && chatTaskQueue && chatTaskQueue !== taskQueue)
      bundle = await bundleWorkflowCode({
        workflowsPath: require.resolve('../workflows/index'),
        logger: new DefaultLogger('WARN'),
      });
    workers.push(await create(taskQueue));
    if (chatTaskQueue && chatTaskQueue !== taskQueue) workers.push(await create(chatTaskQueue));
  } catch (err) {
    // a created worker holds the connection until it has run: run it and stop it at once
    await Promise.allSettled(
      workers.map((w) => {
        const ran = w.run();
        w.shutdown();
        return ran;
      }),
    );
    if (ownsConnection) await connection.close();
    throw err;
  }
  const worker = workers[0]!;
  const chatWorker = workers[1];
  const signals = opts.shutdownSignals ?? ['SIGTERM', 'SIGINT'];
  const onSignal = (sig: NodeJS.Signals): void => {
    logger.info({ signal: sig, taskQueue }, 'worker draining');
    stopAll();
  };
  for (const s of signals) process.on(s, onSignal);
  const stopAll = (): void => {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
  };
  // one queue's worker failing stops the other; the connection closes once both have drained
  const done = Promise.allSettled(
    workers.map((w) =>
      w.run().catch((err: unknown) => {
        stopAll();
        throw err;
      }),
    ),
  ).then(async (results) => {
    for (const s of signals) process.off(s, onSignal);
    if (ownsConnection) await connection.close();
    logger.info({ taskQueue, chatTaskQueue }, 'worker stopped');
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  });
  logger.info(
    { taskQueue, chatTaskQueue, namespace: config.temporal.namespace, address: config.temporal.address },
    'worker running',
  );
  opts.onRunning?.(worker);
  return {
    worker,
    ...(chatWorker ? { chatWorker } : {}),
    done,
    async shutdown(): Promise<void> {
      stopAll();
      await done;
    },
  };
}

/** Runs the worker until it is shut down (SIGTERM/SIGINT by default). */
export async function runWorker(opts: RunWorkerOptions): Promise<void> {
  await (
    await startWorker(opts)
  ).done;
}
