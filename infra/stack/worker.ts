// Starts the Temporal worker (`shopstream worker`) in the background for the demo, with its pid file
// beside the stack's so `make down` stops it too. Ready when it polls its task queue.
import * as os from 'node:os';
import * as path from 'node:path';
import { Connection } from '@temporalio/client';
import { PROJECT_ROOT, type Config } from '../config';
import {
  isAlive,
  processCommandLine,
  readPidFile,
  removePidFile,
  spawnDetached,
  tailFile,
  waitFor,
  writePidFile,
  StackError,
} from './processes';
import { stackPaths } from './stack';

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
  const paths = stackPaths(config.stack);
  const pidFile = paths.pidFile('worker');
  const existing = readPidFile(pidFile);
  const ours = (pid: number): boolean =>
    isAlive(pid) && (processCommandLine(pid) ?? []).some((a) => a === 'worker');
  if (existing !== undefined && ours(existing)) {
    log(`flow worker already running (pid ${existing})`);
    return { pid: existing, started: false };
  }
  if (existing !== undefined) removePidFile(pidFile);
  const logFile = paths.logFile('worker');
  const pid = spawnDetached(process.execPath, [path.join(PROJECT_ROOT, 'cli', 'shopstream.cjs'), 'worker'], {
    logFile,
    cwd: PROJECT_ROOT,
    env,
  });
  writePidFile(pidFile, pid);
  const connection = await Connection.connect({ address: config.temporal.address });
  try {
    await waitFor(
      async () => {
        if (!isAlive(pid))
          throw new StackError('PROCESS_EXITED', `the flow worker (pid ${pid}) exited while starting`);
        return polling(connection, config, pid);
      },
      { timeoutMs: 90_000, what: `the flow worker polling task queue ${config.temporal.taskQueue}` },
    );
  } catch (err) {
    removePidFile(pidFile);
    throw new StackError(
      'PROCESS_EXITED',
      `${(err as Error).message}. Last lines of ${logFile}:\n${tailFile(logFile)}`,
      { cause: err },
    );
  } finally {
    await connection.close();
  }
  log(`flow worker running (pid ${pid}), log: ${logFile}`);
  return { pid, started: true };
}
