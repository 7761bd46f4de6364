// The chat escalation's activities: the human agents' queue, the supervisors, and the escalation's
// events. Both clients are idempotent by the request's key, so a retried activity (or a replayed
// workflow) is not a second queue entry, priority change or supervisor page. The in-memory queue
// serves tests and the demo: it routes each conversation to one of a configured list of agents
// (round-robin or least-loaded), never past an agent's limit of open conversations; the rest wait,
// high priority first, until an agent has room.
import { ApplicationFailure } from '@temporalio/activity';
import { deriveEventId } from '../schemas/ulid';
import {
  ActivityErrorType,
  type CloseTicketRequest,
  type EnqueueForAgentRequest,
  type EscalationActivities,
  type NotifySupervisorRequest,
  type PublishedFlowEvent,
  type QueuePriority,
  type RaisePriorityRequest,
} from './types';

export interface AgentQueue {
  /** Queues the conversation; the same key again returns the same ticket (no second entry). */
  enqueue(req: EnqueueForAgentRequest): Promise<{ ticketId: string }>;
  /**
   * Sets the ticket's priority (by ticketId, else the conversation's open ticket); the same key
   * again changes nothing. `found: false` when there is no such ticket.
   */
  raisePriority(req: RaisePriorityRequest): Promise<{ found: boolean }>;
  /**
   * Closes the ticket (by ticketId, else the conversation's open ticket): the conversation ended.
   * Closing a closed ticket changes nothing. `found: false` when there is no such ticket.
   */
  closeTicket(req: CloseTicketRequest): Promise<{ found: boolean }>;
}

export interface SupervisorNotifier {
  /** Notifies the shop's supervisors; the same key again is not a second notification. */
  notify(req: NotifySupervisorRequest): Promise<{ newlyNotified: boolean }>;
}

export interface EscalationDeps {
  queue: AgentQueue;
  supervisors: SupervisorNotifier;
  publish: (event: PublishedFlowEvent) => Promise<void>;
}

export function createEscalationActivities(deps: EscalationDeps): EscalationActivities {
  return {
    enqueueForAgent: (req) => deps.queue.enqueue(req),

    async raisePriority(req) {
      const { found } = await deps.queue.raisePriority(req);
      if (!found)
        throw ApplicationFailure.nonRetryable(
          `no ticket for conversation '${req.conversationId}'${req.ticketId ? ` (ticket ${req.ticketId})` : ''}`,
          ActivityErrorType.TicketNotFound,
        );
    },

    async notifySupervisor(req) {
      await deps.supervisors.notify(req);
    },

    async closeTicket(req) {
      // no ticket (the enqueue had failed, or the desk already dropped it): nothing left to close
      await deps.queue.closeTicket(req);
    },

    publishEvent: (event) =>
      deps.publish({ ...event, eventId: deriveEventId(event.idAt ?? event.occurredAt, event.key) }),
  };
}

/** Stand-ins for a worker built without them: every call fails non-retryably, saying what is missing. */
export const unconfiguredAgentQueue: AgentQueue = {
  enqueue: () => Promise.reject(notConfigured('agent queue', 'agentQueue', 'AgentQueueNotConfigured')),
  raisePriority: () => Promise.reject(notConfigured('agent queue', 'agentQueue', 'AgentQueueNotConfigured')),
  closeTicket: () => Promise.reject(notConfigured('agent queue', 'agentQueue', 'AgentQueueNotConfigured')),
};
export const unconfiguredSupervisorNotifier: SupervisorNotifier = {
  notify: () =>
    Promise.reject(notConfigured('supervisor notifier', 'supervisors', 'SupervisorNotifierNotConfigured')),
};

function notConfigured(
  what: string,
  dep: string,
  type: 'AgentQueueNotConfigured' | 'SupervisorNotifierNotConfigured',
): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    `no ${what} is configured (createActivities needs deps.${dep} for chat escalations)`,
    ActivityErrorType[type],
  );
}

// ---- in memory -----------------------------------------------------------------------------------------

export type RoutingStrategy = 'round_robin' | 'least_loaded';

export interface AgentConfig {
  id: string;
  /** Open conversations this agent may hold at once; default the queue's maxOpenPerAgent. */
  maxOpen?: number;
}

export interface MemoryAgentQueueOptions {
  /** Agent ids or configs, in routing order. */
  agents: (string | AgentConfig)[];
  /** Default limit of open conversations per agent. Default 3. */
  maxOpenPerAgent?: number;
  /** Default round_robin. */
  routing?: RoutingStrategy;
  /** Called when a ticket is routed to an agent (the demo logs it; a UI would offer it). */
  onAssigned?: (ticket: AgentTicket) => void;
}

export interface AgentTicket {
  ticketId: string;
  shopId: string;
  conversationId: string;
  userId: string;
  priority: QueuePriority;
  /** The agent it is routed to; absent while it waits for one with room. */
  agentId?: string;
  status: 'waiting' | 'assigned' | 'closed';
  request: EnqueueForAgentRequest;
}

export interface MemoryAgentQueue extends AgentQueue {
  ticket(ticketId: string): AgentTicket | undefined;
  tickets(): AgentTicket[];
  /** Waiting tickets in the order they will be routed (high priority first, then oldest). */
  waiting(): AgentTicket[];
  /** Open (assigned, not closed) tickets per agent. */
  load(): Record<string, number>;
  /** The conversation is resolved or abandoned: frees the agent, who gets the next waiting ticket. */
  close(ticketId: string): void;
}

export function createMemoryAgentQueue(options: MemoryAgentQueueOptions): MemoryAgentQueue {
  const defaultMax = options.maxOpenPerAgent ?? 3;
  const agents = options.agents.map((a) => (typeof a === 'string' ? { id: a } : a));
  if (agents.length === 0) throw new Error('createMemoryAgentQueue: at least one agent is needed');
  if (new Set(agents.map((a) => a.id)).size !== agents.length)
    throw new Error('createMemoryAgentQueue: agent ids must be distinct');
  const limit = (a: AgentConfig): number => a.maxOpen ?? defaultMax;
  const routing = options.routing ?? 'round_robin';

  const tickets = new Map<string, AgentTicket>();
  const byKey = new Map<string, string>();
  const seqOf = new Map<string, number>();
  const priorityKeys = new Set<string>();
  const open = new Map<string, number>(agents.map((a) => [a.id, 0]));
  let cursor = 0;
  let seq = 0;

  const hasRoom = (a: AgentConfig): boolean => (open.get(a.id) ?? 0) < limit(a);

  const pickAgent = (): AgentConfig | undefined => {
    if (routing === 'least_loaded') {
      let best: AgentConfig | undefined;
      for (const a of agents)
        if (hasRoom(a) && (best === undefined || open.get(a.id)! < open.get(best.id)!)) best = a;
      return best;
    }
    for (let i = 0; i < agents.length; i++) {
      const a = agents[(cursor + i) % agents.length]!;
      if (hasRoom(a)) {
        cursor = (cursor + i + 1) % agents.length;
        return a;
      }
    }
    return undefined;
  };

  const waiting = (): AgentTicket[] =>
    [...tickets.values()]
      .filter((t) => t.status === 'waiting')
      .sort(
        (a, b) =>
          (a.priority === b.priority ? 0 : a.priority === 'high' ? -1 : 1) ||
          a.request.escalatedAt - b.request.escalatedAt ||
          seqOf.get(a.ticketId)! - seqOf.get(b.ticketId)!,
      );

  // Synchronous from lookup to write, like the coupon ledger: nothing interleaves.
  const route = (): void => {
    for (const t of waiting()) {
      const agent = pickAgent();
      if (!agent) return;
      t.agentId = agent.id;
      t.status = 'assigned';
      open.set(agent.id, open.get(agent.id)! + 1);
      options.onAssigned?.({ ...t });
    }
  };

  const openTicketOf = (shopId: string, conversationId: string): AgentTicket | undefined =>
    [...tickets.values()].find(
      (t) => t.shopId === shopId && t.conversationId === conversationId && t.status !== 'closed',
    );

  const close = (ticketId: string): void => {
    const t = tickets.get(ticketId);
    if (!t || t.status === 'closed') return;
    if (t.status === 'assigned' && t.agentId !== undefined) open.set(t.agentId, open.get(t.agentId)! - 1);
    t.status = 'closed';
    route();
  };

  return {
    enqueue(req) {
      const existing = byKey.get(req.key);
      if (existing !== undefined) return Promise.resolve({ ticketId: existing });
      const ticketId = `ticket-${++seq}`;
      seqOf.set(ticketId, seq);
      byKey.set(req.key, ticketId);
      tickets.set(ticketId, {
        ticketId,
        shopId: req.shopId,
        conversationId: req.conversationId,
        userId: req.userId,
        priority: req.priority,
        status: 'waiting',
        request: req,
      });
      route();
      return Promise.resolve({ ticketId });
    },

    raisePriority(req) {
      const t =
        req.ticketId !== undefined ? tickets.get(req.ticketId) : openTicketOf(req.shopId, req.conversationId);
      if (!t) return Promise.resolve({ found: false });
      if (!priorityKeys.has(req.key)) {
        priorityKeys.add(req.key);
        t.priority = req.priority;
        route();
      }
      return Promise.resolve({ found: true });
    },

    closeTicket(req) {
      const t =
        req.ticketId !== undefined ? tickets.get(req.ticketId) : openTicketOf(req.shopId, req.conversationId);
      if (!t) return Promise.resolve({ found: false });
      close(t.ticketId);
      return Promise.resolve({ found: true });
    },

    ticket: (ticketId) => {
      const t = tickets.get(ticketId);
      return t && { ...t };
    },
    tickets: () => [...tickets.values()].map((t) => ({ ...t })),
    waiting: () => waiting().map((t) => ({ ...t })),
    load: () => Object.fromEntries(open),

    close,
  };
}

export interface SupervisorNotification extends NotifySupervisorRequest {
  /** The supervisors notified (all of the configured ones). */
  supervisors: string[];
}

export interface MemorySupervisorNotifier extends SupervisorNotifier {
  /** Every notification, once per key, in order. */
  notifications(): SupervisorNotification[];
}

export function createMemorySupervisorNotifier(
  options: { supervisors?: string[]; onNotify?: (n: SupervisorNotification) => void } = {},
): MemorySupervisorNotifier {
  const supervisors = options.supervisors ?? ['supervisor'];
  const sent = new Map<string, SupervisorNotification>();
  return {
    notify(req) {
      if (sent.has(req.key)) return Promise.resolve({ newlyNotified: false });
      const n = { ...req, supervisors: [...supervisors] };
      sent.set(req.key, n);
      options.onNotify?.(n);
      return Promise.resolve({ newlyNotified: true });
    },
    notifications: () => [...sent.values()],
  };
}
