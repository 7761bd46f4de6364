// Starts the pipeline service (`shopstream serve`) in the background for the demo and `serve
// --detach`, with its pid file beside the stack's so `make down` stops it too.
import * as path from 'node:path';
import { PROJECT_ROOT, type Config } from '../config';
import {
  isAlive,
  readPidFile,
  removePidFile,
  spawnDetached,
  tailFile,
  waitFor,
  writePidFile,
  StackError,
} from './processes';
import { stackPaths } from './stack';

async function healthy(config: Config): Promise<boolean> {
  try {
    const res = await fetch(`http://${config.admin.host}:${config.admin.port}/healthz`, {
      signal: AbortSignal.timeout(1000),
    });
    await res.text();
    return res.ok;
  } catch {
    return false;
  }
}

/** Returns the pid of the running service, starting it if needed. */
export async function ensureServiceRunning(
  config: Config,
  log: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ pid: number; started: boolean }> {
  const paths = stackPaths(config.stack);
  const pidFile = paths.pidFile('service');
  const existing = readPidFile(pidFile);
  if (existing !== undefined && isAlive(existing) && (await healthy(config))) {
    log(`pipeline service already running (pid ${existing})`);
    return { pid: existing, started: false };
  }
  if (existing !== undefined) removePidFile(pidFile);
  const logFile = paths.logFile('service');
  const pid = spawnDetached(process.execPath, [path.join(PROJECT_ROOT, 'cli', 'shopstream.cjs'), 'serve'], {
    logFile,
    cwd: PROJECT_ROOT,
    env,
  });
  writePidFile(pidFile, pid);
  try {
    await waitFor(
      async () => {
        if (!isAlive(pid))
          throw new StackError('PROCESS_EXITED', `the pipeline service (pid ${pid}) exited while starting`);
        return healthy(config);
      },
      { timeoutMs: 60_000, what: `the pipeline service on ${config.admin.host}:${config.admin.port}` },
    );
  } catch (err) {
    removePidFile(pidFile);
    throw new StackError(
      'PROCESS_EXITED',
      `${(err as Error).message}. Last lines of ${logFile}:\n${tailFile(logFile)}`,
      { cause: err },
    );
  }
  log(`pipeline service running (pid ${pid}), log: ${logFile}`);
  return { pid, started: true };
}
