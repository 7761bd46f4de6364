// What the chaos scenarios that run flows share: the environment of a service and its workers (a
// throwaway Temporal, the demo's short timing, every message channel pointed at the relay), the
// marketing flows' visibility query, and waiting for a worker process to poll its task queue.
import type { Connection } from '@temporalio/client';
import type { ChildProcess } from 'node:child_process';
import { sleep } from '../infra/sleep';
import { polling } from '../infra/stack/worker';
import { DEMO_TIMING } from '../demo/timing';
import type { Relay } from './relay';
import { running, type Instance } from './service';

/** The marketing flows (an escalation waits for its conversation to close). */
export const FLOWS = 'WorkflowType != "escalationWorkflow"';
export const FLOWS_RUNNING = `ExecutionStatus = "Running" AND ${FLOWS}`;

/** Flows on: Temporal at `address`, the demo's timing, every channel to the relay. */
export function flowEnv(address: string, relay: Relay): Record<string, string> {
  const channels = ['EMAIL', 'SMS', 'APP_PUSH', 'WECHAT', 'WEBHOOK'].map((c): [string, string] => [
    `CHANNEL_${c}`,
    relay.url,
  ]);
  return {
    ...DEMO_TIMING,
    TEMPORAL_ADDRESS: address,
    ...Object.fromEntries(channels),
    CHANNEL_SECRET: relay.secret,
  };
}

/** Whether the worker process polls `queue` within `ms` (false at once if it exited). */
export async function pollsWithin(
  connection: Connection,
  i: Instance,
  child: ChildProcess | undefined,
  queue: string,
  ms: number,
): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!running(child)) return false;
    const ok = await polling(connection, i.config, queue, child.pid!).catch(() => false);
    if (ok) return true;
    await sleep(200);
  }
  return false;
}
