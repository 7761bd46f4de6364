// Pure helpers the workflow computes with: durations, the user's local time (fixed offsets and IANA
// zones, across DST), quiet hours, and the holdout buckets.
import { fnv1a } from '../../schemas/hash';
import { partitionOf } from '../../streams/topology';
import { holdoutBucket, isHeldOut } from '../../workflows/holdout';
import {
  isValidTimeZone,
  localTime,
  msUntilNextLocalDay,
  parseClock,
  parseDuration,
  quietHoursDelayMs,
  utcOffsetMinutes,
} from '../../schemas/time';

const MINUTE = 60_000;
const at = (iso: string): number => Date.parse(iso);

describe('durations and clock times', () => {
  it('parses s, m, h and d; negative as negative; anything else as malformed', () => {
    expect(['30s', '15m', '1h', '2d', '-1h'].map(parseDuration)).toEqual([
      30_000, 900_000, 3_600_000, 172_800_000, -3_600_000,
    ]);
    expect(['1.5h', '1 h', 'h', '1w', ''].map(parseDuration)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect(['00:00', '08:30', '23:59', '24:00', '8:30'].map(parseClock)).toEqual([
      0,
      510,
      1439,
      undefined,
      undefined,
    ]);
  });
});

describe('local time', () => {
  it('applies fixed offsets and UTC', () => {
    expect(localTime(at('2025-03-01T22:30:00Z'), '+08:00')).toEqual({
      day: '2025-03-02',
      minuteOfDay: 6 * 60 + 30,
    });
    expect(localTime(at('2025-03-01T02:00:00Z'), '-05:30')).toEqual({
      day: '2025-02-28',
      minuteOfDay: 20 * 60 + 30,
    });
    expect(localTime(at('2025-03-01T02:00:00Z'), 'UTC')).toEqual({ day: '2025-03-01', minuteOfDay: 120 });
  });

  it('follows an IANA zone across daylight saving time', () => {
    expect(utcOffsetMinutes('Asia/Shanghai', at('2025-07-01T00:00:00Z'))).toBe(480);
    expect(utcOffsetMinutes('America/New_York', at('2025-01-15T12:00:00Z'))).toBe(-300);
    expect(utcOffsetMinutes('America/New_York', at('2025-07-15T12:00:00Z'))).toBe(-240);
    expect(utcOffsetMinutes('Asia/Kolkata', at('2025-07-15T12:00:00Z'))).toBe(330);
  });

  it('tells valid zones from invalid ones', () => {
    expect(['UTC', '+08:00', '-03:30', 'Europe/Paris'].map(isValidTimeZone)).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(['Mars/Olympus', '+25:00', '+08:99', ''].map(isValidTimeZone)).toEqual([
      false,
      false,
      false,
      false,
    ]);
  });
});

describe('quietHoursDelayMs', () => {
  const quiet = { start: '21:00', end: '08:00' } as const;

  it('is zero outside quiet hours and at their end', () => {
    expect(quietHoursDelayMs(at('2025-03-01T20:59:00Z'), 'UTC', quiet)).toBe(0);
    expect(quietHoursDelayMs(at('2025-03-01T08:00:00Z'), 'UTC', quiet)).toBe(0);
    expect(quietHoursDelayMs(at('2025-03-01T12:00:00Z'), 'UTC', quiet)).toBe(0);
  });

  it('waits from inside the window (wrapping midnight, start included) to its end', () => {
    expect(quietHoursDelayMs(at('2025-03-01T21:00:00Z'), 'UTC', quiet)).toBe(11 * 60 * MINUTE);
    expect(quietHoursDelayMs(at('2025-03-01T23:00:30Z'), 'UTC', quiet)).toBe(9 * 60 * MINUTE - 30_000);
    expect(quietHoursDelayMs(at('2025-03-02T07:59:00Z'), 'UTC', quiet)).toBe(MINUTE);
  });

  it('uses the user-local clock', () => {
    // 15:00 UTC is 23:00 in Shanghai: quiet until 08:00 there (00:00 UTC)
    expect(quietHoursDelayMs(at('2025-03-01T15:00:00Z'), 'Asia/Shanghai', quiet)).toBe(9 * 60 * MINUTE);
    expect(quietHoursDelayMs(at('2025-03-01T15:00:00Z'), 'UTC', quiet)).toBe(0);
  });

  it('handles a window that does not wrap midnight', () => {
    const siesta = { start: '13:00', end: '15:00' } as const;
    expect(quietHoursDelayMs(at('2025-03-01T14:00:00Z'), 'UTC', siesta)).toBe(60 * MINUTE);
    expect(quietHoursDelayMs(at('2025-03-01T23:00:00Z'), 'UTC', siesta)).toBe(0);
  });
});

describe('msUntilNextLocalDay', () => {
  it('lands on the next local midnight, in fixed offsets and IANA zones', () => {
    expect(msUntilNextLocalDay(at('2026-11-24T10:00:30Z'), 'UTC')).toBe(14 * 60 * MINUTE - 30_000);
    // 10:00 UTC is 18:00 in Shanghai: six hours to its midnight
    expect(msUntilNextLocalDay(at('2026-11-24T10:00:00Z'), 'Asia/Shanghai')).toBe(6 * 60 * MINUTE);
    expect(msUntilNextLocalDay(at('2026-11-24T10:00:00Z'), '-05:30')).toBe((24 * 60 - 270) * MINUTE);
    const next = at('2026-11-24T23:59:00Z');
    expect(localTime(next + msUntilNextLocalDay(next, 'UTC'), 'UTC')).toEqual({
      day: '2026-11-25',
      minuteOfDay: 0,
    });
  });

  it('always reaches the next local day across a DST change', () => {
    // Chile moves its clocks at local midnight (2026-09-06 00:00 -> 01:00 in America/Santiago)
    for (const iso of ['2026-09-05T20:00:00Z', '2026-04-04T20:00:00Z', '2026-03-28T22:30:00Z']) {
      for (const zone of ['America/Santiago', 'Europe/Berlin', 'America/New_York']) {
        const now = at(iso);
        const later = now + msUntilNextLocalDay(now, zone);
        expect(localTime(later, zone).day > localTime(now, zone).day).toBe(true);
        expect(localTime(later, zone).minuteOfDay).toBeLessThanOrEqual(60);
      }
    }
  });
});

describe('holdout', () => {
  it('hashes like the partitioner (FNV-1a) and keeps buckets stable: moving users between groups breaks uplift', () => {
    expect(partitionOf('shop-1', 'user-1', 1 << 30)).toBe(fnv1a('shop-1/user-1') % (1 << 30));
    expect(holdoutBucket('cart-recovery', 'user-1')).toBe(fnv1a('cart-recovery:user-1') % 100);
    expect(['user-1', 'user-2', 'user-3'].map((u) => holdoutBucket('cart-recovery', u))).toEqual([
      16, 73, 54,
    ]);
  });

  it('holds out about the configured share, differently per flow', () => {
    const users = Array.from({ length: 20_000 }, (_, i) => `user-${i}`);
    const held = users.filter((u) => isHeldOut('cart-recovery', u, 10));
    expect(held.length / users.length).toBeGreaterThan(0.09);
    expect(held.length / users.length).toBeLessThan(0.11);
    const heldElsewhere = new Set(users.filter((u) => isHeldOut('coupon-release', u, 10)));
    expect(held.filter((u) => heldElsewhere.has(u)).length).toBeLessThan(held.length / 5);
    expect(users.filter((u) => isHeldOut('cart-recovery', u, 0))).toEqual([]);
    expect(users.filter((u) => isHeldOut('cart-recovery', u, 100))).toHaveLength(users.length);
  });
});
