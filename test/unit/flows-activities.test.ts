// The flows' activities without a server: the coupon ledger (deterministic codes, budget held under
// concurrency), message slots (the cap, idempotent per message), the log channel, the escalation's
// agent queue (idempotent per key, routing within per-agent limits) and supervisor notifier, and
// business failures as non-retryable ApplicationFailures.
import { ApplicationFailure } from '@temporalio/activity';
import {
  ActivityErrorType,
  couponCode,
  createActivities,
  createLogChannel,
  createMemoryCouponLedger,
  createMemoryAgentQueue,
  maskCode,
  createMemoryMessageSlots,
  createMemorySupervisorNotifier,
  type CouponLedger,
  type EnqueueForAgentRequest,
  type IssueCouponRequest,
  type NotifySupervisorRequest,
  type PublishedFlowEvent,
} from '../../activities';
import type { KV } from 'nats';
import { createKvCouponLedger } from '../../coupons/kv-coupon-ledger';
import { worker } from '../../cli/commands/worker';
import { ConfigError, loadConfig } from '../../infra/config';
import { createLogger } from '../../infra/logger';
import { deriveEventId, isUlid } from '../../schemas/ulid';
import { couponIssued, couponRedeemed, reminderSent } from '../../workflows/flow-events';
import { startService } from '../../streams/service';

const request = (over: Partial<IssueCouponRequest> = {}): IssueCouponRequest => ({
  shopId: 'shop-1',
  userId: 'user-1',
  campaign: 'spring',
  budget: { maxCoupons: 10 },
  tier: 'repeat',
  amountMinor: 1_000,
  currency: 'USD',
  issuedAt: 1_000,
  expiresAt: 2_000,
  ...over,
});

describe('coupon ledger', () => {
  it('derives the code from shop, user, campaign and tier (and the secret)', () => {
    const code = couponCode('s', request());
    expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
    expect(couponCode('s', request())).toBe(code);
    expect(couponCode('s', request({ tier: 'new' }))).not.toBe(code);
    expect(couponCode('s', request({ userId: 'user-2' }))).not.toBe(code);
    expect(couponCode('other secret', request())).not.toBe(code);
  });

  it('codes cannot be derived without the secret: ledgers with different secrets give different codes', async () => {
    const issue = async (ledger: CouponLedger): Promise<string> => {
      const out = await ledger.issue(request());
      if (!out.ok) throw new Error(out.detail);
      return out.coupon.code;
    };
    const a = await issue(createMemoryCouponLedger({ secret: 'a'.repeat(32) }));
    const b = await issue(createMemoryCouponLedger({ secret: 'b'.repeat(32) }));
    expect(a).not.toBe(b);
    // the old public default secret no longer gives anyone's code
    expect(a).not.toBe(couponCode('shopstream-dev-coupons', request()));
    // without a secret, a memory ledger (flows simulate) draws one of its own per run
    const r1 = await issue(createMemoryCouponLedger());
    const r2 = await issue(createMemoryCouponLedger());
    expect(r1).not.toBe(r2);
    expect(r1).not.toBe(couponCode('shopstream-dev-coupons', request()));
  });

  it('a KV ledger, the worker and the service refuse to start without a secret of 32 bytes', async () => {
    const kv = {} as KV; // never reached: the secret is checked first
    expect(() => createKvCouponLedger(kv, { secret: '' })).toThrow(ConfigError);
    expect(() => createKvCouponLedger(kv, { secret: 'short-secret' })).toThrow(/COUPON_SECRET: too short/);
    expect(() => createKvCouponLedger(kv, { secret: 'x'.repeat(32) })).not.toThrow();
    // nothing listens on port 1: a ConfigError means the secret was checked before connecting
    const config = loadConfig({ NATS_URL: 'nats://127.0.0.1:1', LOG_LEVEL: 'silent' });
    await expect(worker(config)).rejects.toThrow(/COUPON_SECRET: required/);
    const short = loadConfig({ NATS_URL: 'nats://127.0.0.1:1', LOG_LEVEL: 'silent', COUPON_SECRET: 'abc' });
    await expect(worker(short)).rejects.toThrow(ConfigError);
    await expect(startService({ config, logger: createLogger('silent', 'test') })).rejects.toThrow(
      /COUPON_SECRET: required/,
    );
    // the message names the variable, never the value
    await expect(worker(short)).rejects.not.toThrow(/abc/);
  });

  it('issues once per user, campaign and tier: a retry gets the same coupon and spends nothing', async () => {
    const ledger = createMemoryCouponLedger();
    const first = await ledger.issue(request());
    const again = await ledger.issue(request({ issuedAt: 5_000, expiresAt: 9_000 }));
    expect(first).toMatchObject({ ok: true, coupon: { newlyIssued: true, issuedAt: 1_000 } });
    expect(again).toMatchObject({
      ok: true,
      coupon: { newlyIssued: false, issuedAt: 1_000, expiresAt: 2_000 },
    });
    expect(first.ok && again.ok && first.coupon.code === again.coupon.code).toBe(true);
    expect(ledger.spend('shop-1', 'spring')).toEqual({ count: 1, spentMinor: 1_000 });
  });

  it('never exceeds a count budget with 50 concurrent issues', async () => {
    const ledger = createMemoryCouponLedger();
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, (_, i) => ledger.issue(request({ userId: `user-${i}` }))),
    );
    expect(outcomes.filter((o) => o.ok)).toHaveLength(10);
    expect(outcomes.find((o) => !o.ok)).toEqual({
      ok: false,
      reason: 'budget_exhausted',
      detail: 'spring: all 10 coupons issued',
    });
    expect(ledger.issued()).toHaveLength(10);
  });

  it('never exceeds a spend budget', async () => {
    const ledger = createMemoryCouponLedger();
    const budget = { maxSpendMinor: 2_500 };
    const outcomes = await Promise.all(
      ['a', 'b', 'c'].map((userId) => ledger.issue(request({ userId, budget }))),
    );
    expect(outcomes.map((o) => o.ok)).toEqual([true, true, false]);
    expect(ledger.spend('shop-1', 'spring')).toEqual({ count: 2, spentMinor: 2_000 });
  });
});

describe('coupon codes outside the ledger', () => {
  const coupon = {
    code: 'K7QF-3M9T-XW2P',
    campaign: 'spring',
    tier: 'repeat' as const,
    amountMinor: 1_000,
    issuedAt: 1_000,
    expiresAt: 2_000,
    newlyIssued: true,
  };

  it('flow events leave with the code’s keyed ref, never the code; the ref joins issued to redeemed', async () => {
    const ledger = createMemoryCouponLedger({ secret: 's'.repeat(32) });
    const events: PublishedFlowEvent[] = [];
    const acts = createActivities({
      channels: {},
      ledger,
      slots: createMemoryMessageSlots(),
      publish: (e) => {
        events.push(e);
        return Promise.resolve();
      },
    });
    const issued = couponIssued('shop-1', 'user-1', coupon);
    await acts.publishEvent(issued);
    const facts = { flow: 'f', workflowId: 'w', shopId: 'shop-1', userId: 'user-1', cartId: 'c' };
    await acts.publishEvent(
      reminderSent({ ...facts, step: 1, channel: 'email', template: 't', coupon, key: 'k', at: 1 }),
    );
    const redeemed = couponRedeemed({
      shopId: 'shop-1',
      userId: 'user-1',
      campaign: 'spring',
      code: coupon.code,
      orderId: 'o-1',
      discountMinor: 1_000,
      at: 1_500,
    });
    await acts.publishEvent(redeemed);
    const refs = events.map((e) => (e.properties as { couponCode: string }).couponCode);
    expect(refs[0]).toMatch(/^cr_[0-9a-z]{20}$/);
    expect(refs).toEqual([refs[0], refs[0], refs[0]]);
    expect(JSON.stringify(events.map((e) => e.properties))).not.toContain(coupon.code);
    // the event id is still the one derived from the key: a retry is the same event
    expect(events[0]!.eventId).toBe(deriveEventId(issued.occurredAt, issued.key));
    // the ref is keyed: another secret gives another one, and it is not a plain hash of the code
    expect(createMemoryCouponLedger({ secret: 't'.repeat(32) }).ref(coupon.code)).not.toBe(refs[0]);
    expect(ledger.ref(coupon.code.toLowerCase())).toBe(refs[0]);
  });

  it('log lines show a masked code', () => {
    expect(maskCode('K7QF-3M9T-XW2P')).toBe('K7QF***');
    expect(maskCode('')).toBe('');
  });
});

describe('message slots', () => {
  it('grants up to the cap per user-local day, the same message again without a new slot', async () => {
    const slots = createMemoryMessageSlots();
    const reserve = (key: string, localDay = '2025-03-01') =>
      slots.reserve({ shopId: 's', userId: 'u', localDay, cap: 2, key });
    expect(await reserve('m1')).toEqual({ granted: true, used: 1 });
    expect(await reserve('m1')).toEqual({ granted: true, used: 1 });
    expect(await reserve('m2')).toEqual({ granted: true, used: 2 });
    expect(await reserve('m3')).toEqual({ granted: false, used: 2 });
    expect(await reserve('m3', '2025-03-02')).toEqual({ granted: true, used: 1 });
  });
});

describe('createActivities', () => {
  const setup = () => {
    const log = createLogChannel('log');
    const events: PublishedFlowEvent[] = [];
    const activities = createActivities({
      channels: { log },
      ledger: createMemoryCouponLedger(),
      slots: createMemoryMessageSlots(),
      publish: (e) => {
        events.push(e);
        return Promise.resolve();
      },
      now: () => 42,
    });
    return { log, events, activities };
  };
  const message = {
    shopId: 's',
    userId: 'u',
    template: 't',
    vars: { cartId: 'c' },
    idempotencyKey: 'wf/run/1',
  };

  it('sends once per idempotency key', async () => {
    const { log, activities } = setup();
    const first = await activities.sendMessage({ ...message, channel: 'log' });
    const again = await activities.sendMessage({ ...message, channel: 'log' });
    expect(first).toEqual({ messageId: 'log-1', sentAt: 42 });
    expect(again.messageId).toBe('log-1');
    expect(log.sent).toHaveLength(1);
  });

  it('fails non-retryably on a channel that is not configured', async () => {
    const { activities } = setup();
    const err = await activities.sendMessage({ ...message, channel: 'sms' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: ActivityErrorType.ChannelNotConfigured, nonRetryable: true });
  });

  it('fails non-retryably when the campaign budget is spent', async () => {
    const { activities } = setup();
    await activities.issueCoupon(request({ budget: { maxCoupons: 1 } }));
    const err = await activities
      .issueCoupon(request({ userId: 'user-2', budget: { maxCoupons: 1 } }))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ type: ActivityErrorType.CouponBudgetExhausted, nonRetryable: true });
  });

  it('publishes an event under an id derived from its key and time: a retry is the same event', async () => {
    const { activities, events } = setup();
    const event = {
      type: 'reminder_sent' as const,
      shopId: 's',
      userId: 'u',
      occurredAt: 1_700_000_000_000,
      key: 'wf/run/1/reminder_sent',
      properties: { flow: 'cart-recovery', workflowId: 'wf', step: 1, deliveryChannel: 'log' },
    };
    await activities.publishEvent(event);
    await activities.publishEvent(event);
    await activities.publishEvent({ ...event, key: 'wf/run/3/reminder_sent' });
    expect(isUlid(events[0]!.eventId)).toBe(true);
    expect(events[1]!.eventId).toBe(events[0]!.eventId);
    expect(events[2]!.eventId).not.toBe(events[0]!.eventId);
  });
});

const handoff = (
  conversationId: string,
  over: Partial<EnqueueForAgentRequest> = {},
): EnqueueForAgentRequest => ({
  shopId: 'shop-1',
  conversationId,
  userId: `user-${conversationId}`,
  reason: 'explicit_request',
  priority: 'normal',
  transcript: [{ role: 'user', text: 'I want to talk to a person.' }],
  suggestedReplies: [],
  escalatedAt: 1_000,
  firstResponseDueAt: 2_000,
  resolutionDueAt: 9_000,
  key: `escalation/shop-1/${conversationId}/enqueue`,
  ...over,
});

const breach = (over: Partial<NotifySupervisorRequest> = {}): NotifySupervisorRequest => ({
  shopId: 'shop-1',
  conversationId: 'c1',
  userId: 'user-c1',
  level: 2,
  reason: 'first_response_sla_breach',
  waitedMs: 120_000,
  key: 'escalation/shop-1/c1/supervisor/2',
  ...over,
});

describe('agent queue', () => {
  it('enqueues once per key: a retry gets the same ticket and takes no second slot', async () => {
    const queue = createMemoryAgentQueue({ agents: ['a', 'b'] });
    const first = await queue.enqueue(handoff('c1'));
    const again = await queue.enqueue(handoff('c1', { escalatedAt: 5_000 }));
    expect(again).toEqual(first);
    expect(queue.tickets()).toHaveLength(1);
    expect(queue.ticket(first.ticketId)).toMatchObject({ status: 'assigned', agentId: 'a' });
    expect(queue.load()).toEqual({ a: 1, b: 0 });
  });

  it("routes round-robin, never past an agent's limit; the rest wait until an agent has room", async () => {
    const queue = createMemoryAgentQueue({ agents: ['a', 'b'], maxOpenPerAgent: 1 });
    const tickets = [];
    for (const c of ['c1', 'c2', 'c3', 'c4']) tickets.push((await queue.enqueue(handoff(c))).ticketId);
    expect(tickets.map((t) => queue.ticket(t)?.agentId)).toEqual(['a', 'b', undefined, undefined]);
    expect(queue.load()).toEqual({ a: 1, b: 1 });
    expect(queue.waiting().map((t) => t.conversationId)).toEqual(['c3', 'c4']);
    queue.close(tickets[1]!);
    expect(queue.ticket(tickets[2]!)).toMatchObject({ status: 'assigned', agentId: 'b' });
    expect(queue.load()).toEqual({ a: 1, b: 1 });
    queue.close(tickets[1]!); // closing twice frees nothing more
    expect(queue.load()).toEqual({ a: 1, b: 1 });
    expect(queue.waiting().map((t) => t.conversationId)).toEqual(['c4']);
  });

  it('routes to the least-loaded agent with room, each within its own limit', async () => {
    const queue = createMemoryAgentQueue({
      agents: [{ id: 'a', maxOpen: 3 }, { id: 'b', maxOpen: 1 }, 'c'],
      maxOpenPerAgent: 2,
      routing: 'least_loaded',
    });
    const agents = [];
    for (const c of ['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7'])
      agents.push(queue.ticket((await queue.enqueue(handoff(c))).ticketId)?.agentId);
    expect(agents).toEqual(['a', 'b', 'c', 'a', 'c', 'a', undefined]);
    expect(queue.load()).toEqual({ a: 3, b: 1, c: 2 });
  });

  it('raises priority once per key: raised tickets are routed first', async () => {
    const assigned: string[] = [];
    const queue = createMemoryAgentQueue({
      agents: ['a'],
      maxOpenPerAgent: 1,
      onAssigned: (t) => assigned.push(t.conversationId),
    });
    const busy = await queue.enqueue(handoff('c0'));
    await queue.enqueue(handoff('c1', { escalatedAt: 1_000 }));
    const late = await queue.enqueue(handoff('c2', { escalatedAt: 2_000 }));
    const raise = {
      shopId: 'shop-1',
      conversationId: 'c2',
      priority: 'high' as const,
      key: 'c2/priority/high',
    };
    expect(await queue.raisePriority(raise)).toEqual({ found: true });
    expect(queue.ticket(late.ticketId)?.priority).toBe('high');
    expect(queue.waiting().map((t) => t.conversationId)).toEqual(['c2', 'c1']);
    // the same key again (a retry, by ticket id this time) is the same change: nothing new
    expect(await queue.raisePriority({ ...raise, ticketId: late.ticketId })).toEqual({ found: true });
    queue.close(busy.ticketId);
    expect(assigned).toEqual(['c0', 'c2']);
    expect(await queue.raisePriority({ ...raise, conversationId: 'nope', key: 'k' })).toEqual({
      found: false,
    });
  });

  it('closes an ended conversation by ticket or by conversation: the agent takes the next one', async () => {
    const queue = createMemoryAgentQueue({ agents: ['a'], maxOpenPerAgent: 1 });
    const first = await queue.enqueue(handoff('c1'));
    const next = await queue.enqueue(handoff('c2'));
    expect(queue.ticket(next.ticketId)).toMatchObject({ status: 'waiting' });
    const closing = { shopId: 'shop-1', conversationId: 'c1', exit: 'resolved' as const, key: 'c1/close' };
    expect(await queue.closeTicket(closing)).toEqual({ found: true });
    expect(queue.ticket(first.ticketId)).toMatchObject({ status: 'closed' });
    expect(queue.ticket(next.ticketId)).toMatchObject({ status: 'assigned', agentId: 'a' });
    // a retry (by ticket id this time) changes nothing; the agent keeps c2
    expect(await queue.closeTicket({ ...closing, ticketId: first.ticketId })).toEqual({ found: true });
    expect(queue.load()).toEqual({ a: 1 });
    // the conversation has no open ticket any more
    expect(await queue.closeTicket(closing)).toEqual({ found: false });
    const abandoned = { ...closing, conversationId: 'c2', exit: 'abandoned' as const, key: 'c2/close' };
    expect(await queue.closeTicket(abandoned)).toEqual({ found: true });
    expect(queue.load()).toEqual({ a: 0 });
  });

  it('needs distinct agents', () => {
    expect(() => createMemoryAgentQueue({ agents: [] })).toThrow(/at least one agent/);
    expect(() => createMemoryAgentQueue({ agents: ['a', 'a'] })).toThrow(/distinct/);
  });
});

describe('supervisor notifier', () => {
  it('notifies once per key', async () => {
    const notifier = createMemorySupervisorNotifier({ supervisors: ['sup-1', 'sup-2'] });
    expect(await notifier.notify(breach())).toEqual({ newlyNotified: true });
    expect(await notifier.notify(breach({ waitedMs: 130_000 }))).toEqual({ newlyNotified: false });
    expect(await notifier.notify(breach({ level: 3, reason: 'resolution_sla_breach', key: 'l3' }))).toEqual({
      newlyNotified: true,
    });
    expect(notifier.notifications()).toMatchObject([
      { level: 2, waitedMs: 120_000, supervisors: ['sup-1', 'sup-2'] },
      { level: 3, reason: 'resolution_sla_breach' },
    ]);
  });
});

describe('createActivities: escalation', () => {
  const base = () => {
    const events: PublishedFlowEvent[] = [];
    return {
      events,
      deps: {
        channels: {},
        ledger: createMemoryCouponLedger(),
        slots: createMemoryMessageSlots(),
        publish: (e: PublishedFlowEvent) => {
          events.push(e);
          return Promise.resolve();
        },
      },
    };
  };

  it('fails non-retryably, saying what is missing, without an agent queue or supervisor notifier', async () => {
    const activities = createActivities(base().deps);
    const enqueue = await activities.enqueueForAgent(handoff('c1')).catch((e: unknown) => e);
    expect(enqueue).toBeInstanceOf(ApplicationFailure);
    expect(enqueue).toMatchObject({
      type: ActivityErrorType.AgentQueueNotConfigured,
      nonRetryable: true,
      message: expect.stringContaining('agentQueue') as unknown,
    });
    const raise = await activities
      .raisePriority({ shopId: 'shop-1', conversationId: 'c1', priority: 'high', key: 'k' })
      .catch((e: unknown) => e);
    expect(raise).toMatchObject({ type: ActivityErrorType.AgentQueueNotConfigured, nonRetryable: true });
    const notify = await activities.notifySupervisor(breach()).catch((e: unknown) => e);
    expect(notify).toMatchObject({
      type: ActivityErrorType.SupervisorNotifierNotConfigured,
      nonRetryable: true,
    });
  });

  it('queues, raises and notifies idempotently; an unknown ticket is a business error', async () => {
    const { deps } = base();
    const agentQueue = createMemoryAgentQueue({ agents: ['a'] });
    const supervisors = createMemorySupervisorNotifier();
    const activities = createActivities({ ...deps, agentQueue, supervisors });
    const { ticketId } = await activities.enqueueForAgent(handoff('c1'));
    expect(await activities.enqueueForAgent(handoff('c1'))).toEqual({ ticketId });
    await activities.raisePriority({
      shopId: 'shop-1',
      conversationId: 'c1',
      ticketId,
      priority: 'high',
      key: 'p',
    });
    expect(agentQueue.ticket(ticketId)?.priority).toBe('high');
    await activities.notifySupervisor(breach());
    await activities.notifySupervisor(breach());
    expect(supervisors.notifications()).toHaveLength(1);
    const err = await activities
      .raisePriority({ shopId: 'shop-1', conversationId: 'c9', priority: 'high', key: 'q' })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ type: ActivityErrorType.TicketNotFound, nonRetryable: true });
  });

  it('publishes escalation events through the same publishEvent, ids derived from key and time', async () => {
    const { deps, events } = base();
    const activities = createActivities(deps);
    const event = {
      type: 'conversation_escalated' as const,
      shopId: 'shop-1',
      userId: 'user-c1',
      occurredAt: 1_700_000_000_000,
      key: 'escalation/shop-1/c1/conversation_escalated/2',
      properties: { conversationId: 'c1', reason: 'first_response_sla_breach', level: 2, workflowId: 'wf' },
    };
    await activities.publishEvent(event);
    await activities.publishEvent(event);
    expect(events.map((e) => e.type)).toEqual(['conversation_escalated', 'conversation_escalated']);
    expect(isUlid(events[0]!.eventId)).toBe(true);
    expect(events[1]!.eventId).toBe(events[0]!.eventId);
  });
});
