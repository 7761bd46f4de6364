// Topology as code: every subject, stream, consumer and bucket name, and the stream settings.
//
// Per-user order with scale-out: a producer puts each event on
//   <prefix>.events.<partition>.<event_type>
// where partition = fnv1a(shop_id + "/" + user key) mod `partitions`. One user's events always share a
// partition, and JetStream keeps a subject filter's messages in publish order, so a processor that
// owns a partition (filter `<prefix>.events.<p>.>`) and applies one user's events one at a time sees
// them in order, while different partitions go to different instances. The partition count is fixed
// for a stream's life: changing it re-routes users (drain first).
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  nanos,
  type ConsumerConfig,
  type Nanos,
  type StreamConfig,
} from 'nats';
import type { Config } from '../infra/config';
import { fnv1a } from '../schemas/hash';
import type { EventType } from '../schemas/events';
import { LEASE_TTL_MS } from './consumer/leases';

export interface Names {
  prefix: string;
  eventsStream: string;
  eventsSubjectAll: string;
  dlqStream: string;
  dlqSubjectAll: string;
  sinkConsumer: string;
  /** JetStream KV: one interest profile per user. */
  profilesBucket: string;
  /** JetStream KV: mined association rules per shop. */
  rulesBucket: string;
  /** JetStream KV: coupon budgets and issued coupons (coupons/kv-coupon-ledger.ts). */
  couponsBucket: string;
  /** JetStream KV: frequency-cap slots per user and local day (activities/kv-message-slots.ts). */
  slotsBucket: string;
  /** JetStream KV: the last turns of each chat conversation and whether it is escalated (chat triggers). */
  conversationsBucket: string;
  /** JetStream KV: each user's recent orders and their status (streams/processors/orders). */
  ordersBucket: string;
  /** Durable consumer of the order view: the order events of every partition. */
  ordersConsumer: string;
  /** Durable consumer of the chat triggers (streams/triggers/escalation-triggers.ts). */
  chatTriggerConsumer: string;
  /** JetStream KV: the bot's dialogue state per user (streams/processors/chat/). */
  /** JetStream KV: live pipeline instances and the ordered consumers each holds (consumer/leases.ts). */
  leasesBucket: string;
  botBucket: string;
  /** Request-reply subject of the recommendation service. */
  recommendSubject: string;
  /** Stream keeping JetStream's max-deliveries advisories about the events stream's consumers. */
  advisoriesStream: string;
  /** `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<events stream>.*`: every consumer of the events stream. */
  maxDeliveriesSubject: string;
  /** Durable consumer of the advisories stream: dead-letters exhausted messages (streams/advisories.ts). */
  maxDeliveriesConsumer: string;
}

/** The chat bot's durable consumer of one partition. */
export function chatConsumer(partition: number): string {
  return `chat_p${partition}`;
}

/** What the chat bot reads: the turns and the desk's events (escalation state). */
export const CHAT_BOT_EVENT_TYPES = [
  'chat_turn',
  'handoff_requested',
  'agent_accepted',
  'conversation_closed',
] as const satisfies readonly EventType[];

/** The interest processor's durable consumer of one partition. */
export function interestConsumer(partition: number): string {
  return `interest_p${partition}`;
}

export function names(prefix: string): Names {
  const upper = prefix.toUpperCase();
  return {
    prefix,
    eventsStream: `${upper}_EVENTS`,
    eventsSubjectAll: `${prefix}.events.>`,
    dlqStream: `${upper}_DLQ`,
    dlqSubjectAll: `${prefix}.dlq.>`,
    sinkConsumer: 'sink_clickhouse',
    profilesBucket: `${upper}_PROFILES`,
    rulesBucket: `${upper}_RULES`,
    couponsBucket: `${upper}_COUPONS`,
    slotsBucket: `${upper}_MSG_SLOTS`,
    conversationsBucket: `${upper}_CONVERSATIONS`,
    ordersBucket: `${upper}_ORDERS`,
    ordersConsumer: 'orders_view',
    chatTriggerConsumer: 'triggers_chat',
    botBucket: `${upper}_BOT`,
    leasesBucket: `${upper}_LEASES`,
    recommendSubject: `${prefix}.svc.recommend`,
    advisoriesStream: `${upper}_ADVISORIES`,
    maxDeliveriesSubject: `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${upper}_EVENTS.*`,
    maxDeliveriesConsumer: 'dlq_max_deliveries',
  };
}

/** Deliveries of one message before a consumer gives up on it (and the advisory catcher dead-letters it). */
export const MAX_DELIVER = 20;
/** The longest wait for an ack between two deliveries. */
export const MAX_BACKOFF_MS = 5 * 60_000;

/**
 * Bounded redelivery for a durable consumer, the same for every consumer of the events stream
 * (processors, sink, triggers): at most `maxDeliver` deliveries; the wait for an ack doubles from
 * `ackWaitMs` to MAX_BACKOFF_MS, so a message nobody can handle costs little while a short outage
 * is ridden out. JetStream uses `backoff` instead of ack_wait for a delivery's ack timeout (the
 * first entry is the ack_wait, and there must be fewer entries than max_deliver); a nak with a delay
 * still counts one delivery. When the last delivery is not acked, JetStream publishes
 * `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>`, which streams/advisories.ts turns
 * into a dead letter (reason max_deliveries): nothing is lost.
 */
export function redeliveryPolicy(
  ackWaitMs: number,
  maxDeliver = MAX_DELIVER,
): { ack_wait: Nanos; max_deliver: number; backoff?: Nanos[] } {
  if (maxDeliver <= 1) return { ack_wait: nanos(ackWaitMs), max_deliver: 1 };
  const steps = Math.min(maxDeliver - 1, 12);
  const cap = Math.max(ackWaitMs, MAX_BACKOFF_MS);
  const backoff = Array.from({ length: steps }, (_, i) => nanos(Math.min(cap, ackWaitMs * 2 ** i)));
  return { ack_wait: backoff[0]!, max_deliver: maxDeliver, backoff };
}

/** The key that orders a user's events: the customer id, or the anonymous id before login. */
export function userKey(e: { userId?: string | null; anonymousId?: string | null }): string {
  return e.userId || (e.anonymousId ? `anon:${e.anonymousId}` : '');
}

export function partitionOf(shopId: string, key: string, partitions: number): number {
  return fnv1a(`${shopId}/${key}`) % partitions;
}

export function eventSubject(prefix: string, partition: number, type: EventType): string {
  return `${prefix}.events.${partition}.${type}`;
}

export function partitionFilter(prefix: string, partition: number): string {
  return `${prefix}.events.${partition}.>`;
}

/** Typed reasons an event is kept in the dead-letter stream instead of being processed. */
export const DLQ_REASONS = [
  'decode_failed', // bytes are not an Envelope
  'unknown_payload', // no payload this build knows (a newer producer?)
  'invalid_event', // decodes, but breaks a schema rule
  'collector_rejected', // an HTTP event that could not be mapped or validated
  'processing_failed', // a processor gave up after retries
  'store_rejected', // ClickHouse refused this row (its error code in the detail); the rest was stored
  'max_deliveries', // a consumer was delivered it max_deliver times without an ack (streams/advisories.ts)
] as const;
export type DlqReason = (typeof DLQ_REASONS)[number];

export function dlqSubject(prefix: string, reason: DlqReason): string {
  return `${prefix}.dlq.${reason}`;
}

/** Headers on dead letters. The message body is the original bytes, untouched. */
export const DLQ_HEADERS = {
  reason: 'Shopstream-Dlq-Reason',
  detail: 'Shopstream-Dlq-Detail',
  sourceSubject: 'Shopstream-Dlq-Source-Subject',
  sourceSequence: 'Shopstream-Dlq-Source-Sequence',
  failedAt: 'Shopstream-Dlq-Failed-At',
  contentType: 'Content-Type',
  shopId: 'Shopstream-Shop-Id',
} as const;

export function streamConfigs(cfg: Config['nats']): Partial<StreamConfig>[] {
  const n = names(cfg.prefix);
  return [
    {
      name: n.eventsStream,
      description: 'shopstream events: <prefix>.events.<partition>.<event_type>, protobuf Envelope',
      subjects: [n.eventsSubjectAll],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      // full: refuse new events (the producer gets an error) rather than drop ones not yet stored
      discard: DiscardPolicy.New,
      max_bytes: cfg.eventsMaxBytes,
      max_age: nanos(cfg.eventsMaxAgeMs),
      duplicate_window: nanos(cfg.duplicateWindowMs),
      max_msg_size: 1024 * 1024,
      num_replicas: cfg.replicas,
      deny_delete: true,
      deny_purge: false,
      allow_direct: true,
    },
    {
      name: n.dlqStream,
      description: 'shopstream dead letters: original bytes plus Shopstream-Dlq-* headers',
      subjects: [n.dlqSubjectAll],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      // full: the oldest dead letters go first (the public write key must not fill the disk)
      discard: DiscardPolicy.Old,
      max_bytes: cfg.dlqMaxBytes,
      max_age: nanos(cfg.dlqMaxAgeMs),
      duplicate_window: nanos(cfg.duplicateWindowMs),
      num_replicas: cfg.replicas,
      // replay removes a dead letter once its fixed event is republished
      deny_delete: false,
      allow_direct: true,
    },
    {
      name: n.advisoriesStream,
      description: 'JetStream max-deliveries advisories of the events stream, kept until dead-lettered',
      subjects: [n.maxDeliveriesSubject],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: nanos(cfg.dlqMaxAgeMs),
      max_bytes: 64 * 1024 * 1024,
      num_replicas: cfg.replicas,
    },
  ];
}

/** `all`, or numbers and ranges such as `0-7,12`, as partition numbers below `partitions`. */
export function parsePartitions(spec: string, partitions: number): number[] {
  if (spec === 'all') return Array.from({ length: partitions }, (_, i) => i);
  const out = new Set<number>();
  for (const part of spec.split(',')) {
    const [a, b] = part.split('-').map(Number) as [number, number | undefined];
    for (let p = a; p <= (b ?? a); p++) {
      if (p >= partitions)
        throw new TopologyError(
          `partition ${p} does not exist: there are ${partitions} (0-${partitions - 1})`,
        );
      out.add(p);
    }
  }
  return [...out].sort((x, y) => x - y);
}

/** The events the order view is built from (streams/processors/orders/model.ts). */
export const ORDER_VIEW_EVENTS = [
  'order_placed',
  'order_paid',
  'order_shipped',
  'order_delivered',
  'order_refunded',
] as const satisfies readonly EventType[];

/** The order view's filter: its events on every partition. */
export function orderViewSubjects(prefix: string): string[] {
  return ORDER_VIEW_EVENTS.map((t) => `${prefix}.events.*.${t}`);
}

export function consumerConfigs(cfg: Config): { stream: string; config: Partial<ConsumerConfig> }[] {
  const n = names(cfg.nats.prefix);
  const interest = Array.from({ length: cfg.nats.partitions }, (_, p) => ({
    stream: n.eventsStream,
    config: {
      durable_name: interestConsumer(p),
      description: `interest processor, partition ${p}: one user's events in order`,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: partitionFilter(cfg.nats.prefix, p),
      ...redeliveryPolicy(30_000, cfg.nats.maxDeliver),
      max_ack_pending: Math.max(cfg.interest.batchSize * 2, 100),
      max_waiting: 64,
    } satisfies Partial<ConsumerConfig>,
  }));
  const chat = Array.from({ length: cfg.nats.partitions }, (_, p) => ({
    stream: n.eventsStream,
    config: {
      durable_name: chatConsumer(p),
      description: `chat bot, partition ${p}: one user's turns in order`,
      ack_policy: AckPolicy.Explicit,
      // a bot started on a stream holding days of chat does not answer yesterday's questions
      deliver_policy: DeliverPolicy.New,
      filter_subjects: CHAT_BOT_EVENT_TYPES.map((t) => eventSubject(cfg.nats.prefix, p, t)),
      ...redeliveryPolicy(10_000, cfg.nats.maxDeliver),
      max_ack_pending: 1000,
      max_waiting: 64,
    } satisfies Partial<ConsumerConfig>,
  }));
  return [
    ...interest,
    ...chat,
    {
      stream: n.eventsStream,
      config: {
        durable_name: n.sinkConsumer,
        description: 'ClickHouse sink: batches events into the events table',
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        filter_subject: n.eventsSubjectAll,
        ...redeliveryPolicy(cfg.sink.ackWaitMs, cfg.nats.maxDeliver),
        max_ack_pending: Math.max(cfg.sink.batchSize * 4, 1000),
        max_waiting: 512,
      },
    },
    {
      stream: n.eventsStream,
      config: {
        durable_name: n.ordersConsumer,
        description: "order view: order events to each user's recent orders in KV",
        ack_policy: AckPolicy.Explicit,
        // every order the stream still holds: the view knows orders placed before it started
        deliver_policy: DeliverPolicy.All,
        filter_subjects: orderViewSubjects(cfg.nats.prefix),
        ...redeliveryPolicy(30_000, cfg.nats.maxDeliver),
        max_ack_pending: 1000,
        max_waiting: 64,
      },
    },
    {
      stream: n.advisoriesStream,
      config: {
        durable_name: n.maxDeliveriesConsumer,
        description: 'max-deliveries advisories of the events stream: each exhausted message to the DLQ',
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        filter_subject: n.maxDeliveriesSubject,
        // the last line: keeps trying for hours while the dead-letter stream cannot take a message
        ...redeliveryPolicy(10_000, 100),
        max_ack_pending: 1000,
        max_waiting: 64,
      },
    },
  ];
}

export const KV_BUCKETS = (cfg: Config['nats']): { bucket: string; description: string; ttl?: number }[] => {
  const n = names(cfg.prefix);
  return [
    { bucket: n.profilesBucket, description: 'interest profiles: vectors, counters, watermark per user' },
    { bucket: n.rulesBucket, description: 'association rules per shop' },
    // budgets and issued coupons must never expire
    { bucket: n.couponsBucket, description: 'coupon ledger: campaign budgets and issued coupons' },
    // a user-local day spans at most about 50 hours of real time
    { bucket: n.slotsBucket, description: 'message slots per user and local day', ttl: 3 * 86_400_000 },
    // a conversation's turns are kept a day after its last event: enough for a handoff to carry them
    {
      bucket: n.conversationsBucket,
      description: 'chat conversations: last turns and escalation status',
      ttl: 86_400_000,
    },
    // what a user told the bot (sizes, budget) is kept half a year after their last turn
    { bucket: n.botBucket, description: 'chat bot: dialogue state per user', ttl: 180 * 86_400_000 },
    // an order view is kept 90 days after its last change (the bot answers about recent orders)
    { bucket: n.ordersBucket, description: "order view: each user's recent orders", ttl: 90 * 86_400_000 },
    // which pipeline instance consumes which partition: a lease lives until its holder stops renewing it
    {
      bucket: n.leasesBucket,
      description: 'pipeline instances and the consumers each holds',
      ttl: LEASE_TTL_MS,
    },
  ];
};

export class TopologyError extends Error {
  override readonly name = 'TopologyError';
  readonly code = 'TOPOLOGY_MISSING';
}
