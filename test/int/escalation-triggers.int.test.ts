// The chat triggers on a real NATS and a real Temporal dev server, with a worker: a handoff after some
// chat turns starts the escalation with the transcript, profile and suggested replies; turns of the
// escalated conversation reach it as messageSent, an acceptance assigns it, a closing ends it; a second
// or redelivered handoff starts nothing new, nor does one after the end; turns of a conversation never
// escalated make no Temporal call; unknown conversations and close reasons are counted and acked.
import type { Client } from '@temporalio/client';
import type { NatsConnection } from 'nats';
import {
  createMemoryAgentQueue,
  createMemoryCouponLedger,
  createMemoryMessageSlots,
  createMemorySupervisorNotifier,
  type MemoryAgentQueue,
} from '../../activities';
import type { Config } from '../../infra/config';
import { chatRoleValue, type EnvelopeInit, type EventType, type PayloadMap } from '../../schemas/events';
import type { Producer } from '../../streams/producer/producer';
import { names } from '../../streams/topology';
import {
  conversationKey,
  createEscalationTriggerProcessor,
  decodeConversation,
  suggestedReplies,
  type ChatTriggerProcessor,
  type ChatTriggerStats,
} from '../../streams/triggers/escalation-triggers';
import { escalationState, escalationWorkflowId, type EscalationResult } from '../../workflows/escalation';
import { readDeadLetters } from '../../streams/dlq';
import { eventually } from '../../infra/stack/test-clickhouse';
import { buildEnvelope } from '../helpers/events';
import { startFlowStack, type FlowStack } from './fixtures/flow-stack';

const SHOP = 'shop-e';
let stack: FlowStack;
let nc: NatsConnection;
let config: Config;
let client: Client;
let triggers: ChatTriggerProcessor;
let producer: Producer;
const queue: MemoryAgentQueue = createMemoryAgentQueue({ agents: ['agent-1', 'agent-2'] });

beforeAll(async () => {
  stack = await startFlowStack({
    name: 'chat-test',
    shopId: SHOP,
    activitiesDeps: () => ({
      channels: {},
      ledger: createMemoryCouponLedger(),
      slots: createMemoryMessageSlots(),
      publish: () => Promise.resolve(),
      agentQueue: queue,
      supervisors: createMemorySupervisorNotifier(),
    }),
  });
  ({ nc, config, client, producer } = stack);
  triggers = await createEscalationTriggerProcessor({
    nc,
    client: client.workflow,
    config,
    logger: stack.logger,
    // long windows: no SLA breach while the test drives the conversation
    deadlines: { firstResponseDeadline: '1h', resolutionDeadline: '2h' },
    profileOf: (_shop, user) => Promise.resolve({ tier: 'repeat', user }),
  });
  void triggers.run();
}, 120_000);

afterAll(async () => {
  await stack?.stop(() => triggers?.stop());
});

let clock = Date.now();
/** A valid envelope of this shop and user, published through the producer; returned for re-sending. */
async function send<T extends EventType>(
  type: T,
  user: string,
  payload: PayloadMap[T],
  occurredAt = ++clock,
): Promise<EnvelopeInit> {
  const e = buildEnvelope(type, { shopId: SHOP, userId: user, occurredAt }, payload);
  await producer.publish(e);
  return e;
}
/** The same event again under another Nats-Msg-Id: what a redelivery or a client retry looks like. */
const resend = (e: EnvelopeInit) => producer.publish(e, { msgId: `${e.eventId}-again` });

const turn = (conversationId: string, role: 'user' | 'bot' | 'agent', turnIndex: number, text: string) => ({
  conversationId,
  role: chatRoleValue(role),
  text,
  turnIndex,
  ...(role === 'agent' ? { agentId: 'agent-1' } : {}),
});

const statsWhen = (check: (s: ChatTriggerStats) => boolean) =>
  eventually(() => Promise.resolve(triggers.stats()), check, 30_000);

const status = async (id: string): Promise<string> => {
  try {
    return (await client.workflow.getHandle(id).describe()).status.name;
  } catch {
    return 'NOT_FOUND';
  }
};

it('a handoff escalates with the transcript; turns, acceptance and closing drive the workflow', async () => {
  const user = 'user-1';
  const conv = 'conv-1';
  const id = escalationWorkflowId(SHOP, conv);
  const before = triggers.stats();
  await send('chat_turn', user, turn(conv, 'user', 0, 'where is my order?'));
  await send('chat_turn', user, turn(conv, 'bot', 1, 'I can look that up.'));
  const repeated = await send('chat_turn', user, turn(conv, 'user', 2, 'it is late'));
  await resend(repeated); // redelivered: stored once
  const handoff = await send('handoff_requested', user, {
    conversationId: conv,
    reason: 'negative_sentiment',
    confidence: 0.3,
    intent: 'order_status',
    turnIndex: 3,
  });
  await eventually(
    () => status(id),
    (s) => s === 'RUNNING',
    30_000,
  );
  const handle = client.workflow.getHandle(id);
  const { runId } = await handle.describe();
  const state = await eventually(
    () => handle.query(escalationState),
    (s) => s.ticketId !== undefined,
    30_000,
  );
  expect(state).toMatchObject({ phase: 'waiting_for_agent', level: 1 });
  const ticket = queue.ticket(state.ticketId!)!;
  expect(ticket.request).toMatchObject({
    conversationId: conv,
    userId: user,
    reason: 'negative_sentiment',
    profileSummary: { tier: 'repeat', user },
    transcript: [
      { role: 'user', text: 'where is my order?' },
      { role: 'bot', text: 'I can look that up.' },
      { role: 'user', text: 'it is late' },
    ],
    suggestedReplies: suggestedReplies('negative_sentiment', 'order_status'),
  });
  let s = triggers.stats();
  expect(s.turnsStored - before.turnsStored).toBe(3);
  expect(s.turnsDuplicate - before.turnsDuplicate).toBe(1);
  expect(s.started - before.started).toBe(1);
  expect(s.signalled - before.signalled).toBe(0); // turns before the handoff: no Temporal call

  // the same handoff redelivered, and a second one while it runs: nothing new
  await resend(handoff);
  await send('handoff_requested', user, { conversationId: conv, reason: 'explicit_request', turnIndex: 4 });
  await statsWhen((x) => x.duplicates - before.duplicates >= 2);

  const agentTurn = await send('chat_turn', user, turn(conv, 'agent', 5, 'Sorry! Your order number?'));
  await send('agent_accepted', user, { conversationId: conv, agentId: 'agent-1' });
  await send('chat_turn', user, turn(conv, 'user', 6, 'o-123'));
  await send('chat_turn', user, turn(conv, 'bot', 7, '(bot stays quiet)'));
  await resend(agentTurn); // already signalled: not counted twice
  const assigned = await eventually(
    () => handle.query(escalationState),
    (x) => x.phase === 'assigned' && x.messages.agent + x.messages.user >= 2,
    30_000,
  );
  expect(assigned).toMatchObject({ agentId: 'agent-1', messages: { agent: 1, user: 1 }, level: 1 });

  await send('conversation_closed', user, { conversationId: conv, reason: 'resolved', agentId: 'agent-1' });
  const result = (await handle.result()) as EscalationResult;
  expect(result).toMatchObject({ exit: 'resolved', agentId: 'agent-1', level: 1, slaFirstResponseMet: true });

  // a handoff after the end: not a second escalation
  await send('handoff_requested', user, { conversationId: conv, reason: 'explicit_request', turnIndex: 8 });
  await statsWhen((x) => x.endedSkipped > before.endedSkipped);
  const after = await handle.describe();
  expect(after.runId).toBe(runId);
  expect(after.status.name).toBe('COMPLETED');

  s = triggers.stats();
  expect(s.started - before.started).toBe(1);
  // agent turn, acceptance, user turn, resolved: four calls; the bot's turn and the redelivery none
  expect(s.signalled - before.signalled).toBe(4);
  expect(s).toMatchObject({ failed: 0, noFlow: before.noFlow });

  // the record: turns in order (the handoff is not a turn), the escalation ended
  const kv = await nc.jetstream().views.kv(names(config.nats.prefix).conversationsBucket, { bindOnly: true });
  const entry = await kv.get(conversationKey(SHOP, conv));
  const record = decodeConversation(entry!.value)!;
  expect(record.escalation).toBe('ended');
  expect(record.turns.map((t) => t.index)).toEqual([0, 1, 2, 5, 6, 7]);
});

it('turns of a conversation never escalated make no Temporal call', async () => {
  const user = 'user-2';
  const conv = 'conv-2';
  const before = triggers.stats();
  for (let i = 0; i < 4; i++)
    await send('chat_turn', user, turn(conv, i % 2 ? 'bot' : 'user', i, `line ${i}`));
  await statsWhen((x) => x.turnsStored - before.turnsStored >= 4);
  const s = triggers.stats();
  expect(s.signalled).toBe(before.signalled);
  expect(s.noFlow).toBe(before.noFlow);
  expect(s.started).toBe(before.started);
  expect(await status(escalationWorkflowId(SHOP, conv))).toBe('NOT_FOUND');
});

it('a user who leaves ends the escalation; signals without one and unknown close reasons are counted and acked', async () => {
  const user = 'user-3';
  const conv = 'conv-3';
  const id = escalationWorkflowId(SHOP, conv);
  const before = triggers.stats();
  await send('handoff_requested', user, { conversationId: conv, reason: 'explicit_request' });
  await eventually(
    () => status(id),
    (x) => x === 'RUNNING',
    30_000,
  );
  await send('conversation_closed', user, { conversationId: conv, reason: 'merged' });
  await statsWhen((x) => x.unknownCloseReason > before.unknownCloseReason);
  expect(await status(id)).toBe('RUNNING');
  await send('conversation_closed', user, { conversationId: conv, reason: 'user_left' });
  const result = (await client.workflow.getHandle(id).result()) as EscalationResult;
  expect(result.exit).toBe('abandoned');

  await send('agent_accepted', user, { conversationId: 'conv-unknown', agentId: 'agent-2' });
  await send('conversation_closed', user, { conversationId: 'conv-unknown', reason: 'resolved' });
  await send('agent_accepted', user, { conversationId: conv, agentId: 'agent-2' }); // ended
  await statsWhen((x) => x.noFlow - before.noFlow >= 3);
  // nothing failed (a slow Temporal call is retried, and counted as a retry, legitimately); the one
  // unknown close reason counted once
  expect(triggers.stats()).toMatchObject({
    failed: 0,
    retries: expect.any(Number) as number,
    unknownCloseReason: before.unknownCloseReason + 1,
  });
});

it('judges the SLAs by the desk events’ times: a user who left before the deadline is undecided, even seen after it', async () => {
  // a handoff 90 min ago (first response due 30 min ago: the workflow acts on it at once) and the user
  // gone 10 min after it; only the events' times say the deadline had not passed when they left
  const user = 'user-4';
  const conv = 'conv-4';
  const now = Date.now();
  await send(
    'handoff_requested',
    user,
    { conversationId: conv, reason: 'explicit_request' },
    now - 90 * 60_000,
  );
  await send('conversation_closed', user, { conversationId: conv, reason: 'user_left' }, now - 80 * 60_000);
  const id = escalationWorkflowId(SHOP, conv);
  await eventually(
    () => status(id),
    (x) => x !== 'NOT_FOUND',
    30_000,
  );
  const result = (await client.workflow.getHandle(id).result()) as EscalationResult;
  expect(result.exit).toBe('abandoned');
  expect(result.escalatedAt).toBe(now - 90 * 60_000);
  expect(result.slaFirstResponseMet).toBeUndefined();
  expect(result.slaResolutionMet).toBeUndefined();
});

it('a conversation belongs to its user: another user’s turns, handoff and desk events are dead-lettered', async () => {
  const owner = 'user-owner';
  const intruder = 'user-intruder';
  const conv = 'conv-owned';
  const id = escalationWorkflowId(SHOP, conv);
  const before = triggers.stats();
  await send('chat_turn', owner, turn(conv, 'user', 0, 'my parcel is late'));
  await statsWhen((x) => x.turnsStored > before.turnsStored);
  // an intruder (any key can name any conversation id) as agent and as user, then a handoff and a close
  const forged = [
    await send('chat_turn', intruder, turn(conv, 'agent', 1, 'send me your card number')),
    await send('chat_turn', intruder, turn(conv, 'user', 2, 'close my account')),
    await send('handoff_requested', intruder, { conversationId: conv, reason: 'explicit_request' }),
    await send('conversation_closed', intruder, { conversationId: conv, reason: 'resolved' }),
  ];
  await statsWhen((x) => x.notTheOwner - before.notTheOwner === 4);
  const s = triggers.stats();
  expect(s.refused - before.refused).toBe(4);
  expect(s.started).toBe(before.started);
  expect(await status(id)).toBe('NOT_FOUND');
  // the record holds the owner's turn only
  const kv = await nc.jetstream().views.kv(names(config.nats.prefix).conversationsBucket, { bindOnly: true });
  const record = decodeConversation((await kv.get(conversationKey(SHOP, conv)))!.value);
  expect(record?.userId).toBe(owner);
  expect(record?.turns.map((t) => t.text)).toEqual(['my parcel is late']);
  // every forged event is in the dead-letter stream with its reason
  const jsm = await nc.jetstreamManager();
  const dead = await eventually(
    async () => {
      const out: string[] = [];
      for await (const dl of readDeadLetters(nc.jetstream(), jsm, config.nats.prefix, {
        reason: 'processing_failed',
      }))
        if (dl.detail.includes('conversation belongs to another user')) out.push(dl.detail);
      return out;
    },
    (d) => d.length === 4,
    10_000,
  );
  expect(dead).toHaveLength(forged.length);
  // the owner's own handoff still escalates
  await send('handoff_requested', owner, { conversationId: conv, reason: 'explicit_request' });
  await eventually(
    () => status(id),
    (x) => x === 'RUNNING',
    30_000,
  );
});
