// The customer-service bot under load: `make bench-chat` (npx tsx bench/chat.ts). A throwaway
// nats-server and the pipeline service's bot (with the interest processor, the recommender and the
// order view it reads), then:
//   1. steady: CONVERSATIONS open conversations (10,000), each user writing a turn, waiting for the
//      reply, thinking THINK_MS (40 s) on average (uniform 0.5x..1.5x), for TURNS (2) turns: first-response time
//      from the publish to the reply on the conversation's reply subject, p50/p95/p99;
//   2. burst: every conversation writes at the same moment: turns per second until all are answered.
// Writes chat_reply_ms {p50, p95, p99} and chat_turns_per_s into bench-results.json (other keys kept).
import { SHOPPER_QUESTIONS, writeResults } from './common';
import { cpus } from 'node:os';
import { createLogger } from '../infra/logger';
import { connectNats } from '../infra/nats';
import { getFreePort } from '../infra/stack/processes';
import { testConfig } from '../infra/stack/test-config';
import { startTestNats } from '../infra/stack/test-nats';
import type { ReplyPayload } from '../streams/processors/chat/processor';
import { createProducer } from '../streams/producer/producer';
import { startService } from '../streams/service';

const CONVERSATIONS = Number(process.env['CONVERSATIONS'] ?? 10_000);
const TURNS = Number(process.env['TURNS'] ?? 2);
const THINK_MS = Number(process.env['THINK_MS'] ?? 40_000);

/** The shoppers' questions, and a few that close or hand off a conversation. */
const ASKED = [...SHOPPER_QUESTIONS, '谢谢', 'thanks, bye', '我要转人工'];

const quantile = (sorted: number[], q: number): number =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

function summary(ms: number[]): { p50: number; p95: number; p99: number; max: number } {
  const s = [...ms].sort((a, b) => a - b);
  const r = (v: number): number => Math.round(v * 10) / 10;
  return {
    p50: r(quantile(s, 0.5)),
    p95: r(quantile(s, 0.95)),
    p99: r(quantile(s, 0.99)),
    max: r(s.at(-1) ?? 0),
  };
}

async function main(): Promise<void> {
  const nats = await startTestNats();
  const config = testConfig(nats.url, {
    NATS_PARTITIONS: '16',
    ADMIN_PORT: String(await getFreePort()),
    BOT_KB_WATCH: 'off',
    LOG_LEVEL: 'warn',
  });
  const service = await startService({
    config,
    logger: createLogger('warn', 'bench'),
    sink: false,
    collector: false,
    triggers: false,
  });
  const nc = await connectNats(config.nats, 'bench-chat', { noAsyncTraces: true });
  const producer = await createProducer({
    nats: config.nats,
    shopId: 'bench',
    connection: nc,
    maxInFlight: 2000,
  });
  /** conversation -> when its pending turn was published, and what to do on the reply */
  const pending = new Map<string, { sentAt: number; onReply: () => void }>();
  const sub = nc.subscribe(`${config.nats.prefix}.chat.reply.>`);
  void (async () => {
    for await (const m of sub) {
      const r = m.json<ReplyPayload>();
      const p = pending.get(r.conversationId);
      if (!p) continue;
      pending.delete(r.conversationId);
      p.onReply();
    }
  })();

  let turnIndex = 0;
  let failed = 0;
  const turn = (c: number, text: string): Promise<number> =>
    new Promise<number>((resolve) => {
      const conversationId = `bench-c${c}`;
      const sentAt = performance.now();
      pending.set(conversationId, { sentAt, onReply: () => resolve(performance.now() - sentAt) });
      producer
        .track('chat_turn', {
          userId: `bench-u${c}`,
          channel: 'web',
          properties: { conversationId, role: 1, text, turnIndex: ++turnIndex, channel: 1 },
        })
        .catch(() => {
          failed++;
          pending.delete(conversationId);
          resolve(Number.NaN);
        });
    });
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  // warm up: the model, the KV bucket, the consumers
  await Promise.all(Array.from({ length: 50 }, (_, i) => turn(CONVERSATIONS + i, ASKED[i % ASKED.length]!)));

  // 1. steady: conversations open over one think time, so turns arrive at a steady rate
  console.log(
    `steady: ${CONVERSATIONS} conversations x ${TURNS} turns, think time ~${THINK_MS} ms (about ${Math.round(CONVERSATIONS / (THINK_MS / 1000))} turns/s)`,
  );
  const latencies: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONVERSATIONS }, async (_, c) => {
      await sleep(Math.random() * THINK_MS);
      for (let t = 0; t < TURNS; t++) {
        const ms = await turn(c, ASKED[(c * 7 + t) % ASKED.length]!);
        if (Number.isFinite(ms)) latencies.push(ms);
        if (t < TURNS - 1) await sleep(THINK_MS * (0.5 + Math.random()));
      }
    }),
  );
  const steadySeconds = (performance.now() - t0) / 1000;

  // 2. burst: every conversation at once
  console.log(`burst: ${CONVERSATIONS} turns at once`);
  const b0 = performance.now();
  const burst = await Promise.all(
    Array.from({ length: CONVERSATIONS }, (_, c) => turn(c, ASKED[(c * 3) % ASKED.length]!)),
  );
  const burstSeconds = (performance.now() - b0) / 1000;

  const steady = summary(latencies);
  const results = {
    chat_reply_ms: { p50: steady.p50, p95: steady.p95, p99: steady.p99 },
    chat_turns_per_s: Math.round(CONVERSATIONS / burstSeconds),
    chat: {
      conversations: CONVERSATIONS,
      turns_per_conversation: TURNS,
      think_ms: THINK_MS,
      steady_turns: latencies.length,
      steady_turns_per_s: Math.round(latencies.length / steadySeconds),
      steady_reply_ms: steady,
      burst_reply_ms: summary(burst.filter(Number.isFinite)),
      burst_seconds: Number(burstSeconds.toFixed(2)),
      failed_publishes: failed,
      rss_mb: Math.round(process.memoryUsage().rss / 2 ** 20),
      machine: `${cpus().length} cores, node ${process.version}`,
    },
  };
  console.table({ steady: results.chat.steady_reply_ms, burst: results.chat.burst_reply_ms });
  console.log(JSON.stringify(results, null, 2));
  writeResults(results);
  sub.unsubscribe();
  await producer.close();
  await service.stop();
  await nc.drain();
  await nats.stop();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
