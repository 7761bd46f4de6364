// Byte limits on the events and dead-letter streams (issue 8, finding 11): a full events stream
// refuses new events with a clear error instead of dropping ones the sink has not stored.
import { DiscardPolicy, type NatsConnection } from 'nats';
import { connectNats } from '../../infra/nats';
import { createProducer, PublishError } from '../../streams/producer/producer';
import { names, streamConfigs } from '../../streams/topology';
import { applyTopology } from '../../streams/topology-apply';
import { startTestNats, type TestNats } from '../../infra/stack/test-nats';
import { testConfig } from '../../infra/stack/test-config';

let nats: TestNats;
let nc: NatsConnection;

beforeAll(async () => {
  nats = await startTestNats();
  nc = await connectNats(testConfig(nats.url).nats, 'stream-limits-test');
});

afterAll(async () => {
  await nc?.drain();
  await nats?.stop();
});

it('refuses events when the events stream is full, keeping every stored one', async () => {
  const config = testConfig(nats.url, { NATS_EVENTS_MAX_BYTES: '1MiB', NATS_DLQ_MAX_BYTES: '1MiB' });
  const jsm = await nc.jetstreamManager();
  await applyTopology(jsm, config);
  const n = names(config.nats.prefix);
  const info = await jsm.streams.info(n.eventsStream);
  expect(info.config).toMatchObject({ max_bytes: 1024 * 1024, discard: DiscardPolicy.New });
  expect((await jsm.streams.info(n.dlqStream)).config.max_bytes).toBe(1024 * 1024);

  const producer = await createProducer({ nats: config.nats, shopId: 'shop-1', connection: nc, retries: 1 });
  const text = 'x'.repeat(8000);
  let refused: unknown;
  let accepted = 0;
  for (let i = 0; i < 500 && !refused; i++) {
    try {
      await producer.track('chat_turn', {
        userId: `u${i}`,
        channel: 'web',
        properties: { conversationId: `c${i}`, role: 1, text, channel: 1, turnIndex: 0 },
      });
      accepted++;
    } catch (err) {
      refused = err;
    }
  }
  expect(refused).toBeInstanceOf(PublishError);
  // a clear error, at once: not retried, not taken for a missing stream
  expect(refused).toMatchObject({ code: 'STREAM_FULL' });
  expect((refused as PublishError).message).toMatch(/is full \(maximum bytes exceeded\)/);
  expect(producer.stats().retries).toBe(0);
  const after = await jsm.streams.info(n.eventsStream);
  // nothing was dropped to make room: the first event is still there, all accepted ones are
  expect(after.state.first_seq).toBe(1);
  expect(after.state.messages).toBe(accepted);
  await producer.close();
});

it('updates an existing events stream that discarded old events to refuse new ones, with a byte limit', async () => {
  const config = testConfig(nats.url);
  const jsm = await nc.jetstreamManager();
  const [events, dlq] = streamConfigs(config.nats);
  // as the topology was before: discard old, no byte limit
  await jsm.streams.add({ ...events!, discard: DiscardPolicy.Old, max_bytes: -1 });
  await jsm.streams.add({ ...dlq!, max_bytes: -1 });
  const r = await applyTopology(jsm, config);
  expect(r.updated).toEqual(expect.arrayContaining([events!.name, dlq!.name]));
  const info = await jsm.streams.info(events!.name!);
  expect(info.config).toMatchObject({ discard: DiscardPolicy.New, max_bytes: config.nats.eventsMaxBytes });
  expect((await jsm.streams.info(dlq!.name!)).config.max_bytes).toBe(config.nats.dlqMaxBytes);
});

it('keeps retrying while no stream answers (a leader election takes seconds), then fails clearly', async () => {
  const config = testConfig(nats.url);
  const jsm = await nc.jetstreamManager();
  await applyTopology(jsm, config);
  const producer = await createProducer({ nats: config.nats, shopId: 'shop-1', connection: nc });
  const track = () =>
    producer.track('product_viewed', {
      userId: 'u1',
      channel: 'web',
      properties: { product: { sku: 'SKU-1' } },
    });
  // the stream gone: "no responders" until it is back 3 s later, longer than 5 quick retries last
  await jsm.streams.delete(names(config.nats.prefix).eventsStream);
  const started = Date.now();
  const pending = track();
  setTimeout(() => void applyTopology(jsm, config), 3000);
  await expect(pending).resolves.toMatchObject({ duplicate: false });
  expect(Date.now() - started).toBeGreaterThan(2900);
  expect(producer.stats().retries).toBeGreaterThan(5);
  await producer.close();

  // a stream that does not come back is a clear error once unavailableRetryMs has passed
  const lost = await createProducer({
    nats: config.nats,
    shopId: 'shop-1',
    connection: nc,
    unavailableRetryMs: 1000,
  });
  await jsm.streams.delete(names(config.nats.prefix).eventsStream);
  await expect(
    lost.track('product_viewed', { userId: 'u1', channel: 'web', properties: { product: { sku: 'SKU-1' } } }),
  ).rejects.toMatchObject({ code: 'NO_STREAM' });
  await lost.close();
}, 30_000);
