// PROCESS_NICE (config.process.nice): the CPU priority a process gives itself at start, so on a shared
// machine the bulk parts yield the CPU to the latency-sensitive ones (docs/scaling.md).
import { getPriority, setPriority } from 'node:os';
import type { Logger } from './logger';

/**
 * Lowers this process's CPU priority to `nice` (never raises it: an unprivileged process cannot).
 * Returns the niceness in effect; a refusal is logged and the process goes on as it was.
 */
export function applyNice(nice: number, logger: Logger): number {
  const current = getPriority();
  if (nice <= current) return current;
  try {
    setPriority(nice);
    logger.info({ nice }, 'CPU priority lowered (PROCESS_NICE)');
    return nice;
  } catch (err) {
    logger.warn(
      { nice, err: (err as Error).message },
      'PROCESS_NICE could not be applied; running as started',
    );
    return current;
  }
}
