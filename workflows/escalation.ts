// Runs a chat escalation for one conversation the bot handed over: queues it for a human agent (with
// the user's profile, the conversation so far and suggested replies) and keeps two SLA clocks from the
// handoff, Chatwoot-style: first response (an agent accepting) and resolution. No agent by the first
// deadline: priority raised, a supervisor notified, level 2. Not resolved by the resolution deadline:
// a supervisor notified again, level 3. Every step is an event (conversation_escalated per level,
// agent_assigned with the wait, escalation_ended with the SLA verdicts), keyed by workflow id and step, so a retried activity or a replayed
// workflow publishes the same event. Deterministic: time is workflow time, every side effect is an
// activity. Ends on resolved or user left.
//
// The input, result, SLA and timeline shapes and the input check are in escalation-model.ts.
import {
  condition,
  defineQuery,
  defineSignal,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { EscalationActivities, EscalationBreach } from '../activities/types';
import {
  validateEscalationInput,
  type EscalationExit,
  type EscalationInput,
  type EscalationPhase,
  type EscalationResult,
  type EscalationSla,
  type EscalationTimelineEntry,
} from './escalation-model';
import { attempt, type Outcome } from './outcome';

export type {
  EscalationExit,
  EscalationInput,
  EscalationPhase,
  EscalationResult,
  EscalationSla,
  EscalationTimelineEntry,
} from './escalation-model';

// The activity shapes live in activities/types.ts; re-exported for callers that import them from here.
export type {
  EnqueueForAgentRequest,
  EnqueuedConversation,
  EscalationActivities,
  EscalationBreach,
  EscalationEvent,
  EscalationReason,
  NotifySupervisorRequest,
  ProfileSummary,
  QueuePriority,
  RaisePriorityRequest,
  TranscriptTurn,
} from '../activities/types';

// ---- workflow ----------------------------------------------------------------------------------------

/** One escalation per conversation: the bot's handoff starts it under this id. */
export const escalationWorkflowId = (shopId: string, conversationId: string): string =>
  `escalation/${shopId}/${conversationId}`;

export interface AgentAcceptedSignal {
  agentId: string;
  /** When the agent accepted (the desk event's time), epoch ms; default: when the signal is handled. */
  at?: number;
}
export interface MessageSentSignal {
  from: 'agent' | 'user';
  agentId?: string;
  messageId?: string;
}
export interface ResolvedSignal {
  agentId?: string;
  /** When it was resolved (the desk event's time), epoch ms; default: when the signal is handled. */
  at?: number;
}

/** The first acceptance assigns the conversation; later ones are recorded and ignored. */
export const agentAccepted = defineSignal<[AgentAcceptedSignal]>('agentAccepted');
/** Recorded (with its time) and nothing else: no clock is reset. */
export const messageSent = defineSignal<[MessageSentSignal]>('messageSent');
export const resolved = defineSignal<[ResolvedSignal?]>('resolved');
export interface UserLeftSignal {
  /** When the user left (the desk event's time), epoch ms; default: when the signal is handled. */
  at?: number;
}
/** The user left: ends the escalation (abandoned). */
export const userLeft = defineSignal<[UserLeftSignal?]>('userLeft');

export interface EscalationState extends EscalationSla {
  phase: EscalationPhase;
  level: number;
  agentId?: string;
  ticketId?: string;
  messages: { agent: number; user: number };
  exit?: EscalationExit;
}
export const escalationState = defineQuery<EscalationState>('escalationState');

const acts = proxyActivities<EscalationActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
});

export async function escalationWorkflow(input: EscalationInput): Promise<EscalationResult> {
  const { shopId, conversationId, userId } = input;
  const deadlines = validateEscalationInput(input);
  const { workflowId } = workflowInfo();
  const escalatedAt = Math.min(Date.now(), input.requestedAt ?? Date.now());
  const sla: EscalationSla = {
    escalatedAt,
    firstResponseDueAt: escalatedAt + deadlines.firstResponseMs,
    resolutionDueAt: escalatedAt + deadlines.resolutionMs,
  };
  const timeline: EscalationTimelineEntry[] = [];
  const messages = { agent: 0, user: 0 };
  let phase: EscalationPhase = 'waiting_for_agent';
  let level = 0;
  let agentId: string | undefined;
  let ticketId: string | undefined;
  let exit: EscalationExit | undefined;
  let assignmentPublished = false;
  let leftAt: number | undefined;

  const record = (entry: Omit<EscalationTimelineEntry, 'at'>): void => {
    timeline.push({ at: Date.now(), ...entry });
  };
  /** Milliseconds from the handoff to `at` (a desk event's time) or to now. */
  const since = (at?: number): number => Math.max(0, Math.min(at ?? Date.now(), Date.now()) - escalatedAt);

  setHandler(agentAccepted, ({ agentId: agent, at }) => {
    if (exit) return;
    if (agentId !== undefined) {
      if (agent !== agentId)
        record({ event: 'accept_ignored', agentId: agent, detail: `assigned to ${agentId}` });
      return;
    }
    agentId = agent;
    phase = 'assigned';
    sla.firstResponseMs = since(at);
    sla.slaFirstResponseMet = sla.firstResponseMs <= deadlines.firstResponseMs;
    record({ event: 'accepted', agentId: agent });
  });
  setHandler(messageSent, (m) => {
    if (exit) return;
    messages[m.from]++;
    if (m.from === 'agent') sla.firstAgentMessageMs ??= since();
    record({ event: 'message', from: m.from, ...(m.agentId ? { agentId: m.agentId } : {}) });
  });
  setHandler(resolved, (r) => {
    if (exit) return;
    exit = 'resolved';
    sla.resolutionMs = since(r?.at);
    sla.slaResolutionMet = sla.resolutionMs <= deadlines.resolutionMs;
  });
  setHandler(userLeft, (left) => {
    if (exit) return;
    exit = 'abandoned';
    leftAt = Math.min(left?.at ?? Date.now(), Date.now());
  });
  setHandler(escalationState, () => ({
    ...sla,
    phase,
    level,
    ...(agentId !== undefined ? { agentId } : {}),
    ...(ticketId !== undefined ? { ticketId } : {}),
    messages: { ...messages },
    ...(exit ? { exit } : {}),
  }));

  /** Runs an activity; a business failure (or retries given up) is recorded and the flow goes on. */
  async function run<T>(what: string, call: () => Promise<T>): Promise<Outcome<T>> {
    const outcome = await attempt(call);
    if (!outcome.ok)
      record({ event: 'activity_failed', detail: `${what}: ${outcome.type}: ${outcome.message}` });
    return outcome;
  }

  async function escalate(to: number, reason: string): Promise<void> {
    level = to;
    record({ event: 'escalated', level: to, detail: reason });
    await run('publishEvent', () =>
      acts.publishEvent({
        type: 'conversation_escalated',
        shopId,
        userId,
        occurredAt: Date.now(),
        key: `${workflowId}/conversation_escalated/${to}`,
        properties: { conversationId, reason, level: to, workflowId },
      }),
    );
  }

  async function notifySupervisor(breach: EscalationBreach): Promise<void> {
    const notified = await run('notifySupervisor', () =>
      acts.notifySupervisor({
        shopId,
        conversationId,
        userId,
        level,
        reason: breach,
        waitedMs: since(),
        ...(agentId !== undefined ? { agentId } : {}),
        ...(ticketId !== undefined ? { ticketId } : {}),
        key: `${workflowId}/supervisor/${level}`,
      }),
    );
    if (notified.ok) record({ event: 'supervisor_notified', level, detail: breach });
  }

  /** agent_assigned, with the wait from the handoff to the acceptance. */
  async function publishAssignment(agent: string): Promise<void> {
    assignmentPublished = true;
    const waitMs = sla.firstResponseMs ?? since();
    await run('publishEvent', () =>
      acts.publishEvent({
        type: 'agent_assigned',
        shopId,
        userId,
        occurredAt: escalatedAt + waitMs,
        key: `${workflowId}/agent_assigned`,
        properties: { conversationId, agentId: agent, waitMs },
      }),
    );
  }

  // Level 1: the handoff.
  await escalate(1, input.reason);
  const ticket = await run('enqueueForAgent', () =>
    acts.enqueueForAgent({
      shopId,
      conversationId,
      userId,
      reason: input.reason,
      priority: 'normal',
      ...(input.profileSummary ? { profileSummary: input.profileSummary } : {}),
      transcript: input.transcript ?? [],
      suggestedReplies: input.suggestedReplies ?? [],
      escalatedAt,
      firstResponseDueAt: sla.firstResponseDueAt,
      resolutionDueAt: sla.resolutionDueAt,
      key: `${workflowId}/enqueue`,
    }),
  );
  if (ticket.ok) {
    ticketId = ticket.value.ticketId;
    record({ event: 'enqueued', detail: ticketId });
  }

  let firstResponseBreached = false;
  let resolutionBreached = false;
  while (exit === undefined) {
    if (agentId !== undefined && !assignmentPublished) {
      await publishAssignment(agentId);
      continue;
    }
    const now = Date.now();
    if (agentId === undefined && !firstResponseBreached && now >= sla.firstResponseDueAt) {
      firstResponseBreached = true;
      sla.slaFirstResponseMet = false;
      await escalate(2, 'first_response_sla_breach');
      const raised = await run('raisePriority', () =>
        acts.raisePriority({
          shopId,
          conversationId,
          ...(ticketId !== undefined ? { ticketId } : {}),
          priority: 'high',
          key: `${workflowId}/priority/high`,
        }),
      );
      if (raised.ok) record({ event: 'priority_raised', level, detail: 'high' });
      await notifySupervisor('first_response_sla_breach');
      continue;
    }
    if (!resolutionBreached && now >= sla.resolutionDueAt) {
      resolutionBreached = true;
      sla.slaResolutionMet = false;
      await escalate(3, 'resolution_sla_breach');
      await notifySupervisor('resolution_sla_breach');
      continue;
    }
    const due = [
      ...(agentId === undefined && !firstResponseBreached ? [sla.firstResponseDueAt] : []),
      ...(!resolutionBreached ? [sla.resolutionDueAt] : []),
    ];
    const woken = (): boolean => exit !== undefined || (agentId !== undefined && !assignmentPublished);
    if (due.length === 0) await condition(woken);
    else await condition(woken, Math.min(...due) - now);
  }

  // Accepted and closed before the loop saw the acceptance (both signals came in one task, e.g. the
  // worker was behind): the assignment is still a fact to publish. Older runs ended without it.
  if (agentId !== undefined && !assignmentPublished && patched('publish-late-assignment'))
    await publishAssignment(agentId);
  phase = 'done';
  // A deadline still open when the conversation ended (by the desk event's time: the user leaving, or
  // resolved before any agent accepted) is neither met nor missed, even if the worker acted on it
  // because the event reached it late.
  const endedAt = exit === 'abandoned' ? (leftAt ?? Date.now()) : escalatedAt + (sla.resolutionMs ?? 0);
  if (sla.firstResponseMs === undefined) {
    if (endedAt >= sla.firstResponseDueAt) sla.slaFirstResponseMet = false;
    else delete sla.slaFirstResponseMet;
  }
  if (exit === 'abandoned') {
    if (endedAt >= sla.resolutionDueAt) sla.slaResolutionMet = false;
    else delete sla.slaResolutionMet;
  }
  // The desk closes the ticket (the agent is free again); how it ended, with the SLA verdicts, is an
  // event, so attainment is measurable in ClickHouse. Older runs ended without either.
  if (patched('escalation-ended')) {
    if (ticketId !== undefined) {
      const closing = { shopId, conversationId, ticketId, exit, key: `${workflowId}/close` };
      const closed = await run('closeTicket', () =>
        acts.closeTicket({ ...closing, ...(agentId !== undefined ? { agentId } : {}) }),
      );
      if (closed.ok) record({ event: 'ticket_closed', detail: ticketId });
    }
    const verdict = (met?: boolean): string => (met === undefined ? 'undecided' : met ? 'met' : 'missed');
    await run('publishEvent', () =>
      acts.publishEvent({
        type: 'escalation_ended',
        shopId,
        userId,
        occurredAt: Date.now(),
        key: `${workflowId}/escalation_ended`,
        properties: {
          conversationId,
          workflowId,
          exit: exit!,
          level,
          ...(agentId !== undefined ? { agentId } : {}),
          firstResponseMs: sla.firstResponseMs ?? 0,
          resolutionMs: sla.resolutionMs ?? 0,
          firstResponseSla: verdict(sla.slaFirstResponseMet),
          resolutionSla: verdict(sla.slaResolutionMet),
        },
      }),
    );
  }
  record({ event: 'exited', detail: exit });
  return { exit, level, ...(agentId !== undefined ? { agentId } : {}), ...sla, timeline };
}
