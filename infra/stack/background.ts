// Starts one of our own commands (`shopstream serve`, `shopstream worker`) in the background, with a
// pid file beside the stack's so `make down` stops it too, and waits until it is ready.
import * as path from 'node:path';
import { PROJECT_ROOT, type Config } from '../config';
import {
  isAlive,
  readPidFile,
  removePidFile,
  spawnDetached,
  stopPid,
  tailFile,
  waitFor,
  writePidFile,
  StackError,
} from './processes';
import { stackPaths, type ComponentName } from './stack';

export interface BackgroundCommand {
  name: Extract<ComponentName, 'service' | 'worker' | 'chat-worker'>;
  /** For messages: "pipeline service", "flow worker". */
  label: string;
  /** Arguments of `shopstream`. */
  args: string[];
  /** Whether an already running pid is ours and ready (the pid file may be stale). */
  running(pid: number): Promise<boolean>;
  /**
   * Whether an alive pid from the pid file is this command started with other arguments (by an older
   * version): it is stopped before the new one starts, so two never run side by side.
   */
  outdated?(pid: number): boolean;
  /** Whether the freshly started process is ready; polled until the timeout. */
  ready(pid: number): Promise<boolean>;
  what: string;
  timeoutMs: number;
}

export async function ensureBackground(
  config: Config,
  cmd: BackgroundCommand,
  log: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ pid: number; started: boolean }> {
  const paths = stackPaths(config.stack);
  const pidFile = paths.pidFile(cmd.name);
  const existing = readPidFile(pidFile);
  if (existing !== undefined && isAlive(existing) && (await cmd.running(existing))) {
    log(`${cmd.label} already running (pid ${existing})`);
    return { pid: existing, started: false };
  }
  if (existing !== undefined && isAlive(existing) && cmd.outdated?.(existing)) {
    log(`stopping the ${cmd.label} started with other arguments (pid ${existing})`);
    await stopPid(existing);
  }
  if (existing !== undefined) removePidFile(pidFile);
  const logFile = paths.logFile(cmd.name);
  const pid = spawnDetached(
    process.execPath,
    [path.join(PROJECT_ROOT, 'cli', 'shopstream.cjs'), ...cmd.args],
    {
      logFile,
      cwd: PROJECT_ROOT,
      env,
    },
  );
  writePidFile(pidFile, pid);
  try {
    await waitFor(
      async () => {
        if (!isAlive(pid))
          throw new StackError('PROCESS_EXITED', `the ${cmd.label} (pid ${pid}) exited while starting`);
        return cmd.ready(pid);
      },
      { timeoutMs: cmd.timeoutMs, what: cmd.what },
    );
  } catch (err) {
    // not ready in time (or the readiness check failed): stop it, so nothing runs without a pid file
    if (isAlive(pid)) await stopPid(pid);
    removePidFile(pidFile);
    throw new StackError(
      'PROCESS_EXITED',
      `${(err as Error).message}. Last lines of ${logFile}:\n${tailFile(logFile)}`,
      {
        cause: err,
      },
    );
  }
  log(`${cmd.label} running (pid ${pid}), log: ${logFile}`);
  return { pid, started: true };
}
