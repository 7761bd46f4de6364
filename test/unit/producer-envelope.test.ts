// The envelope the producer SDK's track() sends (trackEnvelope, pure): the caller's time zone goes
// through to Envelope.time_zone, and the zone check the SDK runs before sending.
import { decodeEnvelope, encodeEnvelope } from '../../schemas/codec';
import { trackEnvelope } from '../../streams/producer/producer';
import { isKnownTimeZone, timeZoneIssue } from '../../schemas/time-zone';

const ctx = { shopId: 'shop-1', producerId: 'p-1', sequence: 3 };
const at = Date.UTC(2026, 10, 1);

describe('trackEnvelope', () => {
  it("carries the caller's time zone to the wire", () => {
    const e = trackEnvelope(
      'products_searched',
      {
        userId: 'u-1',
        channel: 'app',
        occurredAt: at,
        timeZone: 'Asia/Shanghai',
        properties: { query: 'q' },
      },
      ctx,
    );
    expect(e).toMatchObject({ shopId: 'shop-1', userId: 'u-1', sequence: 3, producerId: 'p-1' });
    expect(e.timeZone).toBe('Asia/Shanghai');
    const d = decodeEnvelope(encodeEnvelope(e));
    if (!d.ok) throw new Error(d.detail);
    expect(d.envelope.timeZone).toBe('Asia/Shanghai');
  });

  it('sends no zone when the caller gives none', () => {
    const e = trackEnvelope(
      'products_searched',
      { userId: 'u-1', channel: 'app', properties: { query: 'q' } },
      ctx,
    );
    expect(e.timeZone).toBe('');
  });
});

describe('time zone check', () => {
  it.each(['UTC', 'Asia/Shanghai', 'America/New_York', 'Europe/Berlin', '+08:00', '-05:30', '+00:00'])(
    'accepts %s',
    (zone) => {
      expect(isKnownTimeZone(zone)).toBe(true);
      expect(timeZoneIssue(zone)).toEqual([]);
    },
  );

  it.each(['Mars/Olympus_Mons', '+8', '08:00', 'GMT+8', '+15:00', ' UTC', 'x'.repeat(65)])(
    'rejects %s',
    (zone) => {
      expect(isKnownTimeZone(zone)).toBe(false);
      expect(timeZoneIssue(zone)).toEqual([
        {
          path: 'time_zone',
          code: 'format',
          message: expect.stringContaining('is not a time zone') as string,
        },
      ]);
    },
  );

  it('has nothing to say about an absent zone', () => {
    expect(timeZoneIssue('')).toEqual([]);
    expect(timeZoneIssue(undefined)).toEqual([]);
    expect(timeZoneIssue(null)).toEqual([]);
  });
});
