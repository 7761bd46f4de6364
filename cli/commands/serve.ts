import type { Config } from '../../infra/config';
import { createLogger } from '../../infra/logger';
import { applyNice } from '../../infra/priority';
import { ensureServiceRunning } from '../../infra/stack/service';
import { SERVICE_PARTS, startService, type ServicePart } from '../../streams/service';
import { UsageError } from '../run';

/** `--only sink,interest`: the parts named (each once, all known); undefined without the option. */
export function parseParts(only: unknown): Set<ServicePart> | undefined {
  if (only === undefined) return undefined;
  if (typeof only !== 'string') throw new UsageError('--only takes a list of parts');
  const named = only
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  const unknown = named.filter((p) => !(SERVICE_PARTS as readonly string[]).includes(p));
  if (unknown.length > 0 || named.length === 0)
    throw new UsageError(
      `--only takes parts separated by commas, from ${SERVICE_PARTS.join(', ')}${unknown.length > 0 ? `; unknown: ${unknown.slice(0, 5).join(', ')}` : ''}`,
    );
  return new Set(named as ServicePart[]);
}

/** Runs until SIGTERM / SIGINT, then drains in order. */
export async function serve(config: Config, opts: Record<string, unknown>): Promise<number> {
  const only = parseParts(opts['only']);
  // a part runs when --only names it (or there is no --only) and no --no-<part> turns it off
  const runs = (part: ServicePart, flag = true): boolean => flag && (only ? only.has(part) : true);
  if (opts['detach']) {
    if (only) throw new UsageError('--only runs in the foreground: start each part as its own process');
    await ensureServiceRunning(config, (line) => console.log(line));
    return 0;
  }
  const logger = createLogger(config.log.level, 'service');
  applyNice(config.process.nice, logger);
  const service = await startService({
    config,
    logger,
    sink: runs('sink', opts['sink'] !== false),
    collector: runs('collector', opts['collector'] !== false),
    bot: runs('bot', opts['bot'] !== false),
    interest: runs('interest'),
    triggers: runs('triggers'),
    orders: runs('orders'),
    recommend: runs('recommend'),
    topology: opts['topology'] === 'check' ? 'check' : 'apply',
  });
  logger.info({ pid: process.pid, parts: only ? [...only] : 'all' }, 'service ready');
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
