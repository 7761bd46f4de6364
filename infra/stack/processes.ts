// Small process and port helpers for the local stack: free ports, polling, detached children, pid files.
// POSIX only (signals, /proc or ps).
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { canConnect } from '../net';
import * as path from 'node:path';
import { sleep } from '../sleep';

export type StackErrorCode =
  'WAIT_TIMEOUT' | 'SPAWN_FAILED' | 'PROCESS_EXITED' | 'STOP_FAILED' | 'PORT_IN_USE';

export class StackError extends Error {
  override readonly name = 'StackError';
  constructor(
    readonly code: StackErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** True if nothing listens on host:port (we could bind it ourselves). Errors other than EADDRINUSE are thrown. */
export function isPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') resolve(false);
      else reject(err);
    });
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A port that was free a moment ago (the OS picks it); another process may still take it before you do. */
export function getFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() =>
        port > 0 ? resolve(port) : reject(new Error('could not read the port the OS assigned')),
      );
    });
  });
}

/** True if a TCP connection to host:port succeeds within timeoutMs. */
export { canConnect };

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** What we are waiting for, for the error message: "NATS on 127.0.0.1:4222". */
  what: string;
}

/**
 * Polls check() until it returns true. A check that throws stops the wait with that error (use it for
 * "the process died"); return false for "not yet". Throws StackError WAIT_TIMEOUT naming `what`.
 */
export async function waitFor(
  check: () => Promise<boolean>,
  { timeoutMs, intervalMs = 250, what }: WaitOptions,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() >= deadline)
      throw new StackError('WAIT_TIMEOUT', `timed out after ${timeoutMs}ms waiting for ${what}`);
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}

export interface SpawnOptions {
  /** stdout and stderr are appended here. */
  logFile: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/** Starts cmd in its own process group with output to logFile, not tied to this process. Returns its pid. */
export function spawnDetached(cmd: string, args: string[], { logFile, cwd, env }: SpawnOptions): number {
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const fd = fs.openSync(logFile, 'a');
  try {
    const child = spawn(cmd, args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      cwd,
      env: env ?? process.env,
    });
    // Spawn failures (ENOENT, EACCES) are also emitted asynchronously; pid is undefined in that case.
    child.once('error', () => undefined);
    if (child.pid === undefined)
      throw new StackError('SPAWN_FAILED', `could not start ${cmd}: is it installed and executable?`);
    child.unref();
    return child.pid;
  } finally {
    fs.closeSync(fd);
  }
}

/** True while the process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // "pid (comm) S ..." where S is the state; comm may contain spaces or parentheses.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc (macOS): kill(0) is the best we have
  }
}

/** The argv of a running process, or undefined if it is gone or unreadable. */
export function processCommandLine(pid: number): string[] | undefined {
  try {
    const raw = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').filter((s) => s.length > 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || fs.existsSync('/proc/self')) return undefined;
  }
  try {
    // Without /proc: ps gives one string, split on spaces (good enough for the name checks we do).
    const out = execFileSync('ps', ['-o', 'command=', '-p', String(pid)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return out.trim().split(/\s+/).filter(Boolean);
  } catch {
    return undefined;
  }
}

export type StopResult = 'not-running' | 'terminated' | 'killed';

/** SIGTERM, then SIGKILL after timeoutMs; resolves once the process is gone. */
export async function stopPid(
  pid: number,
  { timeoutMs = 10_000 }: { timeoutMs?: number } = {},
): Promise<StopResult> {
  if (!isAlive(pid)) return 'not-running';
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  };
  const gone = () => Promise.resolve(!isAlive(pid));
  signal('SIGTERM');
  try {
    await waitFor(gone, { timeoutMs, intervalMs: 100, what: `pid ${pid} to exit after SIGTERM` });
    return 'terminated';
  } catch (err) {
    if (!(err instanceof StackError) || err.code !== 'WAIT_TIMEOUT') throw err;
  }
  signal('SIGKILL');
  try {
    await waitFor(gone, { timeoutMs: 5000, intervalMs: 100, what: `pid ${pid} to exit after SIGKILL` });
  } catch (err) {
    throw new StackError('STOP_FAILED', `pid ${pid} is still running after SIGTERM and SIGKILL`, {
      cause: err,
    });
  }
  return 'killed';
}

export function writePidFile(file: string, pid: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${pid}\n`);
}

/** The pid in the file, or undefined if there is no file or it does not hold a pid. */
export function readPidFile(file: string): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
  return /^\d+$/.test(text) && Number(text) > 0 ? Number(text) : undefined;
}

export function removePidFile(file: string): void {
  fs.rmSync(file, { force: true });
}

/** The last `lines` lines of a (log) file, or '' if it cannot be read. */
export function tailFile(file: string, lines = 20): string {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const length = Math.min(size, 16_384);
      const buf = Buffer.alloc(length);
      fs.readSync(fd, buf, 0, length, size - length);
      return buf.toString('utf8').split('\n').filter(Boolean).slice(-lines).join('\n');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}
