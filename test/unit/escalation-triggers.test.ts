// The chat triggers' pure core: events to actions, the conversation record (order, window,
// idempotence), the messageSent bookkeeping, suggested replies and the workflow input.
import type { Envelope } from '../../schemas/events';
import { chatRoleValue } from '../../schemas/events';
import {
  ESCALATION_DEADLINES,
  MAX_TURNS,
  addTurn,
  conversationKey,
  decodeConversation,
  emptyConversation,
  encodeConversation,
  escalationInputFor,
  markSignalled,
  owesMessageSent,
  suggestedReplies,
  transcriptOf,
  triggerFor,
  type ChatAction,
  type ConversationRecord,
  type StoredTurn,
} from '../../streams/triggers/escalation-triggers';
import { escalationWorkflowId } from '../../workflows/escalation';
import { buildEnvelope } from '../helpers/events';

const SHOP = 'shop-1';
const env = (e: ReturnType<typeof buildEnvelope>): Envelope => e as unknown as Envelope;

const turn = (index: number, role: StoredTurn['role'], text: string, eventId = `e-${index}-${role}`) => ({
  eventId,
  index,
  role,
  text,
  at: 1_000 + index,
});

function withTurns(...turns: StoredTurn[]): ConversationRecord {
  let r = emptyConversation(SHOP, 'conv1', 'user-1');
  for (const t of turns) r = addTurn(r, t) ?? r;
  return r;
}

describe('triggerFor', () => {
  it('maps a chat turn to a stored turn of its conversation', () => {
    const e = buildEnvelope(
      'chat_turn',
      { occurredAt: 5_000 },
      {
        conversationId: 'conv1',
        role: chatRoleValue('agent'),
        text: 'hello',
        turnIndex: 4,
        agentId: 'agent-7',
      },
    );
    expect(triggerFor(env(e), 'chat_turn')).toEqual({
      kind: 'turn',
      shopId: SHOP,
      userId: 'user-1',
      conversationId: 'conv1',
      workflowId: escalationWorkflowId(SHOP, 'conv1'),
      eventId: e.eventId,
      at: 5_000,
      turn: { eventId: e.eventId, index: 4, role: 'agent', text: 'hello', at: 5_000, agentId: 'agent-7' },
    });
  });

  it('maps a handoff with its reason and intent', () => {
    const a = triggerFor(env(buildEnvelope('handoff_requested')), 'handoff_requested');
    expect(a).toMatchObject({
      kind: 'handoff',
      conversationId: 'conv1',
      reason: 'low_confidence',
      intent: 'order_status',
      turnIndex: 3,
      workflowId: escalationWorkflowId(SHOP, 'conv1'),
    });
  });

  it('maps acceptances and closings; an unknown close reason is its own action', () => {
    expect(triggerFor(env(buildEnvelope('agent_accepted')), 'agent_accepted')).toMatchObject({
      kind: 'accepted',
      agentId: 'agent-7',
    });
    expect(triggerFor(env(buildEnvelope('conversation_closed')), 'conversation_closed')).toMatchObject({
      kind: 'closed',
      exit: 'resolved',
      agentId: 'agent-7',
    });
    const left = buildEnvelope('conversation_closed', {}, { conversationId: 'conv1', reason: 'user_left' });
    expect(triggerFor(env(left), 'conversation_closed')).toMatchObject({ kind: 'closed', exit: 'user_left' });
    const odd = buildEnvelope('conversation_closed', {}, { conversationId: 'conv1', reason: 'merged' });
    expect(triggerFor(env(odd), 'conversation_closed')).toMatchObject({
      kind: 'unknown_close',
      reason: 'merged',
    });
  });

  it('ignores other events, events without a user or a conversation, and turns without a role', () => {
    const kinds = (a: ChatAction): string => a.kind;
    expect(kinds(triggerFor(env(buildEnvelope('product_viewed')), 'product_viewed'))).toBe('none');
    expect(
      kinds(triggerFor(env(buildEnvelope('chat_turn', { userId: '', anonymousId: '' })), 'chat_turn')),
    ).toBe('none');
    const noConv = buildEnvelope('agent_accepted', {}, { conversationId: '', agentId: 'a' });
    expect(kinds(triggerFor(env(noConv), 'agent_accepted'))).toBe('none');
    const noRole = buildEnvelope('chat_turn', {}, { conversationId: 'c', role: 0, text: 'x' });
    expect(kinds(triggerFor(env(noRole), 'chat_turn'))).toBe('none');
  });

  it('keys an anonymous user by anonymous id', () => {
    const e = buildEnvelope('handoff_requested', { userId: '', anonymousId: 'a1' });
    expect(triggerFor(env(e), 'handoff_requested')).toMatchObject({ userId: 'anon:a1' });
  });
});

describe('the conversation record', () => {
  it('keeps turns in turn order whatever the arrival order', () => {
    const r = withTurns(turn(2, 'user', 'c'), turn(0, 'user', 'a'), turn(1, 'bot', 'b'));
    expect(transcriptOf(r)).toEqual([
      { role: 'user', text: 'a' },
      { role: 'bot', text: 'b' },
      { role: 'user', text: 'c' },
    ]);
  });

  it('stores a redelivered turn once: same event id, or a re-sent copy with a new id', () => {
    const r = withTurns(turn(0, 'user', 'hi'));
    expect(addTurn(r, turn(0, 'user', 'hi'))).toBeUndefined();
    expect(addTurn(r, turn(0, 'user', 'hi', 'another-id'))).toBeUndefined();
    // turns without an index (all 0) are told apart by role and text, and kept in time order
    expect(addTurn(r, { ...turn(0, 'bot', 'hello'), at: 2_000 })?.turns).toHaveLength(2);
  });

  it(`keeps the last ${MAX_TURNS} turns; an older turn of a full record is not stored`, () => {
    const many = Array.from({ length: MAX_TURNS + 5 }, (_, i) => turn(i, i % 2 ? 'bot' : 'user', `t${i}`));
    const r = withTurns(...many);
    expect(r.turns).toHaveLength(MAX_TURNS);
    expect(r.turns[0]!.index).toBe(5);
    expect(addTurn(r, turn(1, 'user', 'late'))).toBeUndefined();
  });

  it('owes messageSent for user and agent turns of an open escalation, once', () => {
    const r = withTurns(turn(0, 'user', 'a'), turn(1, 'bot', 'b'), turn(2, 'agent', 'c'));
    expect(owesMessageSent(r, 'e-0-user')).toBeUndefined(); // not escalated: no Temporal call
    const open: ConversationRecord = { ...r, escalation: 'open' };
    expect(owesMessageSent(open, 'e-0-user')?.role).toBe('user');
    expect(owesMessageSent(open, 'e-1-bot')).toBeUndefined();
    expect(owesMessageSent(open, 'e-2-agent')?.role).toBe('agent');
    const marked = markSignalled(open, 'e-2-agent')!;
    expect(owesMessageSent(marked, 'e-2-agent')).toBeUndefined();
    expect(markSignalled(marked, 'e-2-agent')).toBeUndefined();
    expect(owesMessageSent({ ...open, escalation: 'ended' }, 'e-0-user')).toBeUndefined();
  });

  it('round-trips through bytes; foreign bytes read as no record', () => {
    const r = withTurns(turn(0, 'user', '我的订单什么时候到?'));
    expect(decodeConversation(encodeConversation(r))).toEqual(r);
    expect(decodeConversation(new TextEncoder().encode('{"x":1}'))).toBeUndefined();
    expect(decodeConversation(new Uint8Array([0xff, 0x00]))).toBeUndefined();
  });

  it('makes KV-safe keys', () => {
    expect(conversationKey('shop-1', 'conv_1')).toBe('shop-1.conv_1');
    expect(conversationKey('shop-1', 'conv/1.2')).toMatch(/^shop-1\.=[A-Za-z0-9_-]+$/);
  });
});

describe('suggestedReplies', () => {
  it('opens by the reason and follows the intent', () => {
    const order = suggestedReplies('low_confidence', 'order_status');
    expect(order).toHaveLength(2);
    expect(order[1]).toMatch(/order number/);
    expect(suggestedReplies('negative_sentiment', 'return_item')[0]).toMatch(/sorry/i);
    expect(suggestedReplies('negative_sentiment', 'return_item')[1]).toMatch(/return/);
    expect(suggestedReplies('explicit_request', 'coupon_question')[1]).toMatch(/coupon/);
  });

  it('asks for more when nothing is known, and never repeats itself', () => {
    const r = suggestedReplies('low_confidence', '');
    expect(r).toHaveLength(1);
    expect(r[0]).toMatch(/tell me a bit more/);
    for (const reason of ['explicit_request', 'low_confidence', 'negative_sentiment', 'other'])
      for (const intent of ['', 'order_status', 'weird'])
        expect(new Set(suggestedReplies(reason, intent)).size).toBe(suggestedReplies(reason, intent).length);
  });
});

describe('escalationInputFor', () => {
  it('carries the transcript, profile, replies and deadlines', () => {
    const action = triggerFor(env(buildEnvelope('handoff_requested')), 'handoff_requested');
    if (action.kind !== 'handoff') throw new Error(action.kind);
    const record = withTurns(turn(0, 'user', 'where is my parcel?'), turn(1, 'bot', 'let me check'));
    const input = escalationInputFor(action, record, ESCALATION_DEADLINES, { tier: 'repeat' });
    expect(input).toEqual({
      shopId: SHOP,
      conversationId: 'conv1',
      userId: 'user-1',
      reason: 'low_confidence',
      firstResponseDeadline: ESCALATION_DEADLINES.firstResponseDeadline,
      resolutionDeadline: ESCALATION_DEADLINES.resolutionDeadline,
      profileSummary: { tier: 'repeat' },
      transcript: [
        { role: 'user', text: 'where is my parcel?' },
        { role: 'bot', text: 'let me check' },
      ],
      suggestedReplies: suggestedReplies('low_confidence', 'order_status'),
      // the SLA clocks start at the handoff's event time
      requestedAt: Date.UTC(2026, 10, 24, 12, 0, 0),
    });
    expect(escalationInputFor(action, undefined, ESCALATION_DEADLINES).transcript).toEqual([]);
  });

  it("uses the bot's own suggestions when the handoff carries them", () => {
    const e = buildEnvelope('handoff_requested');
    e.handoffRequested!.suggestedReplies = ['您的订单A1已发货', '退货说明'];
    const action = triggerFor(env(e), 'handoff_requested');
    if (action.kind !== 'handoff') throw new Error(action.kind);
    expect(escalationInputFor(action, undefined, ESCALATION_DEADLINES).suggestedReplies).toEqual([
      '您的订单A1已发货',
      '退货说明',
    ]);
  });
});
