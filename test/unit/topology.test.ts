import { loadConfig } from '../../infra/config';
import {
  MAX_BACKOFF_MS,
  consumerConfigs,
  eventSubject,
  names,
  partitionOf,
  redeliveryPolicy,
  streamConfigs,
  userKey,
} from '../../streams/topology';
import { fnv1a } from '../../schemas/hash';

describe('topology', () => {
  it('puts every event of a user on one partition, and spreads users over all partitions', () => {
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 16_000; i++) counts[partitionOf('shop', `user-${i}`, 16)]!++;
    expect(Math.min(...counts)).toBeGreaterThan(800);
    expect(Math.max(...counts)).toBeLessThan(1200);
    expect(partitionOf('shop', 'user-7', 16)).toBe(partitionOf('shop', 'user-7', 16));
  });

  it('uses a stable hash (FNV-1a 32) that other languages can reproduce', () => {
    expect(fnv1a('')).toBe(0x811c9dc5);
    expect(fnv1a('a')).toBe(0xe40c292c);
    expect(fnv1a('foobar')).toBe(0xbf9cf968);
  });

  it('keys anonymous users apart from known ones', () => {
    expect(userKey({ userId: 'u1', anonymousId: 'a1' })).toBe('u1');
    expect(userKey({ userId: '', anonymousId: 'a1' })).toBe('anon:a1');
  });

  it('names everything from the prefix', () => {
    const n = names('t_abc');
    expect(n.eventsStream).toBe('T_ABC_EVENTS');
    expect(eventSubject('t_abc', 3, 'order_placed')).toBe('t_abc.events.3.order_placed');
  });

  it('states retention, max age and duplicate window of the events stream', () => {
    const cfg = loadConfig({ NATS_EVENTS_MAX_AGE: '3d', NATS_DUPLICATE_WINDOW: '5m' });
    const [events] = streamConfigs(cfg.nats);
    expect(events).toMatchObject({
      max_age: 3 * 86_400 * 1e9,
      duplicate_window: 300 * 1e9,
      subjects: ['shopstream.events.>'],
    });
  });

  it('bounds the redelivery of every consumer, the wait for an ack growing up to a cap', () => {
    const cfg = loadConfig({});
    for (const { config } of consumerConfigs(cfg)) {
      expect(config.max_deliver).toBeGreaterThan(1);
      // JetStream: fewer backoff entries than deliveries, and the first one is the ack wait
      expect(config.backoff!.length).toBeLessThan(config.max_deliver!);
      expect(config.backoff![0]).toBe(config.ack_wait);
    }
    const p = redeliveryPolicy(30_000, 20);
    expect(p.max_deliver).toBe(20);
    expect(p.backoff!.slice(0, 4)).toEqual([30e9, 60e9, 120e9, 240e9]);
    expect(Math.max(...p.backoff!)).toBe(MAX_BACKOFF_MS * 1e6);
  });
});
