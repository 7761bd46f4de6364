// The Temporal worker: the flows' workflows (workflows/index.ts, bundled at start or prebuilt) and
// the activities built by createActivities. Runs until shutdown: SIGTERM/SIGINT drain it (in-flight
// activities finish, workflow tasks are handed back), so a deploy loses nothing; a SIGKILL loses
// nothing either, only time: Temporal retries the activity attempts the dead worker held.
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { Config } from '../infra/config';
import type { Logger } from '../infra/logger';
import { createActivities, type ActivityDeps } from './index';

export interface RunWorkerOptions {
  config: Config;
  /** Default: a new connection to config.temporal.address (closed at the end). */
  connection?: NativeConnection;
  /** Default config.temporal.taskQueue. */
  taskQueue?: string;
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
    opts.connection ?? (await NativeConnection.connect({ address: config.temporal.address }));
  let worker: Worker;
  try {
    worker = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue,
      ...(opts.workflowBundle
        ? { workflowBundle: opts.workflowBundle }
        : { workflowsPath: require.resolve('../workflows/index') }),
      activities: createActivities(opts.activitiesDeps),
      shutdownGraceTime: opts.shutdownGraceTimeMs ?? 10_000,
      shutdownForceTime: 30_000,
    });
  } catch (err) {
    if (ownsConnection) await connection.close();
    throw err;
  }
  const signals = opts.shutdownSignals ?? ['SIGTERM', 'SIGINT'];
  const onSignal = (sig: NodeJS.Signals): void => {
    logger.info({ signal: sig, taskQueue }, 'worker draining');
    if (worker.getState() === 'RUNNING') worker.shutdown();
  };
  for (const s of signals) process.on(s, onSignal);
  const done = worker
    .run()
    .finally(async () => {
      for (const s of signals) process.off(s, onSignal);
      if (ownsConnection) await connection.close();
      logger.info({ taskQueue }, 'worker stopped');
    })
    .then(() => undefined);
  logger.info(
    { taskQueue, namespace: config.temporal.namespace, address: config.temporal.address },
    'worker running',
  );
  opts.onRunning?.(worker);
  return {
    worker,
    done,
    async shutdown(): Promise<void> {
      if (worker.getState() === 'RUNNING') worker.shutdown();
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
