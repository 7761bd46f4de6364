// Replays recorded histories of the shipped flows against today's workflow code: a change that would
// break a workflow already running in production (a command added, removed or reordered without
// patched()) fails here. Histories are recorded from real runs on the time-skipping server:
//   RECORD_HISTORIES=1 npx jest --selectProjects workflows test/workflows/replay.test.ts
// records the scenarios whose file does not exist yet. Record a new file (cart-recovery.v2.json, ...)
// for a new version or a patch; never re-record an old one: old files are what running workflows did.
// Every shipped workflow (workflows/index.ts) has at least one history here.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import {
  createEscalationActivities,
  createMemoryAgentQueue,
  createMemorySupervisorNotifier,
} from '../../activities';
import {
  cartChanged,
  cartRecoveryWorkflow,
  orderPlaced,
  type CartRecoveryInput,
} from '../../workflows/cart-recovery';
import {
  agentAccepted,
  escalationWorkflow,
  escalationWorkflowId,
  messageSent,
  resolved,
} from '../../workflows/escalation';
import {
  couponRedeemed,
  couponReleaseWorkflow,
  couponReleaseWorkflowId,
} from '../../workflows/coupon-release';
import { cartRecovery } from '../../workflows/flows/cart-recovery';
import { tierCoupons } from '../../workflows/flows/tier-coupons';
import { localTime } from '../../schemas/time';
import { bundleWorkflows, createFakes, startTestEnv, userIdFor, zoneWhere, type Fakes } from './helpers';

const HISTORIES = path.join(__dirname, '../fixtures/histories');
const MINUTE = 60_000;
const recording = process.env.RECORD_HISTORIES === '1';

interface Scenario {
  file: string;
  fakes: () => Fakes;
  run(env: TestWorkflowEnvironment, taskQueue: string, fakes: Fakes): Promise<string>;
}

function args(now: number, over: Partial<CartRecoveryInput>): CartRecoveryInput {
  return {
    flow: cartRecovery,
    shopId: 'shop-1',
    userId: userIdFor(cartRecovery.name, cartRecovery.audience!.holdoutPercent!, false),
    cartId: 'cart-1',
    tier: 'repeat',
    timeZone: 'UTC',
    cart: { totalMinor: 8_000, itemCount: 2, currency: 'USD', eventTime: now },
    ...over,
  };
}

/** The flows' fakes plus an agent desk (one agent, one conversation at a time) and a supervisor. */
function escalationFakes(): Fakes {
  const fakes = createFakes();
  const escalation = createEscalationActivities({
    queue: createMemoryAgentQueue({ agents: ['agent-1'], maxOpenPerAgent: 1 }),
    supervisors: createMemorySupervisorNotifier({ supervisors: ['supervisor-1'] }),
    publish: (e) => {
      fakes.events.push(e);
      return Promise.resolve();
    },
  });
  return {
    ...fakes,
    activities: { ...fakes.activities, ...escalation, publishEvent: fakes.activities.publishEvent },
  };
}

/** Abandoned, flow_entered, three reminders (the second with the coupon), completed. */
function completedCartRun(file: string, cartId: string): Scenario {
  return {
    file,
    fakes: () => createFakes(),
    async run(env, taskQueue, fakes) {
      const now = await env.currentTimeMs();
      const start = args(now, { cartId, timeZone: zoneWhere(now + 90 * MINUTE, '10:00') });
      const handle = await env.client.workflow.start(cartRecoveryWorkflow, {
        args: [start],
        taskQueue,
        workflowId: `record-${start.cartId}-${now}`,
      });
      const result = await handle.result();
      expect(result.exit).toBe('completed');
      expect(fakes.events.map((e) => e.type)).toEqual([
        'flow_entered',
        'reminder_sent',
        'coupon_issued',
        'reminder_sent',
        'reminder_sent',
      ]);
      return historyToJSON(await handle.fetchHistory());
    },
  };
}

/**
 * A chat escalation: no agent by the first-response deadline (level 2: priority raised, supervisor
 * notified), an agent accepts after it, messages, resolved before the resolution deadline.
 */
function escalationLevel2Run(file: string, events: string[]): Scenario {
  return {
    file,
    // routed to agent-1, who accepts only after the first-response deadline
    fakes: escalationFakes,
    async run(env, taskQueue, fakes) {
      const now = await env.currentTimeMs();
      const conversationId = `conv-${now}`;
      const handle = await env.client.workflow.start(escalationWorkflow, {
        args: [
          {
            shopId: 'shop-1',
            conversationId,
            userId: 'user-1',
            reason: 'explicit_request',
            firstResponseDeadline: '5m',
            resolutionDeadline: '30m',
            profileSummary: { tier: 'repeat' },
            transcript: [
              { role: 'user', text: 'Where is my order?' },
              { role: 'user', text: 'I want to talk to a person.' },
            ],
            suggestedReplies: ['Sorry for the wait, let me look up your order.'],
          },
        ],
        taskQueue,
        workflowId: escalationWorkflowId('shop-1', conversationId),
      });
      await env.sleep('7m');
      await handle.signal(agentAccepted, { agentId: 'agent-1' });
      await env.sleep('1m');
      await handle.signal(messageSent, { from: 'agent', agentId: 'agent-1', messageId: 'm-1' });
      await handle.signal(messageSent, { from: 'user', messageId: 'm-2' });
      await env.sleep('5m');
      await handle.signal(resolved, { agentId: 'agent-1' });
      const result = await handle.result();
      expect(result).toMatchObject({
        exit: 'resolved',
        level: 2,
        agentId: 'agent-1',
        slaFirstResponseMet: false,
        slaResolutionMet: true,
      });
      // the ticket is closed at the end from the 'escalation-ended' patch on
      expect(result.timeline.some((e) => e.event === 'ticket_closed')).toBe(
        events.includes('escalation_ended'),
      );
      expect(result.timeline.map((e) => e.event).filter((e) => e !== 'ticket_closed')).toEqual([
        'escalated',
        'enqueued',
        'escalated',
        'priority_raised',
        'supervisor_notified',
        'accepted',
        'message',
        'message',
        'exited',
      ]);
      expect(fakes.events.map((e) => e.type)).toEqual(events);
      return historyToJSON(await handle.fetchHistory());
    },
  };
}

const scenarios: Scenario[] = [
  {
    // a cart change, both reminders held by quiet hours (the second with the coupon), a purchase mid-wait
    file: 'cart-recovery.v1.json',
    fakes: () => createFakes(),
    async run(env, taskQueue) {
      const now = await env.currentTimeMs();
      const start = args(now, { timeZone: zoneWhere(now + 100 * MINUTE, '23:00') });
      const handle = await env.client.workflow.start(cartRecoveryWorkflow, {
        args: [start],
        taskQueue,
        workflowId: `record-${start.cartId}-${now}`,
      });
      await env.sleep('10m');
      await handle.signal(cartChanged, {
        totalMinor: 9_000,
        itemCount: 3,
        currency: 'USD',
        eventTime: now + 10 * MINUTE,
      });
      await env.sleep('40h');
      await handle.signal(orderPlaced, { orderId: 'order-1', eventTime: await env.currentTimeMs() });
      const result = await handle.result();
      expect(result.exit).toBe('purchased');
      // 23:00 -> 08:00; 23h later is 07:00, quiet again -> 08:00
      expect(result.timeline.map((e) => e.event)).toEqual([
        'abandoned',
        'quiet_hours',
        'sent',
        'quiet_hours',
        'sent',
        'exited',
      ]);
      return historyToJSON(await handle.fetchHistory());
    },
  },
  {
    // the first reminder over the frequency cap, the coupon budget spent, the flow runs to its end
    file: 'cart-recovery.v1.capped-no-budget.json',
    fakes: () =>
      createFakes({
        ledger: () => ({
          ref: (code) => code,
          issue: () =>
            Promise.resolve({ ok: false, reason: 'budget_exhausted', detail: 'campaign budget spent' }),
        }),
      }),
    async run(env, taskQueue, fakes) {
      const now = await env.currentTimeMs();
      const start = args(now, { timeZone: zoneWhere(now + 90 * MINUTE, '10:00') });
      const localDay = localTime(now + 90 * MINUTE, start.timeZone).day;
      for (const key of ['other-1', 'other-2'])
        await fakes.slots.reserve({ shopId: start.shopId, userId: start.userId, localDay, cap: 2, key });
      const handle = await env.client.workflow.start(cartRecoveryWorkflow, {
        args: [start],
        taskQueue,
        workflowId: `record-${start.cartId}-${now}`,
      });
      const result = await handle.result();
      expect(result.exit).toBe('completed');
      expect(result.timeline.map((e) => e.event)).toEqual([
        'abandoned',
        'capped',
        'coupon_skipped',
        'sent',
        'sent',
        'exited',
      ]);
      return historyToJSON(await handle.fetchHistory());
    },
  },
  escalationLevel2Run('escalation.v1.json', [
    'conversation_escalated',
    'conversation_escalated',
    'agent_assigned',
  ]),
  {
    // after the 'publish-late-assignment' patch: handoff, acceptance and resolution in the first task
    // (a worker running behind); SLA figures from the events' times; agent_assigned still published
    file: 'escalation.v1.late-assignment.json',
    fakes: escalationFakes,
    async run(env, taskQueue, fakes) {
      const now = await env.currentTimeMs();
      const conversationId = `conv-late-${now}`;
      // a queue no worker polls yet: the handoff (2 min ago), the acceptance and the resolution all
      // wait for the first workflow task, which a worker started afterwards then runs
      const lateQueue = `${taskQueue}-late`;
      const handle = await env.client.workflow.signalWithStart(escalationWorkflow, {
        args: [
          {
            shopId: 'shop-1',
            conversationId,
            userId: 'user-1',
            reason: 'negative_sentiment',
            firstResponseDeadline: '5m',
            resolutionDeadline: '30m',
            transcript: [{ role: 'user', text: 'This is the third time I ask!' }],
            suggestedReplies: ['I am sorry about this, let me sort it out now.'],
            requestedAt: now - 120_000,
          },
        ],
        taskQueue: lateQueue,
        workflowId: escalationWorkflowId('shop-1', conversationId),
        signal: agentAccepted,
        signalArgs: [{ agentId: 'agent-1', at: now - 90_000 }],
      });
      await handle.signal(resolved, { agentId: 'agent-1', at: now - 30_000 });
      const late = await Worker.create({
        connection: env.nativeConnection,
        taskQueue: lateQueue,
        workflowBundle,
        activities: fakes.activities,
      });
      const result = await late.runUntil(handle.result());
      expect(result).toMatchObject({ exit: 'resolved', firstResponseMs: 30_000, resolutionMs: 90_000 });
      expect(fakes.events.map((e) => e.type)).toEqual(['conversation_escalated', 'agent_assigned']);
      return historyToJSON(await handle.fetchHistory());
    },
  },
  // after the 'flow-entered-event' patch (every call an activity)
  completedCartRun('cart-recovery.v1.flow-entered.json', 'cart-2'),
  // after the 'local-activities' patch: slots, coupons and events as local activities
  completedCartRun('cart-recovery.v1.local-activities.json', 'cart-3'),
  {
    // the shipped tier-coupons flow: the welcome coupon at once, redeemed 3 days later (mid-wait)
    file: 'tier-coupons.v1.json',
    fakes: () => createFakes(),
    async run(env, taskQueue, fakes) {
      const now = await env.currentTimeMs();
      const userId = userIdFor(tierCoupons.name, tierCoupons.audience!.holdoutPercent!, false);
      const handle = await env.client.workflow.start(couponReleaseWorkflow, {
        args: [
          {
            flow: tierCoupons,
            shopId: 'shop-1',
            userId,
            tier: 'repeat',
            previousTier: 'new',
            timeZone: zoneWhere(now, '10:00'),
          },
        ],
        taskQueue,
        workflowId: couponReleaseWorkflowId('shop-1', userId, tierCoupons.name, 'repeat'),
      });
      await env.sleep('3d');
      const code = fakes.ledger.issued()[0]!.code;
      await handle.signal(couponRedeemed, { code, orderId: 'order-1', eventTime: await env.currentTimeMs() });
      const result = await handle.result();
      expect(result).toMatchObject({ exit: 'redeemed', orderId: 'order-1' });
      expect(fakes.events.map((e) => e.type)).toEqual(['flow_entered', 'coupon_issued', 'reminder_sent']);
      return historyToJSON(await handle.fetchHistory());
    },
  },
  {
    // after the 'capped-coupon-next-day' patch: the welcome over a busy day's cap waits for the user's
    // next morning, then the coupon is released; redeemed a day later
    file: 'tier-coupons.v1.capped-next-day.json',
    fakes: () => createFakes(),
    async run(env, taskQueue, fakes) {
      const now = await env.currentTimeMs();
      const userId = userIdFor(tierCoupons.name, tierCoupons.audience!.holdoutPercent!, false);
      const timeZone = zoneWhere(now, '10:00');
      const localDay = localTime(now, timeZone).day;
      for (const key of ['other-1', 'other-2'])
        await fakes.slots.reserve({ shopId: 'shop-1', userId, localDay, cap: 2, key });
      const handle = await env.client.workflow.start(couponReleaseWorkflow, {
        args: [
          { flow: tierCoupons, shopId: 'shop-1', userId, tier: 'repeat', previousTier: 'new', timeZone },
        ],
        taskQueue,
        workflowId: couponReleaseWorkflowId('shop-1', userId, tierCoupons.name, 'repeat'),
      });
      await env.sleep('2d');
      const code = fakes.ledger.issued()[0]!.code;
      await handle.signal(couponRedeemed, { code, orderId: 'order-2', eventTime: await env.currentTimeMs() });
      const result = await handle.result();
      expect(result).toMatchObject({ exit: 'redeemed', orderId: 'order-2' });
      expect(result.timeline.map((e) => e.event)).toEqual([
        'capped',
        'deferred',
        'quiet_hours',
        'sent',
        'exited',
      ]);
      return historyToJSON(await handle.fetchHistory());
    },
  },
  {
    // after the 'abandon-from-event-time' patch: started 20 minutes after the cart's last change (a
    // backlog), so abandoned 10 minutes in; a later change counts from its own event time (one that
    // happened 5 minutes before it arrived); ordered after the first reminder
    file: 'cart-recovery.v1.abandon-from-event-time.json',
    fakes: () => createFakes(),
    async run(env, taskQueue) {
      const now = await env.currentTimeMs();
      const start = args(now - 20 * MINUTE, {
        cartId: 'cart-late',
        timeZone: zoneWhere(now + 80 * MINUTE, '10:00'),
      });
      const handle = await env.client.workflow.start(cartRecoveryWorkflow, {
        args: [start],
        taskQueue,
        workflowId: `record-${start.cartId}-${now}`,
      });
      await env.sleep('15m');
      const changedAt = (await env.currentTimeMs()) - 5 * MINUTE;
      await handle.signal(cartChanged, { totalMinor: 9_000, itemCount: 3, eventTime: changedAt });
      await env.sleep('2h');
      await handle.signal(orderPlaced, { orderId: 'order-late', eventTime: await env.currentTimeMs() });
      const result = await handle.result();
      expect(result.exit).toBe('purchased');
      const abandoned = result.timeline.filter((e) => e.event === 'abandoned').map((e) => e.at);
      expect(abandoned.map((at) => Math.round((at - now) / MINUTE))).toEqual([10, 40]);
      expect(result.timeline.map((e) => e.event)).toEqual(['abandoned', 'abandoned', 'sent', 'exited']);
      return historyToJSON(await handle.fetchHistory());
    },
  },
  // after the 'escalation-ended' patch: the ticket closed, the end with its SLA verdicts an event
  escalationLevel2Run('escalation.v1.escalation-ended.json', [
    'conversation_escalated',
    'conversation_escalated',
    'agent_assigned',
    'escalation_ended',
  ]),
];

let workflowBundle: WorkflowBundleWithSourceMap;
beforeAll(async () => {
  workflowBundle = await bundleWorkflows();
});

(recording ? describe.skip : describe)('recorded histories replay on the current workflow code', () => {
  it.each(scenarios.map((s) => [s.file]))('%s', async (file) => {
    const history: unknown = JSON.parse(fs.readFileSync(path.join(HISTORIES, file), 'utf8'));
    await expect(Worker.runReplayHistory({ workflowBundle }, history, file)).resolves.toBeUndefined();
  });
});

(recording ? describe : describe.skip)('recording (RECORD_HISTORIES=1)', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await startTestEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  const missing = scenarios.filter((s) => !fs.existsSync(path.join(HISTORIES, s.file)));
  it.each(missing.map((s) => [s.file, s]))('%s', async (file, scenario) => {
    const fakes = scenario.fakes();
    const taskQueue = `record-${file}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle,
      activities: fakes.activities,
    });
    const json = await worker.runUntil(scenario.run(env, taskQueue, fakes));
    fs.mkdirSync(HISTORIES, { recursive: true });
    fs.writeFileSync(path.join(HISTORIES, file), `${JSON.stringify(JSON.parse(json), null, 1)}\n`);
  });
});
