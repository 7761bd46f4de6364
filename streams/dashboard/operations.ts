// The pipeline's operations as the dashboard shows them: each consumer's lag on the events stream
// (messages pending + in flight) and the dead letters by reason.
import type { JetStreamManager } from 'nats';
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
