import type { Config } from '../../infra/config';
import { createLogger } from '../../infra/logger';
import { ensureServiceRunning } from '../../infra/stack/service';
import { startService } from '../../streams/service';

/** Runs until SIGTERM / SIGINT, then drains in order. */
export async function serve(config: Config, opts: Record<string, unknown>): Promise<number> {
  if (opts['detach']) {
    await ensureServiceRunning(config, (line) => console.log(line));
    return 0;
  }
  const logger = createLogger(config.log.level, 'service');
  const service = await startService({
    config,
    logger,
    sink: opts['sink'] !== false,
    collector: opts['collector'] !== false,
    bot: opts['bot'] !== false,
    topology: opts['topology'] === 'check' ? 'check' : 'apply',
  });
  logger.info({ pid: process.pid }, 'service ready');
  const signal = await Promise.race([
    new Promise<string>((resolve) => {
      process.once('SIGTERM', () => resolve('SIGTERM'));
      process.once('SIGINT', () => resolve('SIGINT'));
    }),
    service.failed.then((err) => `failure: ${err.message}`),
  ]);
  logger.info({ reason: signal }, 'stopping');
  await service.stop();
  return signal.startsWith('failure') ? 1 : 0;
}
