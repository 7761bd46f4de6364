import { randomBytes } from 'node:crypto';
import { SingleBar, Presets } from 'cli-progress';
import type { Config } from '../../infra/config';
import { runSimulation, type SimulationResult } from '../../demo/simulator';
import { connectNats } from '../../infra/nats';
import { createProducer } from '../../streams/producer/producer';
import { eventSubject } from '../../streams/topology';

export interface SimulateRun extends SimulationResult {
  producerId: string;
  garbage: number;
}

/** Runs the simulator through the producer SDK with a progress bar; used by `simulate` and `demo`. */
export async function runSimulatorWithProgress(
  config: Config,
  opts: { users: number; seed: number; garbage: number; cartTag?: string },
): Promise<SimulateRun> {
  const producerId = `sim-${Date.now().toString(36)}-${randomBytes(2).toString('hex')}`;
  const nc = await connectNats(config.nats, `shopstream-simulator ${producerId}`, { noAsyncTraces: true });
  const producer = await createProducer({
    nats: config.nats,
    shopId: 'demo-shop',
    producerId,
    connection: nc,
    maxInFlight: 1000,
  });
  const bar = new SingleBar(
    {
      format: '  simulating |{bar}| {value}/{total} events  {rate}/s  users {users}',
      hideCursor: true,
      noTTYOutput: true,
      notTTYSchedule: 2000,
    },
    Presets.shades_classic,
  );
  const started = Date.now();
  let barStarted = false;
  try {
    const result = await runSimulation(producer, {
      users: opts.users,
      seed: opts.seed,
      ...(opts.cartTag ? { cartTag: opts.cartTag } : {}),
      onProgress: ({ sent, planned, usersDone }) => {
        const rate = Math.round(sent / Math.max(0.001, (Date.now() - started) / 1000));
        if (!barStarted) {
          bar.start(planned, sent, { rate, users: `${usersDone}/${opts.users}` });
          barStarted = true;
        } else bar.update(sent, { rate, users: `${usersDone}/${opts.users}` });
      },
    });
    if (barStarted) bar.stop();
    // Undecodable bytes on an events subject, to show that they are kept as dead letters.
    const js = nc.jetstream();
    for (let i = 0; i < opts.garbage; i++) {
      await js.publish(
        eventSubject(config.nats.prefix, i % config.nats.partitions, 'product_viewed'),
        randomBytes(24 + i),
      );
    }
    await producer.close();
    return { ...result, producerId, garbage: opts.garbage };
  } finally {
    if (barStarted) bar.stop();
    await nc.drain();
  }
}

export async function simulate(config: Config, opts: Record<string, unknown>): Promise<number> {
  const r = await runSimulatorWithProgress(config, {
    users: Number(opts['users']),
    seed: Number(opts['seed']),
    garbage: Number(opts['garbage'] ?? 0),
  });
  console.log(
    `sent ${r.sent} events from ${r.users} users in ${(r.durationMs / 1000).toFixed(1)} s (${Math.round(r.sent / (r.durationMs / 1000))}/s); producer ${r.producerId}`,
  );
  if (r.failed) console.log(`failed: ${r.failed}`);
  return r.failed > 0 ? 1 : 0;
}
