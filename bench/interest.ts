// Interest processor benchmark: events/s applied and stored (KV compare-and-set, coalesced per user
// per batch), on a throwaway nats-server. `npx tsx bench/interest.ts` (EVENTS=50000 by default;
// USERS=25000 deals that many users' events round-robin: about one event per user per batch).
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { loadCatalog } from '../catalog';
import { planSimulation } from '../demo/simulator';
import { createLogger } from '../infra/logger';
import { connectNats } from '../infra/nats';
import { createInterestProcessor } from '../streams/processors/interest/processor';
import { createProducer } from '../streams/producer/producer';
import { applyTopology } from '../streams/topology-apply';
import { startTestNats } from '../infra/stack/test-nats';
import { testConfig } from '../infra/stack/test-config';

async function main(): Promise<void> {
  const target = Number(process.env['EVENTS'] ?? 50_000);
  const nats = await startTestNats();
  const config = testConfig(nats.url, {
    NATS_PARTITIONS: '16',
    INTEREST_BATCH_SIZE: process.env['INTEREST_BATCH_SIZE'] ?? '500',
  });
  const nc = await connectNats(config.nats, 'bench-interest', { noAsyncTraces: true });
  try {
    await applyTopology(await nc.jetstreamManager(), config);
    // USERS: that many users, their events dealt round-robin (each user's in order), so a batch holds
    // about one event per user, as at a peak with many shoppers; default: whole journeys one after another
    const spread = process.env['USERS'] !== undefined;
    const plans = planSimulation({
      users: spread ? Number(process.env['USERS']) : Math.ceil(target / 9),
      seed: 3,
    });
    const dealt = spread
      ? Array.from({ length: Math.max(...plans.map((u) => u.events.length)) }, (_, i) =>
          plans.flatMap((u) => (u.events[i] ? [u.events[i]] : [])),
        ).flat()
      : plans.flatMap((u) => u.events);
    const events = dealt.slice(0, target);
    const producer = await createProducer({
      nats: config.nats,
      shopId: 'bench',
      connection: nc,
      maxInFlight: 1000,
    });
    await Promise.all(events.map((e) => producer.track(e.type, e.input as never)));
    await producer.close();

    const processor = await createInterestProcessor({
      nc,
      config,
      catalog: loadCatalog(),
      logger: createLogger('silent', 'bench'),
    });
    const t0 = performance.now();
    const run = processor.run();
    while (processor.stats().applied < events.length) await new Promise((r) => setTimeout(r, 20));
    const ms = performance.now() - t0;
    await processor.stop();
    await run;
    const s = processor.stats();
    const results = {
      events: events.length,
      users: new Set(events.map((e) => e.input.userId)).size,
      applied_events_per_s: Math.round(events.length / (ms / 1000)),
      kv_writes: s.writes,
      events_per_write: Number((events.length / s.writes).toFixed(2)),
      batch_size: config.interest.batchSize,
      machine: `${cpus().length} cores, node ${process.version}`,
    };
    console.table(results);
    writeFileSync('bench-interest.json', `${JSON.stringify(results, null, 2)}\n`);
  } finally {
    await nc.drain();
    await nats.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
