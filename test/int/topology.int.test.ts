// Topology as code against a real server: applied idempotently, and a missing piece fails fast with
// a message that names it.
import type { NatsConnection } from 'nats';
import { connectNats } from '../../infra/nats';
import { names } from '../../streams/topology';
import { applyTopology, checkTopology, TopologyError } from '../../streams/topology-apply';
import { createProducer } from '../../streams/producer/producer';
import { startTestNats, type TestNats } from '../../infra/stack/test-nats';
import { testConfig } from '../../infra/stack/test-config';

let nats: TestNats;
let nc: NatsConnection;

beforeAll(async () => {
  nats = await startTestNats();
  nc = await connectNats(testConfig(nats.url).nats, 'topology-test');
});

afterAll(async () => {
  await nc?.drain();
  await nats?.stop();
});

it('fails fast, naming what is missing, before the topology is applied', async () => {
  const config = testConfig(nats.url);
  const n = names(config.nats.prefix);
  const jsm = await nc.jetstreamManager();
  const check = checkTopology(jsm, config, { consumers: [{ stream: n.eventsStream, name: n.sinkConsumer }] });
  await expect(check).rejects.toBeInstanceOf(TopologyError);
  await expect(checkTopology(jsm, config)).rejects.toThrow(
    new RegExp(`stream ${n.eventsStream}.*stream ${n.dlqStream}.*topology apply`),
  );
  await expect(createProducer({ nats: config.nats, shopId: 's', connection: nc })).rejects.toThrow(
    /stream .*_EVENTS/,
  );
});

it('applies idempotently: created once, then nothing to do', async () => {
  const config = testConfig(nats.url);
  const jsm = await nc.jetstreamManager();
  const first = await applyTopology(jsm, config);
  const n = names(config.nats.prefix);
  expect(first.created).toEqual(
    expect.arrayContaining([
      n.eventsStream,
      n.dlqStream,
      `${n.eventsStream}/${n.sinkConsumer}`,
      `${n.eventsStream}/interest_p0`,
      `kv ${n.profilesBucket}`,
      `kv ${n.rulesBucket}`,
    ]),
  );
  const second = await applyTopology(jsm, config);
  expect(second).toEqual({ created: [], updated: [] });
  await expect(checkTopology(jsm, config)).resolves.toBeUndefined();
  const info = await jsm.streams.info(names(config.nats.prefix).eventsStream);
  expect(info.config.duplicate_window).toBe(config.nats.duplicateWindowMs * 1e6);
});

it('updates a setting that changed in configuration', async () => {
  const config = testConfig(nats.url);
  const jsm = await nc.jetstreamManager();
  await applyTopology(jsm, config);
  const longer = { ...config, nats: { ...config.nats, eventsMaxAgeMs: config.nats.eventsMaxAgeMs * 2 } };
  expect((await applyTopology(jsm, longer)).updated).toEqual([names(config.nats.prefix).eventsStream]);
});

it('bounds the redelivery of consumers created before it was bounded (max_deliver -1)', async () => {
  const config = testConfig(nats.url);
  const jsm = await nc.jetstreamManager();
  const n = names(config.nats.prefix);
  await applyTopology(jsm, config);
  await jsm.consumers.update(n.eventsStream, n.sinkConsumer, { max_deliver: -1, backoff: [] });
  expect((await jsm.consumers.info(n.eventsStream, n.sinkConsumer)).config.max_deliver).toBe(-1);
  await applyTopology(jsm, config);
  const { config: c } = await jsm.consumers.info(n.eventsStream, n.sinkConsumer);
  expect(c.max_deliver).toBe(config.nats.maxDeliver);
  expect(c.backoff?.[0]).toBe(config.sink.ackWaitMs * 1e6);
  expect(c.ack_wait).toBe(config.sink.ackWaitMs * 1e6);
});
