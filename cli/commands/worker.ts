// `shopstream worker`: the Temporal worker of the flows, with the coupon ledger and message slots in
// JetStream KV, the message channels of the `channels` config (log by default, relay URLs for real
// delivery; one log line per message, ids only: no PII), and flow events (reminder_sent, coupon_issued)
// published to the events stream. SIGTERM / SIGINT drain it.
import { requireSecret, type Config } from '../../infra/config';
import { createLogger, type Logger } from '../../infra/logger';
import { applyNice } from '../../infra/priority';
import { createChannels, describeChannels } from '../../activities/channels';
import { createKvCouponLedger } from '../../coupons/kv-coupon-ledger';
import { createKvMessageSlots } from '../../activities/kv-message-slots';
import { createNatsPublish } from '../../streams/producer/flow-events';
import { createMemoryAgentQueue, createMemorySupervisorNotifier } from '../../activities/escalation';
import { startWorker, type RunningWorker } from '../../activities/worker';
import type { FastifyInstance } from 'fastify';
import type { NatsConnection } from 'nats';
import { createMetrics } from '../../infra/metrics';
import { buildAdmin } from '../../streams/admin';
import { temporalAnswers } from '../../streams/pipeline/triggers';
import { connectNats } from '../../infra/nats';
import { names } from '../../streams/topology';
import { checkTopology, ensureBuckets } from '../../streams/topology-apply';

export type WorkerQueues = 'all' | 'flows' | 'chat';

/** Which task queues a `--queues` choice polls (startWorker's taskQueue / chatTaskQueue). */
export function queuesFor(
  config: Config,
  queues: WorkerQueues,
): { taskQueue: string; chatTaskQueue: string | null } {
  const { taskQueue, chatTaskQueue } = config.temporal;
  if (queues === 'flows') return { taskQueue, chatTaskQueue: null };
  if (queues === 'chat') return { taskQueue: chatTaskQueue, chatTaskQueue: null };
  return { taskQueue, chatTaskQueue };
}

export async function worker(config: Config, opts: { queues?: string } = {}): Promise<number> {
  const queues = (opts.queues ?? 'all') as WorkerQueues;
  const logger = createLogger(config.log.level, queues === 'chat' ? 'chat-worker' : 'worker');
  applyNice(config.process.nice, logger);
  // before anything connects: a worker without the secret must not start (it could issue no code)
  const secret = requireSecret(config.coupons.secret, 'COUPON_SECRET', 32, 'the coupon ledger');
  const nc = await connectNats(config.nats, 'shopstream-worker');
  try {
    const jsm = await nc.jetstreamManager();
    const n = names(config.nats.prefix);
    // its own buckets (idempotent), and the events stream it publishes to, which the service applies
    await ensureBuckets(jsm, config, [n.couponsBucket, n.slotsBucket]);
    await checkTopology(jsm, config, { streams: [n.eventsStream] });
    const js = nc.jetstream();
    const ledger = createKvCouponLedger(await js.views.kv(n.couponsBucket, { bindOnly: true }), { secret });
    const slots = createKvMessageSlots(await js.views.kv(n.slotsBucket, { bindOnly: true }));
    const { publish, producer } = await createNatsPublish(config, nc);
    // ids, template and coupon only in the 'message sent' lines; never the message's personal data
    const channels = createChannels(config.channels, logger.child({ component: 'messages' }));
    logger.info({ channels: describeChannels(config.channels) }, 'message channels');
    const running = await startWorker({
      config,
      logger,
      ...queuesFor(config, queues),
      activitiesDeps: { channels, ledger, slots, publish, ...memoryAgentDesk(logger) },
    });
    const admin = await startWorkerAdmin(config, logger, nc, running);
    await running.done; // until SIGTERM / SIGINT (drained)
    await admin?.close();
    await producer.close();
    return 0;
  } finally {
    await nc.drain();
  }
}

/**
 * The worker's health endpoint (WORKER_ADMIN_PORT; none when 0): /livez (the process answers), /readyz
 * (every task queue's worker running, NATS connected, Temporal answering; 503 otherwise) and /metrics
 * (the process's own: CPU, memory, event loop).
 */
async function startWorkerAdmin(
  config: Config,
  logger: Logger,
  nc: NatsConnection,
  running: RunningWorker,
): Promise<FastifyInstance | undefined> {
  const port = config.temporal.workerAdminPort;
  if (port === 0) return undefined;
  const workers = [running.worker, ...(running.chatWorker ? [running.chatWorker] : [])];
  const app = buildAdmin({
    metrics: createMetrics(),
    token: '', // no SQL, no stats
    hosts: [config.admin.host],
    stats: () => ({}),
    health: async () => {
      const states = Object.fromEntries(workers.map((w) => [w.options.taskQueue, w.getState()]));
      const temporal = await temporalAnswers(config.temporal.address);
      const natsOk = !nc.isClosed();
      const ok = Object.values(states).every((s) => s === 'RUNNING') && temporal && natsOk;
      return { ok, workers: states, temporal, nats: natsOk };
    },
  });
  await app.listen({ host: config.admin.host, port });
  logger.info(
    { url: `http://${config.admin.host}:${port}` },
    'worker health listening (livez, readyz, metrics)',
  );
  return app;
}

/**
 * Chat escalations' agent desk, in memory: a few agents (round-robin, at most 5 open conversations
 * each), tickets routed and supervisor notices logged with ids only (never the transcript). Enough for
 * the demo and one worker; a real desk (Chatwoot, Zendesk...) replaces it with an adapter of AgentQueue.
 * The SLA clocks run on the desk's own agent_accepted / conversation_closed events (chat triggers),
 * not on this routing; a ticket is closed when its escalation ends. Run one chat worker per desk: the
 * routing state is this process's.
 */
function memoryAgentDesk(logger: Logger) {
  const desk = logger.child({ component: 'agent-desk' });
  return {
    agentQueue: createMemoryAgentQueue({
      agents: ['agent-1', 'agent-2', 'agent-3', 'agent-4'],
      maxOpenPerAgent: 5,
      onAssigned: (t) =>
        desk.info(
          {
            ticketId: t.ticketId,
            conversationId: t.conversationId,
            agentId: t.agentId,
            priority: t.priority,
          },
          'ticket routed',
        ),
    }),
    supervisors: createMemorySupervisorNotifier({
      onNotify: (n) =>
        desk.info(
          { conversationId: n.conversationId, level: n.level, reason: n.reason, waitedMs: n.waitedMs },
          'supervisor notified',
        ),
    }),
  };
}
