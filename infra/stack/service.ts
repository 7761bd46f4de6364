// Starts the pipeline service (`shopstream serve`) in the background for the demo and `serve
// --detach`; ready when its admin endpoint answers /healthz.
import type { Config } from '../config';
import { ensureBackground } from './background';

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
export function ensureServiceRunning(
  config: Config,
  log: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ pid: number; started: boolean }> {
  return ensureBackground(
    config,
    {
      name: 'service',
      label: 'pipeline service',
      args: ['serve'],
      running: () => healthy(config),
      ready: () => healthy(config),
      what: `the pipeline service on ${config.admin.host}:${config.admin.port}`,
      timeoutMs: 60_000,
    },
    log,
    env,
  );
}
