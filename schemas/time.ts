// Durations, clock times and the user's local time: pure functions of their arguments, so workflow
// code can call them with workflow time (Date.now() inside a workflow is replay-safe).

export type DurationUnit = 's' | 'm' | 'h' | 'd';
/** '30s', '15m', '1h', '2d'. */
export type Duration = `${number}${DurationUnit}`;
/** 'HH:MM', 24-hour clock. */
export type ClockTime = `${number}:${number}`;

const UNIT_MS: Record<DurationUnit, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION_RE = /^(-?\d+)([smhd])$/;
const CLOCK_RE = /^([01]\d|2[0-3]):([0-5]\d)$/;
const OFFSET_RE = /^([+-])(\d{2}):([0-5]\d)$/;
const DAY_MINUTES = 24 * 60;

/** Milliseconds of a duration (negative if written so), or undefined if it is malformed. */
export function parseDuration(d: string): number | undefined {
  const m = DURATION_RE.exec(d);
  return m ? Number(m[1]) * UNIT_MS[m[2] as DurationUnit] : undefined;
}

export function durationMs(d: string): number {
  const ms = parseDuration(d);
  if (ms === undefined) throw new RangeError(`malformed duration '${d}' (expected e.g. 30s, 15m, 1h, 2d)`);
  return ms;
}

/** Minutes since midnight of 'HH:MM', or undefined if it is malformed. */
export function parseClock(s: string): number | undefined {
  const m = CLOCK_RE.exec(s);
  return m ? Number(m[1]) * 60 + Number(m[2]) : undefined;
}

/**
 * The UTC offset in minutes of a time zone at an instant. The zone is 'UTC', a fixed offset
 * ('+08:00', '-05:30') or an IANA name ('Asia/Shanghai', resolved with the runtime's time zone data).
 */
export function utcOffsetMinutes(timeZone: string, atMs: number): number {
  if (timeZone === 'UTC' || timeZone === 'Z') return 0;
  const fixed = OFFSET_RE.exec(timeZone);
  if (fixed) return (fixed[1] === '-' ? -1 : 1) * (Number(fixed[2]) * 60 + Number(fixed[3]));
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
  }).formatToParts(new Date(atMs));
  const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const localAsUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'));
  return Math.round((localAsUtc - Math.floor(atMs / 60_000) * 60_000) / 60_000);
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    const offset = utcOffsetMinutes(timeZone, 0);
    return Math.abs(offset) <= 14 * 60;
  } catch {
    return false;
  }
}

export interface LocalTime {
  /** The local calendar day, 'YYYY-MM-DD'. */
  day: string;
  /** Minutes since local midnight. */
  minuteOfDay: number;
}

export function localTime(atMs: number, timeZone: string): LocalTime {
  const local = new Date(atMs + utcOffsetMinutes(timeZone, atMs) * 60_000);
  return {
    day: local.toISOString().slice(0, 10),
    minuteOfDay: local.getUTCHours() * 60 + local.getUTCMinutes(),
  };
}

export interface QuietHours {
  start: ClockTime;
  end: ClockTime;
}

/**
 * How long a message due at `atMs` must wait for the end of quiet hours (0 outside them). The window
 * may wrap midnight ('21:00'-'08:00'); it includes its start and excludes its end.
 */
export function quietHoursDelayMs(atMs: number, timeZone: string, quiet: QuietHours): number {
  const start = parseClock(quiet.start);
  const end = parseClock(quiet.end);
  if (start === undefined || end === undefined || start === end) return 0;
  const now = localTime(atMs, timeZone).minuteOfDay;
  const inside = start < end ? now >= start && now < end : now >= start || now < end;
  if (!inside) return 0;
  const minutes = (end - now + DAY_MINUTES) % DAY_MINUTES;
  return minutes * 60_000 - (atMs % 60_000);
}

/**
 * How long from `atMs` until the start of the next calendar day on the user's clock (a DST change
 * around midnight can move midnight by an hour: the result always lands on the next local day).
 */
export function msUntilNextLocalDay(atMs: number, timeZone: string): number {
  const today = localTime(atMs, timeZone);
  let delay = (DAY_MINUTES - today.minuteOfDay) * 60_000 - (atMs % 60_000);
  while (localTime(atMs + delay, timeZone).day === today.day) delay += 3_600_000;
  return delay;
}
