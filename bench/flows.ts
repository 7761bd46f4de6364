// Flow throughput: how fast one worker and the local Temporal dev server (SQLite) get cart-recovery
// flows through, on throwaway servers. Starts FLOWS (default 500) runs of the demo's flow (windows in
// seconds: the flow itself takes 17 s) at once, with the real activities (KV ledger and slots, events
// published to JetStream, log channels), and measures the time until all completed, the completion
// rate and the history length per flow. `npx tsx bench/flows.ts`.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection } from '@temporalio/worker';
import { createLogChannel } from '../activities';
import { createKvCouponLedger } from '../coupons/kv-coupon-ledger';
import { createKvMessageSlots } from '../activities/kv-message-slots';
import { createNatsPublish } from '../streams/producer/flow-events';
import { startWorker } from '../activities/worker';
import { createLogger } from '../infra/logger';
import { connectNats } from '../infra/nats';
import { names } from '../streams/topology';
import { applyTopology } from '../streams/topology-apply';
import { cartRecoveryWorkflow, cartRecoveryWorkflowId } from '../workflows/cart-recovery';
import { cartRecovery, withTiming } from '../workflows/flows';
import { startTestNats } from '../infra/stack/test-nats';
import { testConfig } from '../infra/stack/test-config';
import { installQuietRuntime, startTestTemporal } from '../infra/stack/test-temporal';

/** The shipped cart flow with the demo's timing: abandonAfter 5s + waits of 6s, 6s, 6s. */
const benchFlow = withTiming(cartRecovery, {
  timeScale: 360,
  maxWaitMs: 6000,
  quietHours: false,
  frequencyCapPerDay: 10,
});
const FLOW_SECONDS = 23;

async function main(): Promise<void> {
  const flows = Number(process.env['FLOWS'] ?? 500);
  installQuietRuntime();
  const [nats, temporal] = await Promise.all([startTestNats(), startTestTemporal()]);
  const config = testConfig(nats.url, { TEMPORAL_ADDRESS: temporal.address, TEMPORAL_TASK_QUEUE: 'bench' });
  const nc = await connectNats(config.nats, 'bench-flows', { noAsyncTraces: true });
  const connection = await Connection.connect({ address: temporal.address });
  try {
    await applyTopology(await nc.jetstreamManager(), config);
    const js = nc.jetstream();
    const n = names(config.nats.prefix);
    const { publish, producer } = await createNatsPublish(config, nc);
    const channels = { app_push: createLogChannel('app_push'), email: createLogChannel('email') };
    const worker = await startWorker({
      config,
      connection: await NativeConnection.connect({ address: temporal.address }),
      logger: createLogger('silent', 'bench'),
      shutdownSignals: [],
      workflowBundle: await bundleWorkflowCode({
        workflowsPath: require.resolve('../workflows/index'),
        logger: new DefaultLogger('WARN'),
      }),
      activitiesDeps: {
        channels,
        ledger: createKvCouponLedger(await js.views.kv(n.couponsBucket, { bindOnly: true }), {
          secret: randomBytes(32).toString('hex'),
        }),
        slots: createKvMessageSlots(await js.views.kv(n.slotsBucket, { bindOnly: true })),
        publish,
      },
    });
    const client = new Client({ connection });
    const t0 = performance.now();
    const now = Date.now();
    const handles = await Promise.all(
      Array.from({ length: flows }, (_, i) => {
        const userId = `bench-user-${i}`;
        const cartId = `bench-cart-${i}`;
        return client.workflow.start(cartRecoveryWorkflow, {
          taskQueue: 'bench',
          workflowId: cartRecoveryWorkflowId('bench', userId, cartId),
          args: [
            {
              flow: benchFlow,
              shopId: 'bench',
              userId,
              cartId,
              tier: i % 3 === 0 ? 'repeat' : 'new',
              timeZone: 'UTC',
              cart: { totalMinor: 8_000, itemCount: 2, currency: 'USD', eventTime: now },
            },
          ],
        });
      }),
    );
    const started = performance.now();
    const exits = await Promise.all(handles.map((h) => h.result().then((r) => r.exit)));
    const seconds = (performance.now() - t0) / 1000;
    const sample = handles.filter((_, i) => i % Math.max(1, Math.floor(flows / 20)) === 0);
    let events = 0;
    for (const h of sample) events += (await h.fetchHistory()).events?.length ?? 0;
    await worker.shutdown();
    await producer.close();
    const results = {
      flows,
      completed: exits.filter((e) => e === 'completed').length,
      start_calls_s: Number(((started - t0) / 1000).toFixed(1)),
      all_done_s: Number(seconds.toFixed(1)),
      flow_own_duration_s: FLOW_SECONDS,
      flows_per_s: Number((flows / seconds).toFixed(1)),
      history_events_per_flow: Math.round(events / sample.length),
      messages_sent: channels.app_push.sent.length + channels.email.sent.length,
      machine: `${cpus().length} cores, node ${process.version}`,
    };
    console.table(results);
    writeFileSync('bench-flows.json', `${JSON.stringify(results, null, 2)}\n`);
  } finally {
    await connection.close();
    await nc.drain();
    await Promise.all([nats.stop(), temporal.stop()]);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
