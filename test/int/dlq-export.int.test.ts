// `shopstream dlq export` exports every dead letter, however many fetches that takes (issue 8: it
// used to stop after a few 256-message fetches, losing the rest from export and replay).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { NatsConnection } from 'nats';
import { exportCommand } from '../../cli/commands/dlq';
import type { Config } from '../../infra/config';
import { encodeEnvelope } from '../../schemas/codec';
import { publishDeadLetter, readDeadLetters } from '../../streams/dlq';
import { connectNats } from '../../infra/nats';
import { applyTopology } from '../../streams/topology-apply';
import { buildEnvelope } from '../helpers/events';
import { startTestNats, type TestNats } from '../../infra/stack/test-nats';
import { testConfig } from '../../infra/stack/test-config';

const TOTAL = 1_148;

let nats: TestNats;
let nc: NatsConnection;
let config: Config;
let dir: string;

beforeAll(async () => {
  nats = await startTestNats();
  config = testConfig(nats.url);
  nc = await connectNats(config.nats, 'dlq-export-test');
  await applyTopology(await nc.jetstreamManager(), config);
  dir = mkdtempSync(path.join(tmpdir(), 'shopstream-dlq-export-'));
  const js = nc.jetstream();
  const reasons = ['invalid_event', 'decode_failed', 'store_rejected'] as const;
  await Promise.all(
    Array.from({ length: TOTAL }, (_, i) =>
      publishDeadLetter(js, config.nats.prefix, {
        reason: reasons[i % 3]!,
        detail: `bad event ${i}`,
        data: encodeEnvelope(
          buildEnvelope('products_searched', { userId: `u${i}` }, { query: 'q'.repeat(500) }),
        ),
        sourceSequence: i + 1,
      }),
    ),
  );
});

afterAll(async () => {
  await nc?.drain();
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('reads every dead letter, in order, even when the reader is slow', async () => {
  const seqs: number[] = [];
  for await (const dl of readDeadLetters(nc.jetstream(), await nc.jetstreamManager(), config.nats.prefix)) {
    seqs.push(dl.seq);
    // a reader slower than a fetch's expiry (a replay publishing and deleting each one)
    if (seqs.length % 200 === 0) await new Promise((r) => setTimeout(r, 1500));
  }
  expect(seqs).toEqual(Array.from({ length: TOTAL }, (_, i) => i + 1));
});

it('exports all of them, and all of one reason', async () => {
  const out = path.join(dir, 'all.jsonl');
  await exportCommand(config, { out });
  const lines = readFileSync(out, 'utf8').trim().split('\n');
  expect(lines).toHaveLength(TOTAL);
  expect(new Set(lines.map((l) => (JSON.parse(l) as { seq: number }).seq)).size).toBe(TOTAL);
  const one = path.join(dir, 'one.jsonl');
  await exportCommand(config, { out: one, reason: 'decode_failed' });
  expect(readFileSync(one, 'utf8').trim().split('\n')).toHaveLength(
    Math.ceil(TOTAL / 3) - 1 + (TOTAL % 3 > 1 ? 1 : 0),
  );
});
