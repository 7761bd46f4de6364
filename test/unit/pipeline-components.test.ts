import type { NatsConnection } from 'nats';
import pino from 'pino';
import { loadConfig } from '../../infra/config';
import { createMetrics } from '../../infra/metrics';
import { fromLoop, startComponents, type Component, type Running } from '../../streams/pipeline/component';
import { parseParts } from '../../cli/commands/serve';
import { components } from '../../streams/service';

const nc = { isClosed: () => false, drain: () => Promise.resolve() } as unknown as NatsConnection;
const base = () => ({
  config: loadConfig({}),
  logger: pino({ level: 'silent' }),
  metrics: createMetrics({ defaults: false }),
  nc,
});

function fake(name: string, log: string[], extra: Partial<Running> = {}, fail?: Error): Component {
  return {
    name,
    start: () => {
      log.push(`start ${name}`);
      if (fail) return Promise.reject(fail);
      return Promise.resolve({ stop: () => Promise.resolve(void log.push(`stop ${name}`)), ...extra });
    },
  };
}

describe('the pipeline components', () => {
  it('start in order, stop in reverse, and report health and stats by name', async () => {
    const log: string[] = [];
    const p = await startComponents(
      [
        fake('a', log, { stats: () => ({ n: 1 }), health: () => ({ ok: true, lag: 0 }) }),
        fake('b', log, { health: () => Promise.resolve({ ok: false, problem: 'stalled' }) }),
      ],
      base(),
    );
    expect(await p.health()).toEqual({
      ok: false,
      checks: { nats: true, a: true, b: false },
      a: { ok: true, lag: 0 },
      b: { ok: false, problem: 'stalled' },
    });
    await p.stop();
    await p.stop(); // idempotent
    expect(log).toEqual(['start a', 'start b', 'stop b', 'stop a']);
  });

  it('a component that fails to start stops the ones already running, and the error is thrown', async () => {
    const log: string[] = [];
    await expect(
      startComponents([fake('a', log), fake('b', log, {}, new Error('no')), fake('c', log)], base()),
    ).rejects.toThrow('no');
    expect(log).toEqual(['start a', 'start b', 'stop a']);
  });

  it("a loop's own failure is the pipeline's; a loop ended by stop() is not", async () => {
    let fail: (e: Error) => void = () => undefined;
    const failing = {
      run: () => new Promise<void>((_, reject) => (fail = reject)),
      stop: () => Promise.resolve(),
    };
    const p = await startComponents(
      [{ name: 'loop', start: () => Promise.resolve(fromLoop(failing)) }],
      base(),
    );
    fail(new Error('boom'));
    await expect(p.failed).resolves.toThrow('boom');
    let end: () => void = () => undefined;
    const quiet = {
      run: () => new Promise<void>((resolve) => (end = resolve)),
      stop: () => Promise.resolve(end()),
    };
    const q = await startComponents(
      [{ name: 'loop', start: () => Promise.resolve(fromLoop(quiet)) }],
      base(),
    );
    await q.stop();
    const settled = await Promise.race([
      q.failed.then(() => 'failed'),
      new Promise((r) => setTimeout(() => r('no'), 50)),
    ]);
    expect(settled).toBe('no');
  });

  it('the options choose the components, the admin endpoint last (then the analyst endpoint on its session)', () => {
    const names = (o: Parameters<typeof components>[0]) => components(o).map((c) => c.name);
    expect(names({})).toEqual([
      'leases',
      'max-deliveries',
      'clickhouse',
      'sink',
      'profiles',
      'interest',
      'snapshots',
      'rules',
      'triggers',
      'recommend',
      'orders',
      'bot',
      'collector',
      'admin',
      'analyst-sql',
    ]);
    const none = {
      sink: false,
      interest: false,
      recommend: false,
      triggers: false,
      orders: false,
      bot: false,
      collector: false,
    };
    expect(names(none)).toEqual(['leases', 'max-deliveries', 'admin']);
    expect(names({ triggers: false, sink: false })).toEqual([
      'leases',
      'max-deliveries',
      'profiles',
      'interest',
      'recommend',
      'orders',
      'bot',
      'collector',
      'admin',
    ]);
    // the conversations apart from the clickstream: the bot and the triggers without the interest
    // processor, the catalog and profile store still before them
    expect(names({ ...none, bot: true, triggers: true, orders: true, recommend: true })).toEqual([
      'leases',
      'max-deliveries',
      'profiles',
      'triggers',
      'recommend',
      'orders',
      'bot',
      'admin',
    ]);
    expect(names({ ...none, sink: true, interest: true })).toEqual([
      'leases',
      'max-deliveries',
      'clickhouse',
      'sink',
      'profiles',
      'interest',
      'snapshots',
      'rules',
      'admin',
      'analyst-sql',
    ]);
  });
});

describe('serve --only', () => {
  it('takes known parts separated by commas, and refuses anything else with the list', () => {
    expect([...parseParts('bot, triggers,orders')!]).toEqual(['bot', 'triggers', 'orders']);
    expect(parseParts(undefined)).toBeUndefined();
    expect(() => parseParts('bot,sinks')).toThrow(/unknown: sinks/);
    expect(() => parseParts('bot,sinks')).toThrow(
      /sink, interest, recommend, triggers, orders, bot, collector/,
    );
    expect(() => parseParts(' , ')).toThrow(/--only takes parts/);
    expect(() => parseParts('__proto__')).toThrow(/unknown: __proto__/);
  });
});
