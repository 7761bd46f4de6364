// The pipeline's operations as the dashboard shows them: each consumer's lag on the events stream
// (messages pending + in flight) and the dead letters by reason.
import type { JetStreamManager } from 'nats';
import { Gauge, type Registry } from 'prom-client';
import { summarizeDeadLetters } from '../dlq';
import { names } from '../topology';
import type { Operations } from './routes';

export async function readOperations(jsm: JetStreamManager, prefix: string): Promise<Operations> {
  const lag: Operations['lag'] = [];
  for await (const c of jsm.consumers.list(names(prefix).eventsStream))
    lag.push({ consumer: c.name, pending: c.num_pending + c.num_ack_pending });
  lag.sort((a, b) => b.pending - a.pending || a.consumer.localeCompare(b.consumer));
  return { lag: lag.slice(0, 16), deadLetters: await summarizeDeadLetters(jsm, prefix) };
}

/**
 * Per-consumer gauges read from JetStream at each scrape: messages pending (not yet delivered) and
 * waiting for an ack, and messages redelivered, for every consumer of the events stream.
 */
export function registerConsumerMetrics(
  registry: Registry,
  jsm: () => Promise<JetStreamManager>,
  prefix: string,
): void {
  const read = async () => {
    const out: { consumer: string; pending: number; ackPending: number; redelivered: number }[] = [];
    for await (const c of (await jsm()).consumers.list(names(prefix).eventsStream))
      out.push({
        consumer: c.name,
        pending: c.num_pending,
        ackPending: c.num_ack_pending,
        redelivered: c.num_redelivered,
      });
    return out;
  };
  let last: ReturnType<typeof read> | undefined;
  // one listing per scrape, shared by the three gauges
  const once = (): ReturnType<typeof read> =>
    (last ??= read().finally(() => setTimeout(() => (last = undefined), 500)));
  const gauge = (
    name: string,
    help: string,
    pick: (c: Awaited<ReturnType<typeof read>>[number]) => number,
  ): void =>
    void new Gauge({
      name,
      help,
      labelNames: ['consumer'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        for (const c of await once()) this.set({ consumer: c.consumer }, pick(c));
      },
    });
  gauge(
    'shopstream_consumer_pending_messages',
    'Messages of the events stream a consumer has not been delivered yet',
    (c) => c.pending,
  );
  gauge(
    'shopstream_consumer_ack_pending_messages',
    'Messages delivered to a consumer and not acknowledged yet',
    (c) => c.ackPending,
  );
  gauge(
    'shopstream_consumer_redelivered_messages',
    'Messages delivered to a consumer more than once (redeliveries in flight)',
    (c) => c.redelivered,
  );
}
