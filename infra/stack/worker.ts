// Starts the Temporal worker (`shopstream worker`) in the background for the demo, with its pid file
// beside the stack's so `make down` stops it too. Ready when it polls its task queue.
import * as os from 'node:os';
import { Connection } from '@temporalio/client';
import type { Config } from '../config';
import { ensureBackground } from './background';
import { processCommandLine } from './processes';

/** Whether a worker with this pid (default identity pid@host) polls the workflow task queue. */
async function polling(connection: Connection, config: Config, pid: number): Promise<boolean> {
  const res = await connection.workflowService.describeTaskQueue({
    namespace: config.temporal.namespace,
    taskQueue: { name: config.temporal.taskQueue },
    taskQueueType: 1, // TASK_QUEUE_TYPE_WORKFLOW
  });
  return (res.pollers ?? []).some((p) => p.identity === `${pid}@${os.hostname()}`);
}

/** Returns the pid of the running worker, starting it if needed. */
export async function ensureWorkerRunning(
  config: Config,
  log: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ pid: number; started: boolean }> {
  const connection = await Connection.connect({ address: config.temporal.address });
  try {
    return await ensureBackground(
      config,
      {
        name: 'worker',
        label: 'flow worker',
        args: ['worker'],
        running: (pid) => Promise.resolve((processCommandLine(pid) ?? []).some((a) => a === 'worker')),
        ready: (pid) => polling(connection, config, pid),
        what: `the flow worker polling task queues ${config.temporal.taskQueue} and ${config.temporal.chatTaskQueue}`,
        timeoutMs: 90_000,
      },
      log,
      env,
    );
  } finally {
    await connection.close();
  }
}
