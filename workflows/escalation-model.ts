// The escalation workflow's data: its input and the check of it, its result, the SLA figures and the
// timeline. Deterministic and free of side effects (workflow code: imported by workflows/escalation.ts).
import { ApplicationFailure } from '@temporalio/workflow';
import type { EscalationReason, ProfileSummary, TranscriptTurn } from '../activities/types';
import { parseDuration, type Duration } from '../schemas/time';

export type EscalationExit = 'resolved' | 'abandoned';
export type EscalationPhase = 'waiting_for_agent' | 'assigned' | 'done';

export interface EscalationTimelineEntry {
  at: number;
  event:
    | 'escalated'
    | 'enqueued'
    | 'priority_raised'
    | 'supervisor_notified'
    | 'accepted'
    | 'accept_ignored'
    | 'message'
    | 'ticket_closed'
    | 'activity_failed'
    | 'exited';
  level?: number;
  agentId?: string;
  from?: 'agent' | 'user';
  detail?: string;
}

/**
 * SLA figures, all from the handoff (its event time). The first response is the agent accepting
 * (joining the conversation); `firstAgentMessageMs` is the agent's first message, for reference. A
 * `...Met` flag is absent while undecided (and stays absent if the flow ended before its deadline
 * without the response). The verdicts go by the desk events' own times: a deadline the workflow acted
 * on (level 2 or 3) because the desk's event reached it late is still met if the event says so; the
 * level reached records what was acted on.
 */
export interface EscalationSla {
  escalatedAt: number;
  firstResponseDueAt: number;
  resolutionDueAt: number;
  firstResponseMs?: number;
  firstAgentMessageMs?: number;
  resolutionMs?: number;
  slaFirstResponseMet?: boolean;
  slaResolutionMet?: boolean;
}

export interface EscalationInput {
  shopId: string;
  conversationId: string;
  userId: string;
  reason: EscalationReason;
  /** From the handoff: an agent must accept within it, or level 2. */
  firstResponseDeadline: Duration;
  /** From the handoff: the conversation must be resolved within it, or level 3. */
  resolutionDeadline: Duration;
  profileSummary?: ProfileSummary;
  transcript?: TranscriptTurn[];
  suggestedReplies?: string[];
  /**
   * When the handoff was requested (its event time), epoch ms: the SLA clocks start there, not when
   * a worker first runs the workflow. Default: the workflow's start. Never later than the start.
   */
  requestedAt?: number;
}

export interface EscalationResult extends EscalationSla {
  exit: EscalationExit;
  level: number;
  agentId?: string;
  timeline: EscalationTimelineEntry[];
}

/** The deadlines of an input in ms; a malformed one fails the workflow (non-retryable). */
export function validateEscalationInput(input: EscalationInput): {
  firstResponseMs: number;
  resolutionMs: number;
} {
  const problems: string[] = [];
  const positive = (name: string, d: string): number => {
    const ms = parseDuration(d);
    if (ms === undefined) problems.push(`${name}: malformed duration '${d}' (expected e.g. 2m, 30m, 1h)`);
    else if (ms <= 0) problems.push(`${name}: must be longer than zero`);
    return ms ?? 0;
  };
  const firstResponseMs = positive('firstResponseDeadline', input.firstResponseDeadline);
  const resolutionMs = positive('resolutionDeadline', input.resolutionDeadline);
  if (problems.length === 0 && resolutionMs < firstResponseMs)
    problems.push('resolutionDeadline: must not be shorter than firstResponseDeadline');
  if (problems.length > 0)
    throw ApplicationFailure.nonRetryable(
      `cannot escalate conversation '${input.conversationId}': ${problems.join('; ')}`,
      'EscalationInvalid',
    );
  return { firstResponseMs, resolutionMs };
}
