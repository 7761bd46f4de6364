import { createUlidFactory, deriveEventId, isUlid, ulidTime } from '../../schemas/ulid';

describe('ulid', () => {
  it('encodes the time first, so ids sort by time', () => {
    const at = Date.UTC(2026, 10, 24);
    const id = createUlidFactory(() => at)();
    expect(isUlid(id)).toBe(true);
    expect(ulidTime(id)).toBe(at);
  });

  it('is strictly increasing within one millisecond', () => {
    const next = createUlidFactory(() => 1_700_000_000_000);
    const ids = Array.from({ length: 1000 }, next);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(1000);
  });

  it('derives the same id for the same key and time, another for another key', () => {
    const a = deriveEventId(1_700_000_000_000, 'shop:msg-1');
    expect(deriveEventId(1_700_000_000_000, 'shop:msg-1')).toBe(a);
    expect(deriveEventId(1_700_000_000_000, 'shop:msg-2')).not.toBe(a);
    expect(isUlid(a)).toBe(true);
  });

  it('rejects what is not a ULID', () => {
    expect(isUlid('01JD00ZZZZZZZZZZZZZZZZZZZ')).toBe(false); // 25 chars
    expect(isUlid('01JD00ZZZZZZZZZZZZZZZZZZZI')).toBe(false); // I is not Crockford
    expect(isUlid('81JD00ZZZZZZZZZZZZZZZZZZZZ')).toBe(false); // overflows 48 bits
  });
});
