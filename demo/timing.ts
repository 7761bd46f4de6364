// The demo's flow timing, also used by the chaos scenarios that run flows.

/**
 * The demo's flow timing: the shipped flows with their durations divided by 360 and waits capped at
 * 6 s (a cart counts as abandoned after 5 s, reminders follow within seconds), at any hour, and an
 * escalation's agent deadlines in seconds, so the simulated desk misses some.
 */
export const DEMO_TIMING: Record<string, string> = {
  FLOW_TIME_SCALE: '360',
  FLOW_MAX_WAIT: '6s',
  FLOW_QUIET_HOURS: 'off',
  FLOW_FREQUENCY_CAP: '10',
  ESCALATION_FIRST_RESPONSE: '5s',
  ESCALATION_RESOLUTION: '25s',
};
