// Starts the Temporal workers in the background for the demo, with their pid files beside the stack's
// so `make down` stops them too: the flow worker (`shopstream worker --queues flows`) and the chat
// escalations' worker (`--queues chat`), a process of its own so the marketing flows' load never
// delays an escalation. Each is ready when it polls its task queue.
import * as os from 'node:os';
import { Connection } from '@temporalio/client';
import type { Config } from '../config';
import { ensureBackground } from './background';
import { processCommandLine } from './processes';

/** Whether a worker with this pid (default identity pid@host) polls the workflow task queue. */
async function polling(
  connection: Connection,
  config: Config,
  taskQueue: string,
  pid: number,
): Promise<boolean> {
  const res = await connection.workflowService.describeTaskQueue({
    namespace: config.temporal.namespace,
    taskQueue: { name: taskQueue },
    taskQueueType: 1, // TASK_QUEUE_TYPE_WORKFLOW
  });
  return (res.pollers ?? []).some((p) => p.identity === `${pid}@${os.hostname()}`);
}

/** `shopstream worker --queues <queues>` among a process's arguments. */
const runsQueues = (pid: number, queues: string): boolean => {
  const argv = processCommandLine(pid) ?? [];
  const i = argv.indexOf('--queues');
  return argv.includes('worker') && i >= 0 && argv[i + 1] === queues;
};

export interface RunningWorkers {
  flows: { pid: number; started: boolean };
  chat: { pid: number; started: boolean };
}

/** Returns the pids of the running workers, starting those that are not. */
export async function ensureWorkersRunning(
  config: Config,
  log: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunningWorkers> {
  const connection = await Connection.connect({ address: config.temporal.address });
  const { taskQueue, chatTaskQueue } = config.temporal;
  try {
    const [flows, chat] = await Promise.all([
      ensureBackground(
        config,
        {
          name: 'worker',
          label: 'flow worker',
          args: ['worker', '--queues', 'flows'],
          running: (pid) => Promise.resolve(runsQueues(pid, 'flows')),
          ready: (pid) => polling(connection, config, taskQueue, pid),
          what: `the flow worker polling task queue ${taskQueue}`,
          timeoutMs: 90_000,
        },
        log,
        env,
      ),
      ensureBackground(
        config,
        {
          name: 'chat-worker',
          label: 'chat worker',
          args: ['worker', '--queues', 'chat'],
          running: (pid) => Promise.resolve(runsQueues(pid, 'chat')),
          ready: (pid) => polling(connection, config, chatTaskQueue, pid),
          what: `the chat worker polling task queue ${chatTaskQueue}`,
          timeoutMs: 90_000,
        },
        log,
        env,
      ),
    ]);
    return { flows, chat };
  } finally {
    await connection.close();
  }
}
