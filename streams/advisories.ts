// The max-deliveries catcher: nothing a consumer gives up on is lost.
//
// Every consumer of the events stream has a bounded redelivery (topology.ts redeliveryPolicy). When a
// message's last delivery is not acked, JetStream stops delivering it to that consumer and publishes
// an advisory on `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>`. Advisories are
// fire-and-forget, so the advisories stream keeps them (they wait there while this service is down);
// this durable consumer reads each one, fetches the message by its stream sequence, and publishes it
// to the dead-letter stream (reason max_deliveries, msg id from stream and sequence: kept once however
// many consumers or retries report it), then acks the advisory.
import type { ConsumerMessages, JsMsg, NatsConnection } from 'nats';
import type { Config } from '../infra/config';
import type { Logger } from '../infra/logger';
import type { Metrics } from '../infra/metrics';
import { publishDeadLetter } from './dlq';
import { names } from './topology';
import { checkTopology } from './topology-apply';

/** The fields of io.nats.jetstream.advisory.v1.max_deliver that the catcher uses. */
export interface MaxDeliveriesAdvisory {
  type: string;
  stream: string;
  consumer: string;
  stream_seq: number;
  deliveries: number;
}

export const MAX_DELIVER_ADVISORY_TYPE = 'io.nats.jetstream.advisory.v1.max_deliver';

export function parseMaxDeliveriesAdvisory(data: Uint8Array): MaxDeliveriesAdvisory | undefined {
  try {
    const a = JSON.parse(Buffer.from(data).toString('utf8')) as Partial<MaxDeliveriesAdvisory>;
    if (
      a.type !== MAX_DELIVER_ADVISORY_TYPE ||
      typeof a.stream !== 'string' ||
      typeof a.consumer !== 'string' ||
      !Number.isSafeInteger(a.stream_seq)
    )
      return undefined;
    return {
      type: a.type,
      stream: a.stream,
      consumer: a.consumer,
      stream_seq: a.stream_seq!,
      deliveries: Number(a.deliveries ?? 0),
    };
  } catch {
    return undefined;
  }
}

/** The dead-letter stream's msg id of a message that exhausted its deliveries. */
export const maxDeliveriesMsgId = (stream: string, seq: number): string => `dlq:max:${stream}:${seq}`;

export interface MaxDeliveriesCatcher {
  stop(): Promise<void>;
  stats(): { caught: number; gone: number; failed: number };
}

function isNoMessage(err: unknown): boolean {
  const e = err as { code?: unknown; api_error?: { err_code?: number }; message?: string };
  return e?.api_error?.err_code === 10037 || e?.code === '404' || /no message found/i.test(e?.message ?? '');
}

export async function startMaxDeliveriesCatcher(deps: {
  nc: NatsConnection;
  config: Config;
  logger: Logger;
  metrics?: Metrics;
}): Promise<MaxDeliveriesCatcher> {
  const { nc, config, logger, metrics } = deps;
  const n = names(config.nats.prefix);
  const jsm = await nc.jetstreamManager();
  await checkTopology(jsm, config, {
    streams: [n.eventsStream, n.dlqStream, n.advisoriesStream],
    consumers: [{ stream: n.advisoriesStream, name: n.maxDeliveriesConsumer }],
  });
  const js = nc.jetstream();
  const consumer = await js.consumers.get(n.advisoriesStream, n.maxDeliveriesConsumer);
  const stats = { caught: 0, gone: 0, failed: 0 };

  async function handle(m: JsMsg): Promise<void> {
    const a = parseMaxDeliveriesAdvisory(m.data);
    if (!a) {
      logger.warn({ subject: m.subject }, 'not a max-deliveries advisory; skipped');
      m.ack();
      return;
    }
    const detail = `consumer ${a.consumer} was delivered it ${a.deliveries} times without an ack`;
    let dead: Parameters<typeof publishDeadLetter>[2];
    try {
      const sm = await jsm.streams.getMessage(a.stream, { seq: a.stream_seq });
      dead = {
        reason: 'max_deliveries',
        detail,
        data: sm.data,
        sourceSubject: sm.subject,
        sourceSequence: a.stream_seq,
        msgId: maxDeliveriesMsgId(a.stream, a.stream_seq),
      };
    } catch (err) {
      if (!isNoMessage(err)) throw err;
      // gone from the stream (its age limit) before it was caught: keep the advisory itself
      stats.gone++;
      dead = {
        reason: 'max_deliveries',
        detail: `${detail}; the message is no longer on ${a.stream}: this is the advisory`,
        data: m.data,
        contentType: 'application/json',
        sourceSequence: a.stream_seq,
        msgId: maxDeliveriesMsgId(a.stream, a.stream_seq),
      };
    }
    await publishDeadLetter(js, config.nats.prefix, dead);
    m.ack();
    stats.caught++;
    metrics?.dlqPublished.inc({ reason: 'max_deliveries' });
    logger.warn(
      { stream: a.stream, consumer: a.consumer, seq: a.stream_seq, deliveries: a.deliveries },
      'message exhausted its deliveries; dead-lettered',
    );
  }

  const messages: ConsumerMessages = await consumer.consume({ max_messages: 100 });
  const loop = (async () => {
    for await (const m of messages) {
      try {
        await handle(m);
      } catch (err) {
        stats.failed++;
        logger.error(
          { err: (err as Error).message, seq: m.seq },
          'could not dead-letter an exhausted message; will retry',
        );
        m.nak(5000);
      }
    }
  })();
  let stopped: Promise<void> | undefined;
  return {
    stop: () =>
      (stopped ??= (async () => {
        await messages.close();
        await loop;
      })()),
    stats: () => ({ ...stats }),
  };
}
