import { loadConfig } from '../../infra/config';
import { eventSubject, fnv1a, names, partitionOf, streamConfigs, userKey } from '../../streams/topology';

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
});
