// Starts the Temporal workers in the background for the demo, with their pid files beside the stack's
// so `make down` stops them too: the flow worker (`shopstream worker --queues flows`) and the chat
// escalations' worker (`--queues chat`), a process of its own so the marketing flows' load never
// delays an escalation. Each is ready when it polls its task queue.
import * as os from 'node:os';
import { Connection } from '@temporalio/client';
import type { Config } from '../config';
import { ensureBackground } from './background';
import { workerQueues } from './stack';
import { processCommandLine } from './processes';

/** Whether a worker with this pid (default identity pid@host) polls the workflow task queue. */
export async function polling(
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

const queuesOf = (pid: number): string | undefined => workerQueues(processCommandLine(pid) ?? []);

export interface RunningWorkers {
  flows: { pid: number; started: boolean };
  /** Absent when the chat task queue is the flows' (one worker polls it). */
  chat?: { pid: number; started: boolean };
}

/** Returns the pids of the running workers, starting those that are not. */
export async function ensureWorkersRunning(
  config: Config,
  log: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunningWorkers> {
  const connection = await Connection.connect({ address: config.temporal.address });
  const { taskQueue, chatTaskQueue } = config.temporal;
  // one queue for both: one worker (two would split the in-memory agent desk between them)
  const apart = chatTaskQueue !== taskQueue;
  const start = (name: 'worker' | 'chat-worker', queues: string, queue: string) =>
    ensureBackground(
      config,
      {
        name,
        label: name === 'worker' ? 'flow worker' : 'chat worker',
        args: ['worker', '--queues', queues],
        running: (pid) => Promise.resolve(queuesOf(pid) === queues),
        outdated: (pid) => queuesOf(pid) !== undefined,
        ready: (pid) => polling(connection, config, queue, pid),
        what: `the ${name === 'worker' ? 'flow' : 'chat'} worker polling task queue ${queue}`,
        timeoutMs: 90_000,
      },
      log,
      env,
    );
  try {
    // both started before either failure is reported: the connection stays open until both are settled
    const [flows, chat] = await Promise.allSettled([
      start('worker', apart ? 'flows' : 'all', taskQueue),
      apart ? start('chat-worker', 'chat', chatTaskQueue) : undefined,
    ]);
    if (flows.status === 'rejected') throw flows.reason;
    if (chat.status === 'rejected') throw chat.reason;
    return { flows: flows.value, ...(chat.value ? { chat: chat.value } : {}) };
  } finally {
    await connection.close();
  }
}
