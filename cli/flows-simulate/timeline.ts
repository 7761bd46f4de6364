// How `shopstream flows simulate` prints a run: one row per timeline entry, relative to the first
// cart change and on the user-local clock, and why the flow stopped.
import type { Flow } from '../../workflows/dsl';
import type { ExitReason, TimelineEntry } from '../../workflows/cart-recovery';
import type { CouponExitReason } from '../../workflows/coupon-release';
import { localTime, parseClock } from '../../schemas/time';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const money = (minor: number): string => (minor / 100).toFixed(2);

export const EXIT_TEXT: Record<ExitReason | CouponExitReason, string> = {
  purchased: 'purchase',
  cart_emptied: 'cart emptied',
  opted_out: 'opt-out',
  completed: 'flow completed',
  not_in_audience: 'not in audience',
  redeemed: 'coupon redeemed',
  coupon_expired: 'coupon expired',
  no_coupon: 'no coupon issued (campaign budget spent)',
};

/** How a run ended, whichever workflow ran it. */
export interface RunResult {
  exit: ExitReason | CouponExitReason;
  orderId?: string;
  timeline: TimelineEntry[];
}

/** '+0m', '+1h30m', '+72h30m'. */
export function relative(ms: number): string {
  const minutes = Math.round(ms / MINUTE);
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  if (h === 0) return `+${m}m`;
  return m === 0 ? `+${h}h` : `+${h}h${m}m`;
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const pad = (n: number): string => String(n).padStart(2, '0');

export function localClock(at: number, timeZone: string): string {
  const { day, minuteOfDay } = localTime(at, timeZone);
  const weekday = WEEKDAYS[new Date(`${day}T00:00:00Z`).getUTCDay()]!;
  return `${weekday} ${pad(Math.floor(minuteOfDay / 60))}:${pad(minuteOfDay % 60)}`;
}

/** Milliseconds from `now` to the next instant the user-local clock reads `hhmm` (0 if it does now). */
export function untilLocal(now: number, timeZone: string, hhmm: string): number {
  const target = parseClock(hhmm) ?? 0;
  const diffMin = (target - localTime(now, timeZone).minuteOfDay + 1440) % 1440;
  return (diffMin * MINUTE - (now % MINUTE) + DAY) % DAY;
}

export interface Row {
  at: number;
  kind: string;
  text: string;
}

function stepLabel(flow: Flow, index: number | undefined): string {
  const s = index !== undefined ? flow.steps[index] : undefined;
  return s && s.kind !== 'wait' && s.kind !== 'end' ? `${s.channel} ${s.template}` : `step ${index ?? '?'}`;
}

export function rowFor(flow: Flow, e: TimelineEntry, result: RunResult, timeZone: string): Row {
  const what = e.channel ? `${e.channel} ${e.template ?? ''}`.trim() : stepLabel(flow, e.step);
  const c = e.coupon;
  const coupon = !c
    ? ''
    : c.code
      ? ` + coupon ${c.code} (${c.tier}, ${money(c.amountMinor)} off)`
      : ` + coupon (${c.tier}, ${money(c.amountMinor)} off; not issued)`;
  switch (e.event) {
    case 'abandoned':
      return {
        at: e.at,
        kind: 'abandoned',
        text: `cart unchanged for ${flow.abandonAfter}: ${e.step ? `resumes at step ${e.step}` : 'steps start'}`,
      };
    case 'sent':
      return { at: e.at, kind: 'sent', text: `${what}${coupon}` };
    case 'quiet_hours': {
      const q = flow.quietHours ? ` (${flow.quietHours.start}-${flow.quietHours.end})` : '';
      const minutes = Number(/waiting (\d+)m/.exec(e.detail ?? '')?.[1] ?? NaN);
      const held = Number.isFinite(minutes)
        ? `held ${relative(minutes * MINUTE).slice(1)} until ${localClock(e.at + minutes * MINUTE, timeZone).slice(4)}`
        : (e.detail ?? '');
      return { at: e.at, kind: 'waits', text: `${stepLabel(flow, e.step)}: due in quiet hours${q}, ${held}` };
    }
    case 'held_out':
      return {
        at: e.at,
        kind: 'skipped',
        text: `${what}${coupon}: holdout (user in the ${flow.audience?.holdoutPercent ?? 0}% holdout group)`,
      };
    case 'capped':
      return { at: e.at, kind: 'skipped', text: `${what}: frequency cap (${e.detail ?? ''})` };
    case 'deferred':
      return { at: e.at, kind: 'waits', text: `${what}: ${e.detail ?? ''}` };
    case 'coupon_skipped':
      return { at: e.at, kind: 'no coupon', text: `${stepLabel(flow, e.step)}: ${e.detail ?? ''}` };
    case 'send_failed':
      return { at: e.at, kind: 'failed', text: `${what}: ${e.detail ?? ''}` };
    case 'exited': {
      const reason = EXIT_TEXT[result.exit] ?? result.exit;
      return { at: e.at, kind: 'end', text: result.orderId ? `${reason} (order ${result.orderId})` : reason };
    }
  }
}
