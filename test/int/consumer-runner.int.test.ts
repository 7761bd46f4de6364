// The shared consumer runner on a real NATS server: one user's events in stream order while another
// user's go ahead; a failing step retried in place (the user's next event waits behind it); one that
// keeps failing dead-lettered after maxAttempts, a dlq result dead-lettered at once, both acked so
// the user goes on; an undecodable message dropped; nothing left pending. With a dependency that is
// away (`ready`, `transient`): nothing is taken until it answers, an outage burns no attempt, and the
// state says so.
import { AckPolicy, DeliverPolicy, type NatsConnection } from 'nats';
import type { Config } from '../../infra/config';
import { createLogger } from '../../infra/logger';
import { connectNats } from '../../infra/nats';
import { eventually } from '../../infra/stack/test-clickhouse';
import { testConfig } from '../../infra/stack/test-config';
import { startTestNats, type TestNats } from '../../infra/stack/test-nats';
import { encodeEnvelope } from '../../schemas/codec';
import { createRunner, type Runner } from '../../streams/consumer/runner';
import { readDeadLetters } from '../../streams/dlq';
import { ok, type StepResult } from '../../streams/results';
import { eventSubject, names, partitionOf } from '../../streams/topology';
import { applyTopology } from '../../streams/topology-apply';
import { buildEnvelope } from '../helpers/events';

const SHOP = 'shop-r';
let nats: TestNats;
let nc: NatsConnection;
let config: Config;

beforeAll(async () => {
  nats = await startTestNats();
  config = testConfig(nats.url);
  nc = await connectNats(config.nats, 'runner-test');
  await applyTopology(await nc.jetstreamManager(), config);
  await addConsumer('runner_test', DeliverPolicy.All);
}, 30_000);

afterAll(async () => {
  await nc?.drain();
  await nats?.stop();
});

/** A durable consumer of every products_searched event. */
async function addConsumer(name: string, deliver: DeliverPolicy): Promise<void> {
  await (
    await nc.jetstreamManager()
  ).consumers.add(names(config.nats.prefix).eventsStream, {
    durable_name: name,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: deliver,
    filter_subject: `${config.nats.prefix}.events.*.products_searched`,
    ack_wait: 30_000_000_000,
  });
}

async function publish(user: string, query: string): Promise<void> {
  const e = buildEnvelope(
    'products_searched',
    { shopId: SHOP, userId: user, channel: 1 },
    { query, resultCount: 1 },
  );
  const p = partitionOf(SHOP, user, config.nats.partitions);
  await nc.jetstream().publish(eventSubject(config.nats.prefix, p, 'products_searched'), encodeEnvelope(e), {
    msgID: e.eventId!,
  });
}

it('orders per user, retries in place, dead-letters what keeps failing, and goes on', async () => {
  const applied: string[] = [];
  const attempts = new Map<string, number>();
  const runner: Runner<'applied'> = createRunner<'applied'>({
    nc,
    prefix: config.nats.prefix,
    stream: names(config.nats.prefix).eventsStream,
    consumers: ['runner_test'],
    label: 'runner test',
    logger: createLogger('silent', 'test'),
    maxInFlight: 16,
    maxAttempts: 3,
    async step(envelope): Promise<StepResult<'applied'>> {
      const q = envelope.productsSearched?.query ?? '';
      const n = (attempts.get(q) ?? 0) + 1;
      attempts.set(q, n);
      if (q === 'slow') await new Promise((r) => setTimeout(r, 300));
      if (q === 'flaky' && n < 2) throw new Error('flaky once');
      if (q === 'poison') throw new Error('always fails');
      if (q === 'refused') return { kind: 'dlq', reason: 'processing_failed', detail: 'refused on purpose' };
      applied.push(`${envelope.userId}:${q}`);
      return ok('applied');
    },
  });
  await publish('a', 'slow');
  await publish('a', 'flaky');
  await publish('a', 'poison');
  await publish('a', 'a-after');
  await publish('b', 'b-first');
  await publish('a', 'refused');
  await publish('a', 'a-last');
  const p = partitionOf(SHOP, 'a', config.nats.partitions);
  await nc
    .jetstream()
    .publish(eventSubject(config.nats.prefix, p, 'products_searched'), new Uint8Array([1, 2, 3]));
  const running = runner.run();
  await eventually(
    () => Promise.resolve(applied),
    (a) => a.includes('a:a-last') && a.includes('b:b-first'),
    10_000,
  );
  // b did not wait behind a's slow, flaky and poisoned events; a's stayed in order
  expect(applied.indexOf('b:b-first')).toBeLessThan(applied.indexOf('a:slow'));
  expect(applied.filter((x) => x.startsWith('a:'))).toEqual(['a:slow', 'a:flaky', 'a:a-after', 'a:a-last']);
  expect(attempts.get('flaky')).toBe(2);
  expect(attempts.get('poison')).toBe(3);
  const c = await eventually(
    () => Promise.resolve(runner.counts()),
    (x) => x.events === 8,
    5000,
  );
  expect(c).toMatchObject({ events: 8, applied: 5, dead_lettered: 2, dropped: 1, failed: 4 }); // failed attempts: flaky 1, poison 3
  const letters = [];
  for await (const d of readDeadLetters(nc.jetstream(), await nc.jetstreamManager(), config.nats.prefix))
    letters.push(d.detail);
  expect(letters.sort()).toEqual([
    'runner test: failed 3 times: always fails',
    'runner test: refused on purpose',
  ]);
  const info = await (
    await nc.jetstreamManager()
  ).consumers.info(names(config.nats.prefix).eventsStream, 'runner_test');
  expect(info.num_ack_pending + info.num_pending).toBe(0); // everything acked
  expect(runner.health()).toMatchObject({ state: 'running', inFlight: 0 });
  await runner.stop();
  await running;
  expect(runner.health().state).toBe('stopped');
});

it('holds events while its dependency is away, and an outage burns no attempt', async () => {
  await addConsumer('runner_gate_test', DeliverPolicy.New);
  let up = false;
  const calls: string[] = [];
  let outages = 0;
  const runner = createRunner<'applied'>({
    nc,
    prefix: config.nats.prefix,
    stream: names(config.nats.prefix).eventsStream,
    consumers: ['runner_gate_test'],
    label: 'gate test',
    logger: createLogger('silent', 'test'),
    maxInFlight: 4,
    maxAttempts: 2,
    ready: () => Promise.resolve(up),
    transient: (err) => ((err as Error).message === 'away' ? 'waiting' : false),
    step(envelope): Promise<StepResult<'applied'>> {
      const q = envelope.productsSearched?.query ?? '';
      calls.push(q);
      // the dependency goes away three times on the second event, each time back 300 ms later
      if (q === 'gate-2' && outages < 3) {
        outages++;
        up = false;
        setTimeout(() => (up = true), 300);
        return Promise.reject(new Error('away'));
      }
      return Promise.resolve(ok('applied'));
    },
  });
  const running = runner.run();
  await publish('g', 'gate-1');
  await publish('g', 'gate-2');
  await new Promise((r) => setTimeout(r, 1500));
  expect(calls).toEqual([]); // held: nothing taken while the dependency does not answer
  expect(runner.health()).toMatchObject({ state: 'waiting', waitingSince: expect.any(String) as string });
  up = true;
  await eventually(
    () => Promise.resolve(runner.counts()),
    (c) => c.applied === 2,
    30_000,
  );
  // three failures in outages, with maxAttempts 2: retried, never dead-lettered
  expect(calls).toEqual(['gate-1', 'gate-2', 'gate-2', 'gate-2', 'gate-2']);
  expect(runner.counts()).toMatchObject({ events: 2, applied: 2, failed: 3 });
  expect(runner.counts().dead_lettered).toBeUndefined();
  expect(runner.health().state).toBe('running');
  await runner.stop();
  await running;
}, 60_000);
