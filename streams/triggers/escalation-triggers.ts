// Triggers from the stream: the chat desk's events become calls on the chat-escalation workflows.
//
// One escalation per (shop, conversation) under escalationWorkflowId. The consumer `triggers_chat`
// reads chat turns, handoffs, acceptances and closings of every partition; one user's events are
// applied in stream order (a conversation belongs to one user), users in parallel:
//
//   chat_turn            -> kept in the conversation's record (JetStream KV, last MAX_TURNS turns);
//                           a user or agent turn of an escalated conversation also signals messageSent.
//                           Turns of a conversation never escalated make no Temporal call.
//   handoff_requested    -> starts escalationWorkflow with the transcript from the record, the user's
//                           profile summary, suggested replies and the SLA deadlines.
//   agent_accepted       -> signals agentAccepted.
//   conversation_closed  -> signals resolved (reason 'resolved') or userLeft ('user_left'); another
//                           reason is counted and logged, and the event acked (it is in ClickHouse).
//
// The record (conversationsBucket, a day after its last change) is written with compare-and-set on the
// revision and is idempotent under redelivery: a turn already stored (same event id, or same turn
// index, role and text) is not stored again. A signal to a workflow that is not running is counted
// (`noFlow`) and the event acked. Every event is acked only after Temporal accepted the call (or it was
// skipped on purpose); while Temporal is unavailable the call is retried for as long as it takes.
//
// Workflow id reuse: the handoff starts with WorkflowIdReusePolicy.REJECT_DUPLICATE. A second handoff
// while the escalation runs is a no-op (the record says it is open, or Temporal answers "already
// started"), and so is a redelivered handoff. A handoff after the escalation ended (resolved or user
// left) does not start another one either: conversation_closed ends the conversation (the desk opens a
// new conversation id for a new chat), so such a handoff is late or replayed, and restarting the
// supervisor ladder for it would page people about a closed conversation. Counted as `endedSkipped`.
//
// A conversation belongs to the user whose event created its record: an event of that conversation
// id from another user (a turn, a handoff, a desk event) is refused and dead-lettered
// (processing_failed, 'conversation belongs to another user'), so nobody adds turns to someone
// else's conversation or opens, accepts or closes an escalation in its name.
//
// Chat texts are personal data: they go into the record and to the agent (the workflow input), never
// into a log line (logs carry ids, types and counts only).
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type WorkflowClient,
} from '@temporalio/client';
import type { KV, NatsConnection } from 'nats';
import type { ProfileSummary, TranscriptTurn } from '../../activities/types';
import type { Catalog } from '../../catalog';
import type { Config } from '../../infra/config';
import type { Logger } from '../../infra/logger';
import { chatRoleName, type Envelope, type EventType } from '../../schemas/events';
import {
  agentAccepted,
  escalationWorkflow,
  escalationWorkflowId,
  messageSent,
  resolved,
  userLeft,
  type EscalationInput,
} from '../../workflows/escalation';
import type { Duration } from '../../schemas/time';
import { topInterests, type HalfLives } from '../processors/interest/model';
import type { ProfileStore } from '../processors/interest/store';
import { segment } from '../processors/interest/tags';
import { isKvConflict } from '../../infra/nats';
import { kvKey } from '../../schemas/kv-keys';
import { checkTopology, names, userKey } from '../topology';
import {
  createTriggerLoop,
  ensureConsumer,
  triggerConsumerConfig,
  type TriggerCounters,
  type TriggerProcessor,
  type TriggerRefusal,
} from './runner';

/** The event types the chat triggers consume. */
export const CHAT_TRIGGER_TYPES = [
  'chat_turn',
  'handoff_requested',
  'agent_accepted',
  'conversation_closed',
] as const satisfies readonly EventType[];
export type ChatTriggerType = (typeof CHAT_TRIGGER_TYPES)[number];

/** Turns kept per conversation: what the agent reads before answering. */
export const MAX_TURNS = 20;

export interface EscalationDeadlines {
  firstResponseDeadline: Duration;
  resolutionDeadline: Duration;
}
/** An agent accepts within 5 minutes, the conversation is resolved within an hour, from the handoff. */
export const ESCALATION_DEADLINES: EscalationDeadlines = {
  firstResponseDeadline: '5m',
  resolutionDeadline: '1h',
};
/**
 * The demo's (DEMO_FLOW_WINDOWS=1): the simulated desk accepts 1 to 9 s after the handoff and
 * closes 6 to 30 s after it, so some conversations reach level 2 or 3 and most do not.
 */
export const ESCALATION_DEMO_DEADLINES: EscalationDeadlines = {
  firstResponseDeadline: '5s',
  resolutionDeadline: '25s',
};

// ---- pure: events to actions -------------------------------------------------------------------------

export type ChatRole = 'user' | 'bot' | 'agent';

export interface StoredTurn {
  eventId: string;
  /** The producer's turn_index (0 when it does not number turns). */
  index: number;
  role: ChatRole;
  text: string;
  /** Event time, epoch ms. */
  at: number;
  agentId?: string;
  /** messageSent reached the escalation for this turn (user and agent turns of escalated conversations). */
  signalled?: boolean;
}

/** One conversation's record in the conversations bucket. */
export interface ConversationRecord {
  v: 1;
  shopId: string;
  conversationId: string;
  userId: string;
  /** The last MAX_TURNS turns, by turn index then event time. */
  turns: StoredTurn[];
  /** 'open' once a handoff started the escalation; 'ended' once it was closed. */
  escalation?: 'open' | 'ended';
  /** The handoff that started it. */
  handoffEventId?: string;
}

interface ConversationRef {
  shopId: string;
  userId: string;
  conversationId: string;
  workflowId: string;
  eventId: string;
  /** The event's time (occurred_at), epoch ms: SLA figures count from the desk's clock. */
  at: number;
}

export type CloseExit = 'resolved' | 'user_left';

export type ChatAction =
  | (ConversationRef & { kind: 'turn'; turn: StoredTurn })
  | (ConversationRef & {
      kind: 'handoff';
      reason: string;
      intent: string;
      confidence: number;
      turnIndex: number;
    })
  | (ConversationRef & { kind: 'accepted'; agentId: string })
  | (ConversationRef & { kind: 'closed'; exit: CloseExit; agentId?: string })
  | (ConversationRef & { kind: 'unknown_close'; reason: string })
  | { kind: 'none'; reason: string };

/** What one event asks of the escalation flows. Pure. */
export function triggerFor(envelope: Envelope, type: EventType): ChatAction {
  const shopId = envelope.shopId;
  const userId = userKey(envelope);
  if (!userId) return { kind: 'none', reason: 'no user id or anonymous id' };
  const payload =
    type === 'chat_turn'
      ? envelope.chatTurn
      : type === 'handoff_requested'
        ? envelope.handoffRequested
        : type === 'agent_accepted'
          ? envelope.agentAccepted
          : type === 'conversation_closed'
            ? envelope.conversationClosed
            : undefined;
  if (payload === undefined) return { kind: 'none', reason: `${type} triggers nothing` };
  const conversationId = payload?.conversationId;
  if (!conversationId) return { kind: 'none', reason: `${type} without a conversation id` };
  const ref: ConversationRef = {
    shopId,
    userId,
    conversationId,
    workflowId: escalationWorkflowId(shopId, conversationId),
    eventId: envelope.eventId,
    at: Number(envelope.occurredAt),
  };
  switch (type) {
    case 'chat_turn': {
      const t = envelope.chatTurn!;
      const role = chatRoleName(t.role);
      if (role === 'unspecified') return { kind: 'none', reason: 'chat turn without a role' };
      const turn: StoredTurn = {
        eventId: envelope.eventId,
        index: t.turnIndex ?? 0,
        role,
        text: t.text ?? '',
        at: Number(envelope.occurredAt),
      };
      if (t.agentId) turn.agentId = t.agentId;
      return { ...ref, kind: 'turn', turn };
    }
    case 'handoff_requested': {
      const h = envelope.handoffRequested!;
      return {
        ...ref,
        kind: 'handoff',
        reason: h.reason || 'unspecified',
        intent: h.intent ?? '',
        confidence: h.confidence ?? 0,
        turnIndex: h.turnIndex ?? 0,
      };
    }
    case 'agent_accepted': {
      const a = envelope.agentAccepted!;
      if (!a.agentId) return { kind: 'none', reason: 'agent_accepted without an agent id' };
      return { ...ref, kind: 'accepted', agentId: a.agentId };
    }
    default: {
      const c = envelope.conversationClosed!;
      const reason = c.reason ?? '';
      if (reason !== 'resolved' && reason !== 'user_left') return { ...ref, kind: 'unknown_close', reason };
      return { ...ref, kind: 'closed', exit: reason, ...(c.agentId ? { agentId: c.agentId } : {}) };
    }
  }
}

// ---- pure: the conversation record ---------------------------------------------------------------------

export function emptyConversation(
  shopId: string,
  conversationId: string,
  userId: string,
): ConversationRecord {
  return { v: 1, shopId, conversationId, userId, turns: [] };
}

/** The same turn delivered again: same event id, or a re-sent copy (same index, role and text). */
export function isSameTurn(a: StoredTurn, b: StoredTurn): boolean {
  return a.eventId === b.eventId || (a.index === b.index && a.role === b.role && a.text === b.text);
}

const turnOrder = (a: StoredTurn, b: StoredTurn): number => a.index - b.index || a.at - b.at;

/**
 * The record with the turn added in order, keeping the last `max`; undefined when the turn is already
 * stored or older than every kept turn of a full record (nothing to write).
 */
export function addTurn(
  record: ConversationRecord,
  turn: StoredTurn,
  max = MAX_TURNS,
): ConversationRecord | undefined {
  if (record.turns.some((t) => isSameTurn(t, turn))) return undefined;
  if (record.turns.length >= max && turnOrder(turn, record.turns[0]!) < 0) return undefined;
  const turns = [...record.turns, turn].sort(turnOrder).slice(-max);
  return { ...record, turns };
}

/** The record with the turn's messageSent marked as delivered; undefined if there is nothing to mark. */
export function markSignalled(record: ConversationRecord, eventId: string): ConversationRecord | undefined {
  const i = record.turns.findIndex((t) => t.eventId === eventId);
  if (i < 0 || record.turns[i]!.signalled) return undefined;
  const turns = record.turns.map((t, j) => (j === i ? { ...t, signalled: true } : t));
  return { ...record, turns };
}

/** What the agent reads: the kept turns in order, roles as words. */
export function transcriptOf(record: ConversationRecord | undefined): TranscriptTurn[] {
  return (record?.turns ?? []).map((t) => ({ role: t.role, text: t.text }));
}

/**
 * Whether a stored turn's messageSent is still owed to the escalation: user and agent turns (the bot
 * is not a party once a human took over) of an open escalation, not yet delivered.
 */
export function owesMessageSent(
  record: ConversationRecord | undefined,
  eventId: string,
): StoredTurn | undefined {
  if (record?.escalation !== 'open') return undefined;
  const t = record.turns.find((x) => x.eventId === eventId);
  return t && t.role !== 'bot' && !t.signalled ? t : undefined;
}

export function encodeConversation(record: ConversationRecord): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(record));
}

/** The stored record, or undefined when the bytes are not one (treated as a new conversation). */
export function decodeConversation(bytes: Uint8Array): ConversationRecord | undefined {
  try {
    const r = JSON.parse(new TextDecoder().decode(bytes)) as Partial<ConversationRecord>;
    return r?.v === 1 && Array.isArray(r.turns) ? (r as ConversationRecord) : undefined;
  } catch {
    return undefined;
  }
}

export function conversationKey(shopId: string, conversationId: string): string {
  return kvKey(shopId, conversationId);
}

// ---- pure: what the agent gets -------------------------------------------------------------------------

const REPLIES = {
  orderStatus: 'Could you share your order number? I will check where your parcel is.',
  returns: 'I can help with that return: which order and which item is it about?',
  coupon: 'Let me check which coupons and discounts apply to your cart.',
  product: 'Which product (and size or colour) are you looking at? I will check stock for you.',
  payment: 'Sorry about the payment trouble: which order is it, and what did the checkout show?',
  recommend: 'Happy to recommend something: what will you use it for, and what budget do you have in mind?',
  apology: 'I am sorry about the trouble. I am here now and will sort this out with you.',
  unsure: 'Sorry our assistant could not answer that. Could you tell me a bit more about what you need?',
  hello: 'Hi, you are now talking to our support team. How can I help?',
} as const;

/** The intent's topic, by keywords of the bot's intent label (order_status, return_item, ...). */
function topicOf(intent: string): keyof typeof REPLIES | undefined {
  const i = intent.toLowerCase();
  if (/order|track|deliver|ship|parcel|arriv/.test(i)) return 'orderStatus';
  if (/return|refund|exchange/.test(i)) return 'returns';
  if (/coupon|discount|promo|voucher/.test(i)) return 'coupon';
  if (/pay|charge|invoice|billing/.test(i)) return 'payment';
  if (/recommend|suggest/.test(i)) return 'recommend';
  if (/stock|size|availab|product|colou?r/.test(i)) return 'product';
  return undefined;
}

/**
 * Replies the agent can send with one click: an opening that fits why the bot handed over, then one
 * for the topic the bot recognised, if any. Pure; at most 3, no duplicates.
 */
export function suggestedReplies(reason: string, intent = ''): string[] {
  const out: string[] = [];
  if (reason === 'negative_sentiment') out.push(REPLIES.apology);
  else if (reason === 'low_confidence') out.push(REPLIES.unsure);
  else out.push(REPLIES.hello);
  const topic = topicOf(intent);
  if (topic) out.push(REPLIES[topic]);
  else if (reason !== 'low_confidence') out.push(REPLIES.unsure);
  return [...new Set(out)].slice(0, 3);
}

/** The workflow input for a handoff. Pure. */
export function escalationInputFor(
  action: Extract<ChatAction, { kind: 'handoff' }>,
  record: ConversationRecord | undefined,
  deadlines: EscalationDeadlines,
  profileSummary?: ProfileSummary,
): EscalationInput {
  return {
    shopId: action.shopId,
    conversationId: action.conversationId,
    userId: action.userId,
    reason: action.reason,
    firstResponseDeadline: deadlines.firstResponseDeadline,
    resolutionDeadline: deadlines.resolutionDeadline,
    ...(profileSummary ? { profileSummary } : {}),
    transcript: transcriptOf(record),
    suggestedReplies: suggestedReplies(action.reason, action.intent),
    requestedAt: action.at,
  };
}

/**
 * A profileOf backed by the interest processor's profiles: tier, behaviour tags, top long- and
 * short-term interests (catalog feature names), order count. `known: false` for a user with no profile.
 */
export function profileSummaryFromProfiles(
  store: ProfileStore,
  catalog: Catalog,
  halfLives: HalfLives,
  tiers: Config['tiers'],
) {
  return async (shopId: string, user: string): Promise<ProfileSummary> => {
    const { state, revision } = await store.load(shopId, user);
    const now = Date.now();
    const seg = segment(state, now, tiers);
    return {
      known: revision > 0,
      tier: seg.tier,
      tags: seg.tags.map((t) => t.tag),
      topInterests: topInterests(state.long, now, halfLives.longMs, catalog, 5).map((i) => i.feature),
      recentInterests: topInterests(state.short, now, halfLives.shortMs, catalog, 3).map((i) => i.feature),
      orders: state.counters.orders,
    };
  };
}

// ---- the consumer ---------------------------------------------------------------------------------------

/** The filter subjects of the trigger consumer: the chat desk's events of every partition. */
export function chatTriggerSubjects(prefix: string): string[] {
  return CHAT_TRIGGER_TYPES.map((t) => `${prefix}.events.*.${t}`);
}

/**
 * The durable consumer. DeliverPolicy.New: a consumer created on a stream that already holds days of
 * events does not escalate conversations long over.
 */
export function chatTriggerConsumerConfig(cfg: Config, name = names(cfg.nats.prefix).chatTriggerConsumer) {
  return triggerConsumerConfig(
    name,
    'chat triggers: chat turns, handoffs, acceptances and closings to escalation workflows',
    chatTriggerSubjects(cfg.nats.prefix),
  );
}

export interface ChatTriggerStats extends TriggerCounters {
  /** Turns written to a conversation record. */
  turnsStored: number;
  /** Turns already stored (redelivered or re-sent). */
  turnsDuplicate: number;
  started: number;
  /** Handoffs for an escalation already running (or a redelivered handoff). */
  duplicates: number;
  /** Handoffs for a conversation whose escalation already ended (not restarted). */
  endedSkipped: number;
  signalled: number;
  /** Signals to an escalation that is not running (never started, or ended). */
  noFlow: number;
  /** conversation_closed with a reason other than resolved or user_left. */
  unknownCloseReason: number;
  /** Compare-and-set conflicts on a conversation record (retried). */
  conflicts: number;
  /** Events for a conversation whose record belongs to another user: dead-lettered. */
  notTheOwner: number;
  ignored: number;
}

export type ChatTriggerProcessor = TriggerProcessor<ChatTriggerStats>;

export interface ChatTriggerDeps {
  nc: NatsConnection;
  client: WorkflowClient;
  config: Config;
  logger: Logger;
  /** Default names(prefix).chatTriggerConsumer; created with chatTriggerConsumerConfig if missing. */
  consumerName?: string;
  /** The user as the agent sees them; default none. A failing lookup escalates without it. */
  profileOf?: (shopId: string, userId: string) => Promise<ProfileSummary>;
  /** Default ESCALATION_DEADLINES. */
  deadlines?: EscalationDeadlines;
  /** Default config.temporal.chatTaskQueue. */
  taskQueue?: string;
  batchSize?: number;
  /** Attempts of a call that fails with something other than Temporal being unavailable. Default 5. */
  maxAttempts?: number;
  /** Whether Temporal answers; while not, events are held (see runner.ts). Default: always. */
  ready?: () => Promise<boolean>;
}

const MAX_CAS_ATTEMPTS = 20;

/** An action for a log line: ids and kind, never a text. */
function loggable(action: ChatAction): Record<string, unknown> {
  if (action.kind === 'none') return { kind: action.kind, reason: action.reason };
  return {
    kind: action.kind,
    shopId: action.shopId,
    conversationId: action.conversationId,
    eventId: action.eventId,
  };
}

export async function createEscalationTriggerProcessor(deps: ChatTriggerDeps): Promise<ChatTriggerProcessor> {
  const { nc, client, config, logger } = deps;
  const n = names(config.nats.prefix);
  const consumerName = deps.consumerName ?? n.chatTriggerConsumer;
  const taskQueue = deps.taskQueue ?? config.temporal.chatTaskQueue;
  const deadlines = deps.deadlines ?? ESCALATION_DEADLINES;
  const batchSize = deps.batchSize ?? 100;
  const maxAttempts = deps.maxAttempts ?? 5;
  const jsm = await nc.jetstreamManager();
  await checkTopology(jsm, config, { streams: [n.eventsStream], buckets: [n.conversationsBucket] });
  await ensureConsumer(jsm, n.eventsStream, chatTriggerConsumerConfig(config, consumerName));
  const js = nc.jetstream();
  const kv: KV = await js.views.kv(n.conversationsBucket, { bindOnly: true });
  const stats: Omit<ChatTriggerStats, 'events' | 'retries' | 'failed' | 'refused'> = {
    turnsStored: 0,
    turnsDuplicate: 0,
    started: 0,
    duplicates: 0,
    endedSkipped: 0,
    signalled: 0,
    noFlow: 0,
    unknownCloseReason: 0,
    conflicts: 0,
    notTheOwner: 0,
    ignored: 0,
  };

  async function load(key: string): Promise<{ record: ConversationRecord | undefined; revision: number }> {
    const entry = await kv.get(key);
    if (!entry || entry.operation !== 'PUT' || entry.value.length === 0)
      return { record: undefined, revision: 0 };
    const record = decodeConversation(entry.value);
    if (!record) logger.warn({ key }, 'conversation record unreadable; starting it afresh');
    return { record, revision: entry.revision };
  }

  /**
   * Applies `change` with compare-and-set, re-reading on a conflict. `change` returns the new record,
   * or undefined to write nothing. Resolves to the record as stored after the call.
   */
  async function update(
    key: string,
    change: (current: ConversationRecord | undefined) => ConversationRecord | undefined,
  ): Promise<{ record: ConversationRecord | undefined; written: boolean }> {
    for (let attempt = 1; ; attempt++) {
      const { record, revision } = await load(key);
      const next = change(record);
      if (!next) return { record, written: false };
      try {
        if (revision === 0) await kv.create(key, encodeConversation(next));
        else await kv.update(key, encodeConversation(next), revision);
        return { record: next, written: true };
      } catch (err) {
        if (!isKvConflict(err) || attempt >= MAX_CAS_ATTEMPTS) throw err;
        stats.conflicts++;
      }
    }
  }

  /** Sends a signal; false (counted as noFlow) when the escalation is not running. */
  async function signal(
    workflowId: string,
    send: (h: ReturnType<WorkflowClient['getHandle']>) => Promise<void>,
  ) {
    try {
      await send(client.getHandle(workflowId));
      stats.signalled++;
      return true;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      stats.noFlow++;
      return false;
    }
  }

  const endEscalation = (r: ConversationRecord | undefined): ConversationRecord | undefined =>
    r?.escalation === 'open' ? { ...r, escalation: 'ended' } : undefined;

  const foreign = (r: ConversationRecord | undefined, userId: string): boolean =>
    r !== undefined && r.userId !== userId;
  const refuse = (): TriggerRefusal => {
    stats.notTheOwner++;
    return { kind: 'dlq', reason: 'processing_failed', detail: 'conversation belongs to another user' };
  };

  async function apply(action: ChatAction): Promise<void | TriggerRefusal> {
    if (action.kind === 'none') {
      stats.ignored++;
      return;
    }
    const key = conversationKey(action.shopId, action.conversationId);
    // checked before any call; writes check it again in their compare-and-set (a record made meanwhile)
    let notOwner = foreign((await load(key)).record, action.userId);
    if (notOwner) return refuse();
    const owned =
      (change: (r: ConversationRecord | undefined) => ConversationRecord | undefined) =>
      (r: ConversationRecord | undefined): ConversationRecord | undefined => {
        notOwner = foreign(r, action.userId);
        return notOwner ? undefined : change(r);
      };
    switch (action.kind) {
      case 'turn': {
        const { record, written } = await update(
          key,
          owned((r) =>
            addTurn(r ?? emptyConversation(action.shopId, action.conversationId, action.userId), action.turn),
          ),
        );
        if (notOwner) return refuse();
        if (written) stats.turnsStored++;
        else stats.turnsDuplicate++;
        // owed also after a redelivery: the first delivery may have stored the turn and died before the signal
        const owed = owesMessageSent(record, action.eventId);
        if (!owed) return;
        const from = owed.role === 'agent' ? 'agent' : 'user';
        const delivered = await signal(action.workflowId, (h) =>
          h.signal(messageSent, {
            from,
            messageId: action.eventId,
            ...(owed.agentId ? { agentId: owed.agentId } : {}),
          }),
        );
        await update(key, (r) => (delivered ? r && markSignalled(r, action.eventId) : endEscalation(r)));
        return;
      }
      case 'handoff': {
        const { record } = await load(key);
        if (record?.escalation === 'open') {
          stats.duplicates++;
          return;
        }
        if (record?.escalation === 'ended') {
          stats.endedSkipped++;
          logger.debug({ workflowId: action.workflowId }, 'escalation already ended; late handoff skipped');
          return;
        }
        let profile: ProfileSummary | undefined;
        try {
          profile = await deps.profileOf?.(action.shopId, action.userId);
        } catch (err) {
          logger.warn(
            { err: (err as Error).message, workflowId: action.workflowId },
            'profile lookup failed; escalating without the profile summary',
          );
        }
        const input = escalationInputFor(action, record, deadlines, profile);
        try {
          await client.start(escalationWorkflow, {
            workflowId: action.workflowId,
            taskQueue,
            args: [input],
            workflowIdReusePolicy: 'REJECT_DUPLICATE', // WorkflowIdReusePolicy.REJECT_DUPLICATE
          });
          stats.started++;
        } catch (err) {
          if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
          // running (a handoff whose record write was lost) or ended: either way not a second one
          stats.duplicates++;
        }
        await update(
          key,
          owned((r) => {
            const base = r ?? emptyConversation(action.shopId, action.conversationId, action.userId);
            return base.escalation
              ? undefined
              : { ...base, escalation: 'open', handoffEventId: action.eventId };
          }),
        );
        return;
      }
      case 'accepted':
        await signal(action.workflowId, (h) =>
          h.signal(agentAccepted, { agentId: action.agentId, at: action.at }),
        );
        return;
      case 'closed':
        await signal(action.workflowId, (h) =>
          action.exit === 'resolved'
            ? h.signal(resolved, { ...(action.agentId ? { agentId: action.agentId } : {}), at: action.at })
            : h.signal(userLeft, { at: action.at }),
        );
        await update(key, endEscalation);
        return;
      case 'unknown_close':
        stats.unknownCloseReason++;
        logger.warn(
          { workflowId: action.workflowId, eventId: action.eventId, reason: action.reason },
          'conversation_closed with an unknown reason: escalation left as it is (the event is in ClickHouse)',
        );
        return;
    }
  }

  const loop = createTriggerLoop<ChatAction>({
    nc,
    prefix: config.nats.prefix,
    ...(deps.ready ? { ready: deps.ready } : {}),
    stream: n.eventsStream,
    consumer: consumerName,
    logger,
    label: 'chat triggers',
    decide: triggerFor,
    ignore: (reason) => ({ kind: 'none', reason }),
    apply,
    describe: loggable,
    batchSize,
    maxAttempts,
  });

  return {
    run: () => loop.run(),
    stop: () => loop.stop(),
    health: () => loop.health(),
    stats: () => ({ ...stats, ...loop.counters() }),
  };
}
