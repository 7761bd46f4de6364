// The chat-escalation workflow on the time-skipping test server: the handoff queued with its context,
// acceptance before and after the first-response deadline (level 2 exactly once), the resolution
// deadline (level 3), the exits (resolved, user left), the state query mid-wait, and event ids that a
// retried publish does not change.
import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import type {
  CloseTicketRequest,
  EnqueueForAgentRequest,
  EscalationActivities,
  EscalationEvent,
  NotifySupervisorRequest,
  RaisePriorityRequest,
} from '../../activities/types';
import { deriveEventId } from '../../schemas/ulid';
import {
  agentAccepted,
  escalationState,
  escalationWorkflow,
  escalationWorkflowId,
  messageSent,
  resolved,
  userLeft,
  type EscalationInput,
  type EscalationTimelineEntry,
} from '../../workflows/escalation';
import { uniqueId, useWorkflowTestEnv } from './helpers';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
// The time-skipping server's clock also runs in real time between skips, and a loaded machine can take
// seconds for a client call: times are asserted at least what the test waited or the deadline says, and
// at most SLACK more (TIMER_SLACK for when a deadline's timer fired). Both are far below the deadlines
// (2 min, 30 min), so a deadline firing late (at twice its time, say) still fails.
const SLACK = MINUTE;
const TIMER_SLACK = 10 * SECOND;

const t = useWorkflowTestEnv('escalation');

type PublishedEvent = EscalationEvent & { eventId: string };

interface EscalationFakes {
  activities: EscalationActivities;
  enqueued: EnqueueForAgentRequest[];
  raised: RaisePriorityRequest[];
  notified: NotifySupervisorRequest[];
  closed: CloseTicketRequest[];
  /** Every publish, retries included. */
  published: PublishedEvent[];
}

/** In-memory escalation activities; `failFirstPublish` makes each event's first publish fail after it went out. */
function createEscalationFakes(options: { failFirstPublish?: boolean } = {}): EscalationFakes {
  const f: Omit<EscalationFakes, 'activities'> = {
    enqueued: [],
    raised: [],
    notified: [],
    closed: [],
    published: [],
  };
  const failedOnce = new Set<string>();
  const activities: EscalationActivities = {
    enqueueForAgent(req) {
      f.enqueued.push(req);
      return Promise.resolve({ ticketId: `ticket-${req.conversationId}` });
    },
    raisePriority(req) {
      f.raised.push(req);
      return Promise.resolve();
    },
    notifySupervisor(req) {
      f.notified.push(req);
      return Promise.resolve();
    },
    closeTicket(req) {
      f.closed.push(req);
      return Promise.resolve();
    },
    publishEvent(event) {
      f.published.push({ ...event, eventId: deriveEventId(event.occurredAt, event.key) });
      if (options.failFirstPublish && !failedOnce.has(event.key)) {
        failedOnce.add(event.key);
        return Promise.reject(new Error('broker timeout after the publish went out'));
      }
      return Promise.resolve();
    },
  };
  return { ...f, activities };
}

const withWorker = <T>(fakes: EscalationFakes, run: () => Promise<T>): Promise<T> =>
  t.withWorker(fakes.activities, run);

function input(over: Partial<EscalationInput> = {}): EscalationInput {
  return {
    shopId: 'shop-1',
    conversationId: uniqueId('conv'),
    userId: uniqueId('user'),
    reason: 'explicit_request',
    firstResponseDeadline: '2m',
    resolutionDeadline: '30m',
    profileSummary: { tier: 'high_value', interests: ['running shoes'] },
    transcript: [
      { role: 'user', text: 'Where is my order?' },
      { role: 'bot', text: 'Let me check that for you.' },
      { role: 'user', text: 'I want to talk to a person.' },
    ],
    suggestedReplies: ['Sorry for the wait, let me look up your order.'],
    ...over,
  };
}

async function start(args: EscalationInput) {
  const handle = await t.env.client.workflow.start(escalationWorkflow, {
    args: [args],
    taskQueue: t.taskQueue,
    workflowId: escalationWorkflowId(args.shopId, args.conversationId),
  });
  t.started.push(handle);
  return handle;
}

const entries = (timeline: EscalationTimelineEntry[], event: EscalationTimelineEntry['event']) =>
  timeline.filter((e) => e.event === event);

/** Published events, one per event id (what JetStream's duplicate window keeps). */
const distinct = (published: PublishedEvent[]) => [...new Map(published.map((e) => [e.eventId, e])).values()];

describe('escalation deadlines', () => {
  it('queues the handoff with its context; an agent accepting before the deadline keeps level 1 and meets both SLAs', async () => {
    const fakes = createEscalationFakes();
    const args = input();
    const { before, result, t0 } = await withWorker(fakes, async () => {
      const t0 = await t.env.currentTimeMs();
      const handle = await start(args);
      await t.env.sleep('1m');
      const before = await handle.query(escalationState);
      await handle.signal(agentAccepted, { agentId: 'agent-7' });
      await t.env.sleep('30s');
      await handle.signal(messageSent, { from: 'agent', agentId: 'agent-7' });
      await handle.signal(messageSent, { from: 'user' });
      await t.env.sleep('10m');
      await handle.signal(resolved, { agentId: 'agent-7' });
      return { before, result: await handle.result(), t0 };
    });

    // the state query during the wait for an agent
    expect(before).toMatchObject({
      phase: 'waiting_for_agent',
      level: 1,
      ticketId: `ticket-${args.conversationId}`,
      messages: { agent: 0, user: 0 },
    });
    expect(before.agentId).toBeUndefined();
    expect(before.slaFirstResponseMet).toBeUndefined();
    expect(before.firstResponseDueAt - before.escalatedAt).toBe(2 * MINUTE);
    expect(before.resolutionDueAt - before.escalatedAt).toBe(30 * MINUTE);

    expect(fakes.enqueued).toHaveLength(1);
    expect(fakes.enqueued[0]).toMatchObject({
      conversationId: args.conversationId,
      userId: args.userId,
      reason: 'explicit_request',
      priority: 'normal',
      profileSummary: args.profileSummary,
      transcript: args.transcript,
      suggestedReplies: args.suggestedReplies,
    });

    expect(result).toMatchObject({
      exit: 'resolved',
      level: 1,
      agentId: 'agent-7',
      slaFirstResponseMet: true,
      slaResolutionMet: true,
    });
    expect(result.escalatedAt - t0).toBeLessThan(SLACK);
    expect(result.firstResponseMs).toBeGreaterThanOrEqual(MINUTE);
    expect(result.firstResponseMs).toBeLessThan(MINUTE + SLACK);
    expect(result.firstAgentMessageMs! - result.firstResponseMs!).toBeGreaterThanOrEqual(30 * SECOND);
    expect(result.resolutionMs).toBeGreaterThanOrEqual(11 * MINUTE + 30 * SECOND);
    expect(result.resolutionMs).toBeLessThan(11 * MINUTE + 30 * SECOND + SLACK);
    expect(fakes.raised).toEqual([]);
    expect(fakes.notified).toEqual([]);
    expect(entries(result.timeline, 'message').map((e) => e.from)).toEqual(['agent', 'user']);

    expect(fakes.published.map((e) => e.type)).toEqual([
      'conversation_escalated',
      'agent_assigned',
      'escalation_ended',
    ]);
    const [escalated, assigned, ended] = fakes.published;
    expect(escalated!.properties).toEqual({
      conversationId: args.conversationId,
      reason: 'explicit_request',
      level: 1,
      workflowId: escalationWorkflowId(args.shopId, args.conversationId),
    });
    expect(assigned!.properties).toEqual({
      conversationId: args.conversationId,
      agentId: 'agent-7',
      waitMs: result.firstResponseMs,
    });
    expect(assigned!.occurredAt).toBe(result.escalatedAt + result.firstResponseMs!);
    expect(ended!.properties).toEqual({
      conversationId: args.conversationId,
      workflowId: escalationWorkflowId(args.shopId, args.conversationId),
      exit: 'resolved',
      level: 1,
      agentId: 'agent-7',
      firstResponseMs: result.firstResponseMs,
      resolutionMs: result.resolutionMs,
      firstResponseSla: 'met',
      resolutionSla: 'met',
    });
    expect(ended!.key).toBe(`${escalationWorkflowId(args.shopId, args.conversationId)}/escalation_ended`);
    // the desk closes the ticket, once, before the end is published
    expect(fakes.closed).toEqual([
      {
        shopId: args.shopId,
        conversationId: args.conversationId,
        ticketId: `ticket-${args.conversationId}`,
        exit: 'resolved',
        agentId: 'agent-7',
        key: `${escalationWorkflowId(args.shopId, args.conversationId)}/close`,
      },
    ]);
    expect(result.timeline.map((e) => e.event).slice(-2)).toEqual(['ticket_closed', 'exited']);
  });

  it('with no agent by the first-response deadline: priority raised, supervisor notified and level 2, once; a later acceptance misses the SLA', async () => {
    const fakes = createEscalationFakes();
    const args = input({ reason: 'negative_sentiment' });
    const { atDeadline, later, result } = await withWorker(fakes, async () => {
      const handle = await start(args);
      await t.env.sleep('2m');
      await t.env.sleep('5s');
      const atDeadline = await handle.query(escalationState);
      await t.env.sleep('8m'); // still unassigned: nothing more happens
      const later = await handle.query(escalationState);
      await handle.signal(agentAccepted, { agentId: 'agent-2' });
      await t.env.sleep('1m');
      await handle.signal(agentAccepted, { agentId: 'agent-3' }); // too late: already assigned
      await handle.signal(resolved);
      return { atDeadline, later, result: await handle.result() };
    });

    expect(atDeadline).toMatchObject({ phase: 'waiting_for_agent', level: 2, slaFirstResponseMet: false });
    expect(later).toMatchObject({ level: 2 });
    expect(fakes.raised).toEqual([
      expect.objectContaining({ priority: 'high', ticketId: `ticket-${args.conversationId}` }),
    ]);
    expect(fakes.notified).toHaveLength(1);
    expect(fakes.notified[0]).toMatchObject({ level: 2, reason: 'first_response_sla_breach' });
    expect(fakes.notified[0]!.waitedMs).toBeGreaterThanOrEqual(2 * MINUTE);
    expect(fakes.notified[0]!.waitedMs).toBeLessThan(2 * MINUTE + SLACK);
    const [escalated2] = entries(result.timeline, 'escalated').filter((e) => e.level === 2);
    expect(escalated2!.at - result.escalatedAt - 2 * MINUTE).toBeGreaterThanOrEqual(0); // at the deadline
    expect(escalated2!.at - result.escalatedAt - 2 * MINUTE).toBeLessThan(TIMER_SLACK);

    expect(result).toMatchObject({
      exit: 'resolved',
      level: 2,
      agentId: 'agent-2',
      slaFirstResponseMet: false,
      slaResolutionMet: true,
    });
    expect(result.firstResponseMs).toBeGreaterThanOrEqual(10 * MINUTE);
    expect(entries(result.timeline, 'accept_ignored')).toEqual([
      expect.objectContaining({ agentId: 'agent-3' }),
    ]);
    expect(
      fakes.published.map((e) => [e.type, 'level' in e.properties ? e.properties.level : undefined]),
    ).toEqual([
      ['conversation_escalated', 1],
      ['conversation_escalated', 2],
      ['agent_assigned', undefined],
      ['escalation_ended', 2],
    ]);
    expect(fakes.published[1]!.properties).toMatchObject({ reason: 'first_response_sla_breach' });
    expect(fakes.published[2]!.properties).toMatchObject({
      agentId: 'agent-2',
      waitMs: result.firstResponseMs,
    });
    expect(fakes.published[3]!.properties).toMatchObject({
      firstResponseSla: 'missed',
      resolutionSla: 'met',
    });
  });

  it('unresolved past the resolution deadline: level 3 and the supervisor notified, once', async () => {
    const fakes = createEscalationFakes();
    const args = input();
    const { state, result } = await withWorker(fakes, async () => {
      const handle = await start(args);
      await t.env.sleep('1m');
      await handle.signal(agentAccepted, { agentId: 'agent-7' });
      await t.env.sleep('45m');
      const state = await handle.query(escalationState);
      await handle.signal(resolved);
      return { state, result: await handle.result() };
    });

    expect(state).toMatchObject({
      phase: 'assigned',
      level: 3,
      agentId: 'agent-7',
      slaFirstResponseMet: true,
      slaResolutionMet: false,
    });
    expect(fakes.raised).toEqual([]); // the first response was in time: no level 2
    expect(fakes.notified).toEqual([
      expect.objectContaining({ level: 3, reason: 'resolution_sla_breach', agentId: 'agent-7' }),
    ]);
    const [escalated3] = entries(result.timeline, 'escalated').filter((e) => e.level === 3);
    expect(escalated3!.at - result.escalatedAt - 30 * MINUTE).toBeGreaterThanOrEqual(0);
    expect(escalated3!.at - result.escalatedAt - 30 * MINUTE).toBeLessThan(TIMER_SLACK);
    expect(result).toMatchObject({
      exit: 'resolved',
      level: 3,
      slaFirstResponseMet: true,
      slaResolutionMet: false,
    });
    expect(result.resolutionMs).toBeGreaterThanOrEqual(46 * MINUTE);
    expect(fakes.published.map((e) => e.type)).toEqual([
      'conversation_escalated',
      'agent_assigned',
      'conversation_escalated',
      'escalation_ended',
    ]);
    expect(fakes.published[2]!.properties).toMatchObject({ level: 3, reason: 'resolution_sla_breach' });
    expect(fakes.published[3]!.properties).toMatchObject({
      exit: 'resolved',
      level: 3,
      firstResponseSla: 'met',
      resolutionSla: 'missed',
    });
  });

  it('never accepted: level 2 at the first deadline, level 3 at the resolution deadline', async () => {
    const fakes = createEscalationFakes();
    const state = await withWorker(fakes, async () => {
      const handle = await start(input({ firstResponseDeadline: '5m', resolutionDeadline: '1h' }));
      await t.env.sleep('61m');
      const state = await handle.query(escalationState);
      await handle.signal(userLeft);
      await handle.result();
      return state;
    });
    expect(state).toMatchObject({ level: 3, slaFirstResponseMet: false, slaResolutionMet: false });
    expect(fakes.notified.map((n) => [n.level, n.reason])).toEqual([
      [2, 'first_response_sla_breach'],
      [3, 'resolution_sla_breach'],
    ]);
    expect(fakes.raised).toHaveLength(1);
    expect(fakes.published.at(-1)).toMatchObject({
      type: 'escalation_ended',
      properties: {
        exit: 'abandoned',
        level: 3,
        firstResponseMs: 0,
        resolutionMs: 0,
        firstResponseSla: 'missed',
        resolutionSla: 'missed',
      },
    });
    expect(fakes.published.at(-1)!.properties).not.toHaveProperty('agentId');
  });
});

describe('exits', () => {
  it('ends at once when the user leaves, before any deadline: abandoned, SLAs undecided', async () => {
    const fakes = createEscalationFakes();
    const { result, leftAt } = await withWorker(fakes, async () => {
      const handle = await start(input());
      await t.env.sleep('1m');
      const leftAt = await t.env.currentTimeMs();
      await handle.signal(userLeft);
      return { result: await handle.result(), leftAt };
    });
    expect(result).toMatchObject({ exit: 'abandoned', level: 1 });
    expect(result.agentId).toBeUndefined();
    expect(result.slaFirstResponseMet).toBeUndefined();
    expect(result.slaResolutionMet).toBeUndefined();
    expect(result.timeline.at(-1)).toMatchObject({ event: 'exited', detail: 'abandoned' });
    // at once, not at a deadline: before the first one (2 min after the handoff, 1 min after leftAt)
    expect(result.timeline.at(-1)!.at - leftAt).toBeLessThan(SLACK);
    expect(result.timeline.at(-1)!.at).toBeLessThan(result.escalatedAt + 2 * MINUTE);
    expect(fakes.notified).toEqual([]);
    expect(fakes.published.map((e) => e.type)).toEqual(['conversation_escalated', 'escalation_ended']);
    expect(fakes.closed).toEqual([expect.objectContaining({ exit: 'abandoned' })]);
    expect(fakes.closed[0]).not.toHaveProperty('agentId');
    expect(fakes.published[1]!.properties).toMatchObject({
      exit: 'abandoned',
      firstResponseSla: 'undecided',
      resolutionSla: 'undecided',
    });
  });

  it('ends at once when resolved, even before an agent accepted', async () => {
    const fakes = createEscalationFakes();
    const result = await withWorker(fakes, async () => {
      const handle = await start(input());
      await t.env.sleep('30s');
      await handle.signal(resolved);
      return handle.result();
    });
    expect(result).toMatchObject({ exit: 'resolved', level: 1, slaResolutionMet: true });
    expect(result.resolutionMs).toBeLessThan(30 * SECOND + SLACK); // the signal's time, before any deadline
    expect(result.slaFirstResponseMet).toBeUndefined();
    expect(fakes.notified).toEqual([]);
  });

  it('fails at once, without retrying, on malformed or inconsistent deadlines', async () => {
    const fakes = createEscalationFakes();
    const err = await withWorker(fakes, async () =>
      (await start(input({ firstResponseDeadline: '1h', resolutionDeadline: '30m' })))
        .result()
        .catch((e: unknown) => e),
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe('EscalationInvalid');
    expect(cause!.message).toMatch(/resolutionDeadline: must not be shorter than firstResponseDeadline/);
    expect(fakes.enqueued).toEqual([]);
  });
});

describe('events', () => {
  it('a retried publish publishes the same event: ids from the workflow id and the step', async () => {
    const fakes = createEscalationFakes({ failFirstPublish: true });
    const args = input();
    await withWorker(fakes, async () => {
      const handle = await start(args);
      await t.env.sleep('3m'); // level 2 at 2m
      await handle.signal(agentAccepted, { agentId: 'agent-1' });
      await t.env.sleep('1m');
      await handle.signal(resolved);
      return handle.result();
    });
    expect(fakes.published).toHaveLength(8); // each of the four published twice
    const events = distinct(fakes.published);
    expect(events.map((e) => e.type)).toEqual([
      'conversation_escalated',
      'conversation_escalated',
      'agent_assigned',
      'escalation_ended',
    ]);
    const workflowId = escalationWorkflowId(args.shopId, args.conversationId);
    expect(events.map((e) => e.key)).toEqual([
      `${workflowId}/conversation_escalated/1`,
      `${workflowId}/conversation_escalated/2`,
      `${workflowId}/agent_assigned`,
      `${workflowId}/escalation_ended`,
    ]);
  });
});

describe('a worker running behind the desk', () => {
  /** The handoff and the user leaving, both in the past, reach the worker's first task together. */
  async function leftBeforeTheWorkerSawIt(handoffAgo: number, leftAgo: number) {
    const fakes = createEscalationFakes();
    const now = await t.env.currentTimeMs();
    const args = input({ requestedAt: now - handoffAgo });
    const handle = await t.env.client.workflow.signalWithStart(escalationWorkflow, {
      args: [args],
      taskQueue: t.taskQueue,
      workflowId: escalationWorkflowId(args.shopId, args.conversationId),
      signal: userLeft,
      signalArgs: [{ at: now - leftAgo }],
    });
    t.started.push(handle);
    return { fakes, result: await withWorker(fakes, () => handle.result()) };
  }

  it('a user who left before the first deadline, seen by the worker after it: undecided, not missed', async () => {
    // deadlines 2 min and 30 min; the handoff 3 min ago, the user gone 1 min after it
    const { fakes, result } = await leftBeforeTheWorkerSawIt(3 * MINUTE, 2 * MINUTE);
    expect(result.exit).toBe('abandoned');
    expect(result.slaFirstResponseMet).toBeUndefined();
    expect(result.slaResolutionMet).toBeUndefined();
    expect(distinct(fakes.published).at(-1)!.properties).toMatchObject({
      firstResponseSla: 'undecided',
      resolutionSla: 'undecided',
    });
  });

  it('a user who left after the first deadline without an agent: missed, by the event time', async () => {
    const { result } = await leftBeforeTheWorkerSawIt(4 * MINUTE, MINUTE);
    expect(result).toMatchObject({ exit: 'abandoned', slaFirstResponseMet: false });
    expect(result.slaResolutionMet).toBeUndefined();
  });

  it('a deadline acted on because the desk event came late is judged by the event: level 2, SLA met', async () => {
    const fakes = createEscalationFakes();
    const args = input(); // first response within 2 min
    const result = await withWorker(fakes, async () => {
      const handle = await start(args);
      await t.env.sleep('3m'); // the timer fired: level 2, the supervisor paged
      const { escalatedAt } = await handle.query(escalationState);
      // the desk's acceptance, 1 min after the handoff, reaches the workflow only now
      await handle.signal(agentAccepted, { agentId: 'agent-5', at: escalatedAt + MINUTE });
      await handle.signal(resolved, { agentId: 'agent-5' });
      return handle.result();
    });
    expect(result).toMatchObject({ level: 2, firstResponseMs: MINUTE, slaFirstResponseMet: true });
    expect(fakes.notified).toHaveLength(1);
    expect(distinct(fakes.published).at(-1)!.properties).toMatchObject({ level: 2, firstResponseSla: 'met' });
  });

  it('a user who left before a deadline the workflow then acted on: undecided', async () => {
    const fakes = createEscalationFakes();
    const result = await withWorker(fakes, async () => {
      const handle = await start(input());
      await t.env.sleep('3m');
      const { escalatedAt } = await handle.query(escalationState);
      await handle.signal(userLeft, { at: escalatedAt + MINUTE });
      return handle.result();
    });
    expect(result.level).toBe(2);
    expect(result.slaFirstResponseMet).toBeUndefined();
    expect(result.slaResolutionMet).toBeUndefined();
  });

  it('counts the SLAs from the events’ times, and publishes the assignment when acceptance and resolution came together', async () => {
    const fakes = createEscalationFakes();
    // no worker yet: the handoff (90 s ago), the acceptance (30 s after it) and the resolution (60 s
    // after it) all wait for the workflow's first task
    const now = await t.env.currentTimeMs();
    const args = input({ requestedAt: now - 90 * SECOND });
    const handle = await t.env.client.workflow.signalWithStart(escalationWorkflow, {
      args: [args],
      taskQueue: t.taskQueue,
      workflowId: escalationWorkflowId(args.shopId, args.conversationId),
      signal: agentAccepted,
      signalArgs: [{ agentId: 'agent-3', at: now - 60 * SECOND }],
    });
    t.started.push(handle);
    await handle.signal(resolved, { agentId: 'agent-3', at: now - 30 * SECOND });
    const result = await withWorker(fakes, () => handle.result());
    expect(result).toMatchObject({
      exit: 'resolved',
      level: 1,
      agentId: 'agent-3',
      firstResponseMs: 30 * SECOND,
      slaFirstResponseMet: true,
      resolutionMs: 60 * SECOND,
      slaResolutionMet: true,
    });
    const assigned = distinct(fakes.published).filter((e) => e.type === 'agent_assigned');
    expect(assigned.map((e) => e.properties)).toEqual([
      expect.objectContaining({ agentId: 'agent-3', waitMs: 30 * SECOND }),
    ]);
  });
});
