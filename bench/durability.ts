// What JetStream's durability mode costs: the producer SDK publishing simulated shop events into the
// pipeline's own streams (file storage, the topology of streams/topology.ts), acks in flight and
// message ids as the pipeline sends them, on a throwaway nats-server run twice: with the default
// `sync_interval` (nats-server fsyncs its files every 2 minutes; a message is acked once written to
// the OS, so a power loss can cost what was acked in the last interval) and with
// `sync_interval: always` (fsync before every ack: an acked message survives a power loss).
//   EVENTS=30000 npx tsx bench/durability.ts      (make bench-durability)
// Writes jetstream_publish_per_s {default_sync, sync_always} into bench-results.json.
import { cpus } from 'node:os';
import { testConfig } from '../infra/stack/test-config';
import { onThrowawayNats, publishAll, simulatedEvents, writeResults } from './common';

async function publishRate(syncAlways: boolean, total: number): Promise<number> {
  return onThrowawayNats(
    {
      name: 'bench-durability',
      ...(syncAlways ? { natsConfig: 'jetstream { sync_interval: always }\n' } : {}),
      config: (url) => testConfig(url),
    },
    async ({ config, nc }) => {
      const events = simulatedEvents(total, 5);
      const seconds = (await publishAll(config, nc, events)) / 1000;
      return Math.round(events.length / seconds);
    },
  );
}

async function main(): Promise<void> {
  const total = Number(process.env['EVENTS'] ?? 30_000);
  const defaultSync = await publishRate(false, total);
  const syncAlways = await publishRate(true, total);
  const results = {
    jetstream_publish_per_s: { default_sync: defaultSync, sync_always: syncAlways },
    durability: {
      events: total,
      sync_always_cost: `${Math.round(100 * (1 - syncAlways / defaultSync))}% fewer events/s`,
      machine: `${cpus().length} cores, node ${process.version}`,
    },
  };
  console.log(JSON.stringify(results, null, 2));
  writeResults(results);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
