import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Config } from '../../infra/config';
import { readDeadLetters, summarizeDeadLetters } from '../../streams/dlq';
import { replayDeadLetters, toExportLine, type ExportLine } from '../../streams/dlq-replay';
import { connectNats } from '../../infra/nats';
import { createProducer } from '../../streams/producer/producer';
import { DLQ_REASONS, type DlqReason } from '../../streams/topology';
import { UsageError } from '../run';

function reasonOpt(opts: Record<string, unknown>): DlqReason | undefined {
  const r = opts['reason'] as string | undefined;
  if (r === undefined) return undefined;
  if (!(DLQ_REASONS as readonly string[]).includes(r))
    throw new UsageError(`unknown reason "${r}"; one of ${DLQ_REASONS.join(', ')}`);
  return r as DlqReason;
}

export async function list(config: Config, opts: Record<string, unknown>): Promise<void> {
  const nc = await connectNats(config.nats, 'shopstream-dlq');
  try {
    const jsm = await nc.jetstreamManager();
    const js = nc.jetstream();
    const only = reasonOpt(opts);
    const summary = await summarizeDeadLetters(jsm, config.nats.prefix);
    const samplesPer = Number(opts['samples'] ?? 3);
    const reasons = Object.keys(summary.byReason).filter((r) => !only || r === only) as DlqReason[];
    const samples: Record<string, ExportLine[]> = {};
    for (const reason of reasons) {
      samples[reason] = [];
      for await (const dl of readDeadLetters(js, jsm, config.nats.prefix, { reason, limit: samplesPer }))
        samples[reason].push(toExportLine(dl));
    }
    if (opts['json']) {
      console.log(JSON.stringify({ total: summary.total, byReason: summary.byReason, samples }, null, 2));
      return;
    }
    console.log(`dead letters: ${summary.total}`);
    for (const reason of reasons) {
      console.log(`  ${reason.padEnd(20)} ${String(summary.byReason[reason]).padStart(7)}`);
      for (const s of samples[reason] ?? []) {
        const what = s.envelope
          ? `event ${typeof s.envelope['eventId'] === 'string' ? s.envelope['eventId'] : '?'}`
          : s.event !== undefined
            ? 'HTTP event'
            : `${Buffer.from(s.raw_base64 ?? '', 'base64').length} raw bytes`;
        console.log(`      #${s.seq} ${what}: ${s.detail.slice(0, 160)}`);
      }
    }
    if (summary.total > 0)
      console.log(
        '\nfix and replay: npx shopstream dlq export --out dl.jsonl; edit; npx shopstream dlq replay --file dl.jsonl',
      );
  } finally {
    await nc.close();
  }
}

export async function exportCommand(config: Config, opts: Record<string, unknown>): Promise<void> {
  const nc = await connectNats(config.nats, 'shopstream-dlq');
  const out = createWriteStream(String(opts['out']));
  let n = 0;
  try {
    for await (const dl of readDeadLetters(nc.jetstream(), await nc.jetstreamManager(), config.nats.prefix, {
      reason: reasonOpt(opts),
    })) {
      if (!out.write(`${JSON.stringify(toExportLine(dl))}\n`)) await once(out, 'drain');
      n++;
    }
  } finally {
    out.end();
    await once(out, 'finish');
    await nc.close();
  }
  console.log(`exported ${n} dead letters to ${String(opts['out'])}`);
}

export async function replay(config: Config, opts: Record<string, unknown>): Promise<number> {
  const dryRun = opts['dryRun'] === true;
  const nc = await connectNats(config.nats, 'shopstream-dlq');
  let tally;
  try {
    const producer = await createProducer({
      nats: config.nats,
      shopId: 'dlq-replay',
      producerId: 'dlq-replay',
      connection: nc,
    });
    const source = opts['file']
      ? {
          lines: () =>
            createInterface({ input: createReadStream(opts['file'] as string), crlfDelay: Infinity }),
        }
      : { reason: reasonOpt(opts) };
    tally = await replayDeadLetters(nc, config.nats.prefix, source, { dryRun, producer });
  } finally {
    await nc.drain();
  }
  console.log(
    `${dryRun ? 'would replay' : 'replayed'}: ${tally.replayed}, already stored: ${tally.duplicates}, still failing (kept): ${tally.stillFailing}` +
      (tally.alreadyReplayed ? `, replayed before (skipped): ${tally.alreadyReplayed}` : ''),
  );
  for (const [w, c] of tally.why) console.log(`  ${c} x ${w}`);
  return 0;
}
