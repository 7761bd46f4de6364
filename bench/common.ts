// What the benchmarks share: the simulated shop's events, and bench-results.json (each benchmark
// writes its own keys and keeps the others').
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { NatsConnection } from 'nats';
import { planSimulation } from '../demo/simulator';
import type { Config } from '../infra/config';
import { connectNats } from '../infra/nats';
import { startTestNats } from '../infra/stack/test-nats';
import { createProducer } from '../streams/producer/producer';
import { applyTopology } from '../streams/topology-apply';

export const RESULTS_FILE = 'bench-results.json';

export interface Quantiles {
  p50: number;
  p95: number;
  p99: number;
}

export interface Spread extends Quantiles {
  max: number;
  n: number;
}

export const round1 = (v: number): number => Math.round(v * 10) / 10;

/** Nearest-rank p50, p95, p99, the max and the count of the finite values, to 0.1. */
export function spread(values: readonly number[]): Spread {
  const s = values.filter(Number.isFinite).sort((a, b) => a - b);
  const q = (p: number): number =>
    s.length === 0 ? 0 : s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return {
    p50: round1(q(0.5)),
    p95: round1(q(0.95)),
    p99: round1(q(0.99)),
    max: round1(s.at(-1) ?? 0),
    n: s.length,
  };
}

/** p50, p95, p99 of the values (spread without its max and count). */
export const quantiles = (values: readonly number[]): Quantiles => {
  const { p50, p95, p99 } = spread(values);
  return { p50, p95, p99 };
};

/** The simulator's journeys, flattened, cut to `total` events. */
export function simulatedEvents(total: number, seed: number) {
  const events = [];
  for (const u of planSimulation({ users: Math.ceil(total / 9), seed })) events.push(...u.events);
  events.length = Math.min(events.length, total);
  return events;
}

/**
 * Publishes `events` with the producer SDK as fast as it goes (1,000 acks in flight), as shop
 * `bench`; returns how long that took, ms.
 */
export async function publishAll(
  config: Config,
  nc: NatsConnection,
  events: ReturnType<typeof simulatedEvents>,
): Promise<number> {
  const producer = await createProducer({
    nats: config.nats,
    shopId: 'bench',
    connection: nc,
    maxInFlight: 1000,
  });
  const t0 = performance.now();
  await Promise.all(events.map((e) => producer.track(e.type, e.input as never)));
  const ms = performance.now() - t0;
  await producer.close();
  return ms;
}

/** Merges `results` into bench-results.json. */
export function writeResults(results: Record<string, unknown>): void {
  const before = existsSync(RESULTS_FILE)
    ? (JSON.parse(readFileSync(RESULTS_FILE, 'utf8')) as Record<string, unknown>)
    : {};
  writeFileSync(RESULTS_FILE, `${JSON.stringify({ ...before, ...results }, null, 2)}\n`);
}

/**
 * Runs `run` against a throwaway nats-server (extra server configuration in `natsConfig`) with the
 * pipeline's topology applied for the configuration `config` makes of its URL; stops it after.
 */
export async function onThrowawayNats<T>(
  opts: { name: string; natsConfig?: string; config: (natsUrl: string) => Config },
  run: (ctx: { config: Config; nc: NatsConnection }) => Promise<T>,
): Promise<T> {
  const nats = await startTestNats(opts.natsConfig === undefined ? {} : { config: opts.natsConfig });
  try {
    const config = opts.config(nats.url);
    const nc = await connectNats(config.nats, opts.name, { noAsyncTraces: true });
    try {
      await applyTopology(await nc.jetstreamManager(), config);
      return await run({ config, nc });
    } finally {
      await nc.drain();
    }
  } finally {
    await nats.stop();
  }
}

/**
 * What shoppers ask at a promotion's peak, both languages, not the model's training data; none of it
 * hands off (checked against the shipped model): bench/chat.ts and bench/conversations.ts.
 */
export const SHOPPER_QUESTIONS = [
  '我的快递到哪了',
  '什么时候发货啊',
  '这个可以七天无理由退货吗',
  '退款多久到账',
  '175cm 70kg 穿什么码',
  '有没有优惠券',
  '满减怎么用',
  '可以开发票吗',
  '怎么改收货地址',
  '在吗',
  'where is my order',
  'how long does shipping take',
  'can i return this if it does not fit',
  'which size should i get, i am 180cm',
  'do you have any discount codes',
  'recommend a coffee machine under $200',
  'is this jacket waterproof',
  'hi there',
];
