// The time zone an event may carry (Envelope.time_zone): 'UTC', a fixed offset ('+08:00') or an IANA
// name ('Asia/Shanghai'), as the flows accept it (schemas/time.ts). One check for the producer SDK,
// the collector and the interest processor, so a zone is judged the same everywhere.
import type { ValidationIssue } from './validate';
import { isValidTimeZone } from './time';

const known = new Map<string, boolean>();
const MAX_CACHED = 1000;

/** True for a zone the flows can use. Cached: resolving an IANA name builds an Intl formatter. */
export function isKnownTimeZone(timeZone: string): boolean {
  let ok = known.get(timeZone);
  if (ok === undefined) {
    ok = timeZone.length <= 64 && isValidTimeZone(timeZone);
    if (known.size >= MAX_CACHED) known.clear(); // bounded: clients could send any text
    known.set(timeZone, ok);
  }
  return ok;
}

/** The issue for a time zone that is set but unusable (empty or absent is fine: not known). */
export function timeZoneIssue(timeZone: string | null | undefined, field = 'time_zone'): ValidationIssue[] {
  if (!timeZone || isKnownTimeZone(timeZone)) return [];
  const shown = JSON.stringify(timeZone.length > 64 ? `${timeZone.slice(0, 64)}...` : timeZone);
  return [
    {
      path: 'time_zone',
      code: 'format',
      message: `${field} ${shown} is not a time zone: use an IANA name such as Asia/Shanghai, UTC, or an offset such as +08:00`,
    },
  ];
}
