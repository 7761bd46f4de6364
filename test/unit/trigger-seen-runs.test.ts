// The cart triggers remember recent workflow runs (to count each started run once) in a bounded set.
import { boundedSet } from '../../streams/triggers/cart-triggers';

describe('boundedSet', () => {
  it('never holds more than its bound and forgets the least recently used first', () => {
    const seen = boundedSet(3);
    expect(['a', 'b', 'c'].map((k) => seen.add(k))).toEqual([true, true, true]);
    expect(seen.add('a')).toBe(false); // a is now the most recent
    expect(seen.add('d')).toBe(true); // b, the least recently used, is forgotten
    expect(seen.size).toBe(3);
    expect(seen.add('a')).toBe(false);
    expect(seen.add('b')).toBe(true);
    for (let i = 0; i < 1000; i++) seen.add(`run-${i}`);
    expect(seen.size).toBe(3);
  });
});
