// The processor contract: every part of the pipeline process (the sink, the interest processor, the
// triggers, the collector, the admin endpoint...) is a Component with one shape. The pipeline process
// is a list of them (streams/service.ts); startComponents starts them in order, stops them in reverse,
// turns a component's own failure into the process's, and gathers their health and stats for the
// admin endpoint. A new processor is one more Component in the list (ARCHITECTURE.md).
import type { NatsConnection } from 'nats';
import type { Catalog } from '../../catalog/types';
import type { ClickHouseClient } from '../../infra/clickhouse/client';
import type { Config } from '../../infra/config';
import type { Logger } from '../../infra/logger';
import type { Metrics } from '../../infra/metrics';
import type { Leases } from '../consumer/leases';
import type { HalfLives } from '../processors/interest/model';
import type { InterestProcessor } from '../processors/interest/processor';
import type { ProfileStore } from '../processors/interest/store';

export interface ComponentHealth {
  ok: boolean;
  [detail: string]: unknown;
}

/** A started component. */
export interface Running {
  /** Finishes what it has in hand, then stops. Idempotent. */
  stop(): Promise<void>;
  /** Settles when the component stops on its own, with why (never on stop()). */
  failed?: Promise<Error>;
  stats?(): unknown;
  health?(): ComponentHealth | Promise<ComponentHealth>;
}

export interface Component {
  readonly name: string;
  /** Throws (a ConfigError) when the configuration cannot run it: checked before anything starts. */
  check?(config: Config): void;
  start(ctx: PipelineContext): Promise<Running>;
}

/** Every component's configuration check, before any connection is made: fail fast, all at once. */
export function checkComponents(components: readonly Component[], config: Config): void {
  for (const c of components) c.check?.(config);
}

/** What components share: set by the component that makes it, read by those started after it. */
export interface Shared {
  clickhouse: ClickHouseClient;
  /** The read-only session analysts' SQL runs on (infra/clickhouse/readonly.ts). */
  readOnlyClickHouse: ClickHouseClient;
  catalog: Catalog;
  halfLives: HalfLives;
  profiles: ProfileStore;
  interest: InterestProcessor;
  /** Which ordered consumers this instance may consume (the leases component). */
  leases: Leases;
}

export interface PipelineContext {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly nc: NatsConnection;
  provide<K extends keyof Shared>(key: K, value: Shared[K]): void;
  /** A shared value, or undefined when no component started before this one provides it. */
  get<K extends keyof Shared>(key: K): Shared[K] | undefined;
  /** Every component's health and stats (for the admin endpoint, started last). */
  health(): Promise<ComponentHealth>;
  stats(): Record<string, unknown>;
}

export interface Pipeline {
  stop(): Promise<void>;
  /** Settles when a component fails on its own (not on stop). */
  readonly failed: Promise<Error>;
  health(): Promise<ComponentHealth>;
}

/**
 * Starts the components in order; if one fails to start, stops those already running (in reverse)
 * and throws. `stop()` stops them in reverse order, then closes `nc` last.
 */
export async function startComponents(
  components: readonly Component[],
  base: Omit<PipelineContext, 'provide' | 'get' | 'health' | 'stats'>,
): Promise<Pipeline> {
  const { logger, nc } = base;
  const shared: Partial<Shared> = {};
  const running: { name: string; r: Running }[] = [];
  let failWith: (err: Error) => void = () => undefined;
  const failed = new Promise<Error>((resolve) => (failWith = resolve));
  let stopped = false;

  const health = async (): Promise<ComponentHealth> => {
    const natsOk = !nc.isClosed();
    const checks: Record<string, boolean> = { nats: natsOk };
    const details: Record<string, unknown> = {};
    for (const { name, r } of running) {
      if (!r.health) continue;
      const h = await Promise.resolve(r.health()).catch((err: Error): ComponentHealth => ({
        ok: false,
        error: err.message,
      }));
      checks[name] = h.ok;
      details[name] = h;
    }
    return { ok: !stopped && Object.values(checks).every(Boolean), checks, ...details };
  };
  const stats = (): Record<string, unknown> =>
    Object.fromEntries(running.flatMap(({ name, r }) => (r.stats ? [[name, r.stats()]] : [])));
  const ctx: PipelineContext = {
    ...base,
    provide: (key, value) => void (shared[key] = value),
    get: (key) => shared[key],
    health,
    stats,
  };

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const { name, r } of running.reverse()) {
      try {
        await r.stop();
        logger.info({ component: name }, 'stopped');
      } catch (err) {
        logger.error({ component: name, err: (err as Error).message }, 'stop failed');
      }
    }
    await nc.drain().catch(() => undefined);
  };

  try {
    for (const c of components) {
      const r = await c.start(ctx);
      running.push({ name: c.name, r });
      void r.failed?.then((err) => {
        if (stopped) return;
        logger.error({ component: c.name, err: err.message }, 'component stopped on an error');
        failWith(err);
      });
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { stop, failed, health };
}

/** A Running from a loop that runs until stopped: its rejection is the component's failure. */
export function fromLoop(
  loop: { run(): Promise<void>; stop(): Promise<void>; stats?(): unknown },
  extra: Pick<Running, 'health'> = {},
): Running {
  let done = false;
  const failed = loop.run().then(
    () => new Promise<Error>(() => undefined), // ended by stop(): never a failure
    (err: unknown) => (done ? new Promise<Error>(() => undefined) : (err as Error)),
  );
  return {
    stop: async () => {
      done = true;
      await loop.stop();
    },
    failed,
    ...(loop.stats ? { stats: () => loop.stats!() } : {}),
    ...extra,
  };
}
