// Fuzzing the collector over HTTP, as `make fuzz` does and as `make chaos` does while the service is
// killed: `events` good and hostile events (chaos/fuzz.ts, the same ones for a seed), posted as
// Segment batches with a public write key. It records what the collector answered: the ids of the
// accepted events (each must be stored) and the digests of the rejected ones (each kept once as a dead
// letter). With `retryForMs`, a batch that got no answer (the service was down) or a 503 is posted
// again, unchanged: its message ids make the retry a duplicate, not a second event.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { boundedJson } from '../streams/collector/bounded-json';
import { sleep } from '../infra/sleep';
import { mixedBatch } from './fuzz';

const BATCH = 100;

export interface CollectorFuzzOptions {
  /** The collector's /v1/batch URL. */
  url: string;
  writeKey: string;
  events: number;
  seed: number;
  /** Retry a batch that got no answer or a 503 for this long (0: fail at once). */
  retryForMs?: number;
}

export interface CollectorFuzzResult {
  sent: number;
  /**
   * Event ids the collector accepted (or took as duplicates of ones a batch that got no answer had
   * published): one per event; two events given one id would show here twice.
   */
  accepted: string[];
  /** The good events' ids (all accepted). */
  goodIds: string[];
  /** Good events the collector did not accept (must be none). */
  goodRefused: number;
  /** Digests of the rejected events' JSON: byte-identical ones are one dead letter. */
  rejectedDigests: Set<string>;
  /** Batches posted again after no answer or a 503. */
  retries: number;
}

interface Result {
  status: 'accepted' | 'duplicate' | 'rejected';
  event_id?: string;
}

export async function fuzzCollector(opts: CollectorFuzzOptions): Promise<CollectorFuzzResult> {
  const out: CollectorFuzzResult = {
    sent: 0,
    accepted: [],
    goodIds: [],
    goodRefused: 0,
    rejectedDigests: new Set(),
    retries: 0,
  };
  // made and posted a chunk at a time: 100,000 events do not stay in memory
  for (let chunk = 0; out.sent < opts.events; chunk++) {
    const events = fc
      .sample(mixedBatch(50), { numRuns: 20, seed: opts.seed + chunk })
      .flat()
      .slice(0, opts.events - out.sent)
      // a unique message id each: the count check is about loss, not client retries
      .map(({ event, good }, i) => ({
        good,
        event:
          typeof event === 'object' && event !== null && !Array.isArray(event)
            ? { ...event, messageId: `fuzz-${opts.seed}-${out.sent + i}` }
            : event,
      }));
    out.sent += events.length;
    // not JSON.stringify: it overflows the stack on the deepest events a client can still send
    const texts = events.map((e) => boundedJson(e.event, 1 << 20).text);
    for (let start = 0; start < events.length;) {
      let end = start;
      let bytes = 0;
      while (end < events.length && end - start < BATCH && bytes + texts[end]!.length < 900_000) {
        bytes += texts[end]!.length + 1;
        end++;
      }
      const results = await postBatch(opts, `{"batch":[${texts.slice(start, end).join(',')}]}`, out);
      if (results.length !== end - start)
        throw new Error(`batch at ${start}: ${results.length} results for ${end - start} events`);
      results.forEach((r, i) => {
        const good = events[start + i]!.good;
        if (r.status === 'rejected') {
          out.rejectedDigests.add(
            createHash('sha256')
              .update(texts[start + i]!)
              .digest('hex'),
          );
          if (good) out.goodRefused++;
          return;
        }
        out.accepted.push(r.event_id!);
        if (good) out.goodIds.push(r.event_id!);
      });
      start = end;
    }
  }
  return out;
}

async function postBatch(
  opts: CollectorFuzzOptions,
  body: string,
  out: CollectorFuzzResult,
): Promise<Result[]> {
  const until = Date.now() + (opts.retryForMs ?? 0);
  for (;;) {
    let failure: string;
    try {
      const res = await fetch(opts.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Basic ${Buffer.from(`${opts.writeKey}:`).toString('base64')}`,
        },
        body,
        signal: AbortSignal.timeout(30_000),
      });
      const answer = (await res.json()) as { results?: Result[]; error?: string; message?: string };
      if (res.status === 200 && answer.results) return answer.results;
      failure = `HTTP ${res.status} ${answer.error ?? ''} ${answer.message ?? ''}`;
      if (res.status !== 503) throw new Error(failure);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('HTTP ')) throw err;
      failure = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > until) throw new Error(`a batch got no answer: ${failure}`);
    out.retries++;
    await sleep(250);
  }
}
