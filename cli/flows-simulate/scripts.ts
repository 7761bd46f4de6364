// The scripted customers `shopstream flows simulate` runs a flow against: cart flows' and tier
// flows' scripts, each a start time on the user-local clock and what the customer does after which
// message.
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export type CustomerAction = 'order' | 'empty_cart' | 'opt_out' | 'change_cart' | 'redeem';

export interface ScriptAction {
  /** After this many messages have been sent (0: after the first cart change or the tier change)... */
  afterSent: number;
  /** ...and this much more time. */
  delayMs: number;
  do: CustomerAction;
}

export interface CustomerScript {
  description: string;
  /** User-local clock time of the first cart change (or of reaching the tier). */
  startsAt: `${number}:${number}`;
  heldOut?: boolean;
  /** Already used every frequency-cap slot of the first day on other flows. */
  busyDay?: boolean;
  actions: ScriptAction[];
}

export const SCRIPTS: Readonly<Record<string, CustomerScript>> = {
  abandon: {
    description: 'adds to cart at 08:30, never comes back',
    startsAt: '08:30',
    actions: [],
  },
  'buys-after-first-reminder': {
    description: 'adds to cart at 08:30, orders 2h after the first reminder',
    startsAt: '08:30',
    actions: [{ afterSent: 1, delayMs: 2 * HOUR, do: 'order' }],
  },
  'night-owl': {
    description: 'adds to cart at 22:30 and leaves: reminders fall in quiet hours',
    startsAt: '22:30',
    actions: [],
  },
  'empties-cart': {
    description: 'adds to cart at 08:30, empties it 3h after the first reminder',
    startsAt: '08:30',
    actions: [{ afterSent: 1, delayMs: 3 * HOUR, do: 'empty_cart' }],
  },
  'opts-out': {
    description: 'adds to cart at 08:30, opts out 1h after the first reminder',
    startsAt: '08:30',
    actions: [{ afterSent: 1, delayMs: HOUR, do: 'opt_out' }],
  },
  'comes-back': {
    description:
      'adds to cart at 08:30, changes it 2h after the first reminder (the flow waits again), then leaves',
    startsAt: '08:30',
    actions: [{ afterSent: 1, delayMs: 2 * HOUR, do: 'change_cart' }],
  },
  'held-out': {
    description: 'adds to cart at 08:30, never comes back; the user is in the holdout group',
    startsAt: '08:30',
    heldOut: true,
    actions: [],
  },
  'busy-day': {
    description: 'adds to cart at 08:30 after other flows used all of today’s message slots',
    startsAt: '08:30',
    busyDay: true,
    actions: [],
  },
};

/** Scripts for tier_reached flows: the customer has just reached a tier. */
export const TIER_SCRIPTS: Readonly<Record<string, CustomerScript>> = {
  ignores: {
    description: 'reaches the tier at 10:00, never uses the coupon',
    startsAt: '10:00',
    actions: [],
  },
  redeems: {
    description: 'reaches the tier at 10:00, orders with the coupon 2 days later',
    startsAt: '10:00',
    actions: [{ afterSent: 1, delayMs: 2 * DAY, do: 'redeem' }],
  },
  'night-owl': {
    description: 'reaches the tier at 22:30 (a late order): the coupon message waits for the morning',
    startsAt: '22:30',
    actions: [],
  },
  'opts-out': {
    description: 'reaches the tier at 10:00, opts out a day later',
    startsAt: '10:00',
    actions: [{ afterSent: 1, delayMs: DAY, do: 'opt_out' }],
  },
  'held-out': {
    description: 'reaches the tier at 10:00; the user is in the holdout group',
    startsAt: '10:00',
    heldOut: true,
    actions: [],
  },
  'busy-day': {
    description: 'reaches the tier at 10:00 after other flows used all of today’s message slots',
    startsAt: '10:00',
    busyDay: true,
    actions: [],
  },
};
