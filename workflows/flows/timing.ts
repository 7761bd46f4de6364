// Flow timing from configuration, applied to the shipped flows: the demo and load tests run the same
// flows as production with their durations scaled down (`make demo`: 1 hour becomes 2 seconds), no
// quiet hours, and a looser frequency cap. Pure: the triggers apply it before they start a flow, and
// the flow travels to the workflow as its input, so a running flow keeps the timing it started with.
import { durationMs, type Duration } from '../../schemas/time';
import { defineFlow, type Flow, type Step } from '../dsl';

export interface FlowTiming {
  /** Every duration (abandonment, waits, coupon lifetimes) is divided by this; 1 leaves them as written. */
  timeScale: number;
  /** After scaling, no wait or abandonment window is longer than this (ms); 0: no cap. */
  maxWaitMs: number;
  /** Off: messages are sent at any hour of the user's day. */
  quietHours: boolean;
  /** Replaces each flow's cap of messages per user and day; 0 keeps the flow's own. */
  frequencyCapPerDay: number;
}

export const AS_WRITTEN: FlowTiming = { timeScale: 1, maxWaitMs: 0, quietHours: true, frequencyCapPerDay: 0 };

const isAsWritten = (t: FlowTiming): boolean =>
  t.timeScale === 1 && t.maxWaitMs === 0 && t.quietHours && t.frequencyCapPerDay === 0;

/** A duration divided by the scale, in whole seconds (at least 1 s: flows count in seconds), capped. */
export function scaleDuration(d: Duration, scale: number, capMs = 0): Duration {
  let s = Math.max(1, Math.round(durationMs(d) / scale / 1000));
  if (capMs > 0) s = Math.max(1, Math.min(s, Math.floor(capMs / 1000)));
  return `${s}s`;
}

/** The flow with the timing applied (the flow itself when the timing is as written). */
export function withTiming(flow: Flow, t: FlowTiming): Flow {
  if (isAsWritten(t)) return flow;
  const scale = (d: Duration, capped: boolean): Duration =>
    scaleDuration(d, t.timeScale, capped ? t.maxWaitMs : 0);
  const steps = flow.steps.map((s): Step => {
    if (s.kind === 'wait') return { ...s, duration: scale(s.duration, true) };
    if (s.kind === 'send_with_coupon' && s.coupon.expiresAfter)
      return { ...s, coupon: { ...s.coupon, expiresAfter: scale(s.coupon.expiresAfter, false) } };
    return s;
  });
  const { quietHours, ...rest } = flow;
  return defineFlow({
    ...rest,
    ...(t.quietHours && quietHours ? { quietHours } : {}),
    ...(flow.abandonAfter ? { abandonAfter: scale(flow.abandonAfter, true) } : {}),
    ...(t.frequencyCapPerDay > 0 ? { frequencyCap: { perUserPerDay: t.frequencyCapPerDay } } : {}),
    steps,
  });
}

/** The timing of the configuration's `flows` section (FLOW_TIME_SCALE, FLOW_MAX_WAIT, ...). */
export function timingFrom(cfg: {
  timeScale: number;
  maxWaitMs: number;
  quietHours: 'on' | 'off';
  frequencyCapPerDay: number;
}): FlowTiming {
  return {
    timeScale: cfg.timeScale,
    maxWaitMs: cfg.maxWaitMs,
    quietHours: cfg.quietHours === 'on',
    frequencyCapPerDay: cfg.frequencyCapPerDay,
  };
}
