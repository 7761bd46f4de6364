// What the marketing flows (cart and coupon workflows) share: their activity proxies, waiting out
// the user's quiet hours, and a slot of the per-user daily cap. Workflow code: deterministic, time
// is workflow time, the slot is an activity (idempotent by the message's key).
import { proxyActivities, proxyLocalActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities, FlowEvent, IssuedCoupon } from '../activities/types';
import type { Channel, Flow } from './dsl';
import { attempt } from './outcome';
import { localTime, quietHoursDelayMs } from '../schemas/time';

/** Messages (a provider may be slow): regular activities. */
export const acts = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
});

/**
 * The short, idempotent calls (the KV ledger and slots, publishing to the event stream) as local
 * activities: they run inside the workflow task that needs them, recorded as one marker each,
 * instead of a round trip through the task queue with three history events and a workflow task.
 */
export const localActs = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
});

export interface StepRecord {
  event: 'quiet_hours' | 'capped' | 'send_failed';
  step: number;
  channel?: string;
  template?: string;
  detail: string;
}

/**
 * Waits while the user's clock is inside the flow's quiet hours (again if a wait ends inside them).
 * `pause` sleeps and says whether the time passed (false: the flow was interrupted). True when the
 * message may go now.
 */
export async function waitOutQuietHours(
  flow: Flow,
  timeZone: string,
  step: number,
  pause: (ms: number) => Promise<boolean>,
  record: (entry: StepRecord) => void,
): Promise<boolean> {
  const quiet = flow.quietHours;
  if (!quiet) return true;
  for (let delay = quietHoursDelayMs(Date.now(), timeZone, quiet); delay > 0;) {
    record({
      event: 'quiet_hours',
      step,
      detail: `due in quiet hours, waiting ${Math.ceil(delay / 60_000)}m`,
    });
    if (!(await pause(delay))) return false;
    delay = quietHoursDelayMs(Date.now(), timeZone, quiet);
  }
  return true;
}

/**
 * Takes one slot of the flow's frequency cap on the user-local day (all flows share the count); true
 * when the message may go. A refusal (or a failing slot store) is recorded as `capped`.
 */
export async function takeCapSlot(
  quick: Pick<Activities, 'reserveMessageSlot'>,
  flow: Flow,
  who: { shopId: string; userId: string; timeZone: string },
  message: { step: number; channel: string; template: string; key: string },
  record: (entry: StepRecord) => void,
): Promise<boolean> {
  if (!flow.frequencyCap) return true;
  const { shopId, userId, timeZone } = who;
  const { key, ...base } = message;
  const localDay = localTime(Date.now(), timeZone).day;
  const cap = flow.frequencyCap.perUserPerDay;
  const slot = await attempt(() => quick.reserveMessageSlot({ shopId, userId, localDay, cap, key }));
  if (slot.ok && slot.value.granted) return true;
  const detail = slot.ok
    ? `${slot.value.used} of ${cap} messages already sent on ${localDay}`
    : `no slot: ${slot.type}: ${slot.message}`;
  record({ event: 'capped', ...base, detail });
  return false;
}

/** A coupon's template variables. */
export function couponVars(c: IssuedCoupon): Record<string, string | number> {
  return { couponCode: c.code, couponAmountMinor: c.amountMinor, couponExpiresAt: c.expiresAt };
}

/**
 * Sends one message step (idempotent by its key); true when it went out. A business failure (a
 * channel not configured, a template the channel refuses) is recorded as `send_failed`.
 */
export async function sendStepMessage(
  who: { shopId: string; userId: string },
  message: { step: number; channel: Channel; template: string; key: string },
  vars: Record<string, string | number>,
  record: (entry: StepRecord) => void,
): Promise<boolean> {
  const { key, ...base } = message;
  const sent = await attempt(() =>
    acts.sendMessage({ ...who, channel: base.channel, template: base.template, vars, idempotencyKey: key }),
  );
  if (!sent.ok) record({ event: 'send_failed', ...base, detail: `${sent.type}: ${sent.message}` });
  return sent.ok;
}

/**
 * A flow event to publish from a local activity, its id's time pinned to the workflow's start. A local
 * activity runs inside a workflow task: when the worker dies before the task completes, nothing of it
 * is recorded and the next attempt runs it again at a later workflow time, so an id made from
 * occurredAt would differ and the event would be stored twice (found by `make chaos`). The key keeps
 * the ids of one flow's events apart.
 */
export function pinnedId<E extends FlowEvent>(event: E): E {
  return { ...event, idAt: workflowInfo().startTime.getTime() };
}
