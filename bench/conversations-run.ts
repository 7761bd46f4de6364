// Runs bench/conversations.ts and prints its figures:
//   npx tsx bench/conversations-run.ts
//   CONVERSATIONS=50 RATE=500 SECONDS=10 npx tsx bench/conversations-run.ts      (a small run)
// Optional: THINK_MS, HANDOFF_SHARE, TIMING=production, LAYOUT=one (every part in one service
// process), BULK_NICE (default 10), CPU_PROFILE_DIR (a --cpu-prof profile per process), WRITE=1
// (merges conversation_* keys into bench-results.json).
import { writeResults } from './common';
import { measureConversations } from './conversations';

const env = (k: string): number | undefined => (process.env[k] ? Number(process.env[k]) : undefined);

let unhandled = 0;
process.on('unhandledRejection', (err) => {
  unhandled++;
  console.error('unhandled rejection:', err);
});

async function main(): Promise<void> {
  const started = Date.now();
  const figures = await measureConversations({
    conversations: env('CONVERSATIONS'),
    rate: env('RATE'),
    seconds: env('SECONDS'),
    thinkMs: env('THINK_MS'),
    handoffShare: env('HANDOFF_SHARE'),
    timing: process.env['TIMING'] === 'production' ? 'production' : 'demo',
    layout: process.env['LAYOUT'] === 'one' ? 'one' : 'split',
    bulkNice: env('BULK_NICE'),
    ...(process.env['CPU_PROFILE_DIR'] ? { cpuProfileDir: process.env['CPU_PROFILE_DIR'] } : {}),
    log: (l) => console.log(`[${Math.round((Date.now() - started) / 1000)} s] ${l}`),
  });
  console.log(JSON.stringify(figures, null, 2));
  if (process.env['WRITE'] === '1')
    writeResults({
      conversation_chat_reply_ms: figures.chat_reply_ms,
      conversation_handoff_to_escalation_ms: figures.handoff_to_escalation_ms,
      conversations_under_load: {
        handoffs: figures.handoffs,
        conversations: figures.conversations,
        replies: figures.replies,
        marketing_flows: figures.marketing_flows,
        rate: figures.rate,
        seconds: figures.seconds,
      },
    });
  if (unhandled > 0) throw new Error(`${unhandled} unhandled rejections`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
