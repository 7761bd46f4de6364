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
import type { ProfileSummary } from '../../activities/types';
import type { Config } from '../../infra/config';
import type { Logger } from '../../infra/logger';
import {
  agentAccepted,
  escalationWorkflow,
  messageSent,
  resolved,
  userLeft,
} from '../../workflows/escalation';
import { isKvConflict } from '../../infra/nats';
import { names } from '../topology';
import { checkTopology } from '../topology-apply';
import type { LeaseGate } from '../consumer/leases';
import {
  createTriggerLoop,
  ensureConsumer,
  triggerConsumerConfig,
  type TriggerCounters,
  type TriggerProcessor,
  type TriggerRefusal,
} from './runner';
export * from './chat-model';
import {
  addTurn,
  CHAT_TRIGGER_TYPES,
  ESCALATION_DEADLINES,
  conversationKey,
  decodeConversation,
  emptyConversation,
  encodeConversation,
  escalationInputFor,
  markSignalled,
  owesMessageSent,
  triggerFor,
  type ChatAction,
  type ConversationRecord,
  type EscalationDeadlines,
} from './chat-model';
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
  /** Messages the server pushes ahead. Default 512. */
  batchSize?: number;
  /** Events applied at once (across users). Default 256. */
  userConcurrency?: number;
  /** Attempts of a call that fails with something other than Temporal being unavailable. Default 5. */
  maxAttempts?: number;
  /** Whether Temporal answers; while not, events are held (see runner.ts). Default: always. */
  ready?: () => Promise<boolean>;
  /** With several instances: consume only the consumers this one holds (streams/consumer/leases.ts). */
  leases?: LeaseGate;
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
  // turns of many conversations at once: each is two KV round trips (read, compare-and-set), and a
  // handoff queued behind them waits for them (32 in flight drained 213 turns/s under load in make bench)
  const batchSize = deps.batchSize ?? 512;
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
    // the owner is checked before any call; writes check it again in their compare-and-set (a record
    // made meanwhile). A turn makes no call before its write, which checks it: one read fewer.
    const before = action.kind === 'turn' ? undefined : await load(key);
    let notOwner = foreign(before?.record, action.userId);
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
        const record = before?.record;
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
    ...(deps.leases ? { leases: deps.leases } : {}),
    stream: n.eventsStream,
    consumer: consumerName,
    logger,
    label: 'chat triggers',
    decide: triggerFor,
    apply,
    describe: loggable,
    batchSize,
    userConcurrency: deps.userConcurrency ?? 256,
    maxAttempts,
  });

  return {
    run: () => loop.run(),
    stop: () => loop.stop(),
    health: () => loop.health(),
    stats: () => ({ ...stats, ...loop.counters() }),
  };
}
