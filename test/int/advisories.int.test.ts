// Bounded redelivery with nothing lost (issue 8): a message a consumer never acks is given up after
// max_deliver deliveries, and the max-deliveries catcher puts it in the dead-letter stream, once.
import { AckPolicy, DeliverPolicy, type NatsConnection } from 'nats';
import type { Config } from '../../infra/config';
import { createLogger } from '../../infra/logger';
import { encodeEnvelope } from '../../schemas/codec';
import { startMaxDeliveriesCatcher, type MaxDeliveriesCatcher } from '../../streams/advisories';
import { readDeadLetters, type StoredDeadLetter } from '../../streams/dlq';
import { connectNats } from '../../infra/nats';
import { eventSubject, names, redeliveryPolicy } from '../../streams/topology';
import { applyTopology } from '../../streams/topology-apply';
import { buildEnvelope } from '../helpers/events';
import { eventually } from '../../infra/stack/test-clickhouse';
import { startTestNats, type TestNats } from '../../infra/stack/test-nats';
import { testConfig } from '../../infra/stack/test-config';

let nats: TestNats;
let nc: NatsConnection;
let config: Config;
let catcher: MaxDeliveriesCatcher | undefined;

async function deadLetters(): Promise<StoredDeadLetter[]> {
  const out: StoredDeadLetter[] = [];
  for await (const dl of readDeadLetters(nc.jetstream(), await nc.jetstreamManager(), config.nats.prefix))
    out.push(dl);
  return out;
}

beforeAll(async () => {
  nats = await startTestNats();
  config = testConfig(nats.url);
  nc = await connectNats(config.nats, 'advisories-test');
  await applyTopology(await nc.jetstreamManager(), config);
});

afterAll(async () => {
  await catcher?.stop();
  await nc?.drain();
  await nats?.stop();
});

it('dead-letters a message a consumer never acks once its deliveries are exhausted, once', async () => {
  const jsm = await nc.jetstreamManager();
  const js = nc.jetstream();
  const n = names(config.nats.prefix);
  const bytes = encodeEnvelope(buildEnvelope('product_viewed', { userId: 'never-acked' }));
  const subject = eventSubject(config.nats.prefix, 2, 'product_viewed');
  const { seq } = await js.publish(subject, bytes);
  // a consumer that fails on this message every time: 3 deliveries, 1 s then 2 s to ack each
  await jsm.consumers.add(n.eventsStream, {
    durable_name: 'test_never_acks',
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: subject,
    ...redeliveryPolicy(1000, 3),
  });
  catcher = await startMaxDeliveriesCatcher({ nc, config, logger: createLogger('silent', 'test') });
  const consumer = await js.consumers.get(n.eventsStream, 'test_never_acks');
  let deliveries = 0;
  const letters = await eventually(
    async () => {
      for await (const m of await consumer.fetch({ max_messages: 1, expires: 1000 })) {
        deliveries = Math.max(deliveries, m.info.redeliveryCount);
        m.nak(); // the processor fails on it, every time (a nak counts a delivery)
      }
      return (await deadLetters()).filter((d) => d.reason === 'max_deliveries');
    },
    (l) => l.length > 0,
    30_000,
  );
  expect(deliveries).toBe(3);
  expect(letters).toHaveLength(1);
  expect(letters[0]).toMatchObject({
    reason: 'max_deliveries',
    sourceSubject: subject,
    sourceSequence: seq,
  });
  expect(letters[0]!.detail).toMatch(/test_never_acks .*3 times/);
  expect(Buffer.from(letters[0]!.data)).toEqual(Buffer.from(bytes)); // the original bytes
  expect(catcher.stats().caught).toBe(1);
  // the advisory is acked: nothing left for the catcher
  const info = await jsm.consumers.info(n.advisoriesStream, n.maxDeliveriesConsumer);
  expect(info.num_pending + info.num_ack_pending).toBe(0);
});

it('keeps an advisory that fired while the catcher was down, and catches it at start', async () => {
  await catcher?.stop();
  catcher = undefined;
  const jsm = await nc.jetstreamManager();
  const js = nc.jetstream();
  const n = names(config.nats.prefix);
  const subject = eventSubject(config.nats.prefix, 3, 'product_viewed');
  const { seq } = await js.publish(subject, encodeEnvelope(buildEnvelope('product_viewed')));
  await jsm.consumers.add(n.eventsStream, {
    durable_name: 'test_never_acks_2',
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: subject,
    ...redeliveryPolicy(1000, 2),
  });
  const consumer = await js.consumers.get(n.eventsStream, 'test_never_acks_2');
  await eventually(
    async () => {
      for await (const m of await consumer.fetch({ max_messages: 1, expires: 1000 })) m.nak();
      return (await jsm.streams.info(n.advisoriesStream)).state.messages;
    },
    (count) => count >= 2,
  );
  catcher = await startMaxDeliveriesCatcher({ nc, config, logger: createLogger('silent', 'test') });
  const letters = await eventually(deadLetters, (l) =>
    l.some((d) => d.reason === 'max_deliveries' && d.sourceSequence === seq),
  );
  expect(letters.filter((d) => d.reason === 'max_deliveries')).toHaveLength(2);
});
