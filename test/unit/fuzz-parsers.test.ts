// Property-based fuzzing of everything that parses outside input: the collector's mapping, the
// protobuf decoder and the sink's steps. Whatever comes in, nothing throws, and whatever is accepted
// can be stored (a row ClickHouse takes: times in DateTime64 range, well-formed strings, integers
// that fit their columns). FUZZ_RUNS cases per property (make fuzz: 100,000).
import fc from 'fast-check';
import { encodeEnvelope } from '../../schemas/codec';
import { validateEnvelope } from '../../schemas/validate';
import { mapIncomingEvent } from '../../streams/collector/mapping';
import { toEventRow, type EventRow } from '../../streams/sinks/clickhouse/rows';
import { decodeAndValidate } from '../../streams/sinks/clickhouse/steps';
import {
  FUZZ_NOW,
  fuzzParams,
  goodSegmentEvent,
  hostileValue,
  mixedBatch,
  spoiledEvent,
} from '../../chaos/fuzz';

const ctx = { shopId: 'shop-1', receivedAt: FUZZ_NOW, producerId: 'fuzz', sequence: 1 };
const DATETIME64 = /^(19[7-9]\d|2[0-2]\d\d)-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/;
const UINT32 = ['quantity', 'result_count'] as const;
const INT64 = ['price_minor', 'cart_total_minor', 'total_minor', 'discount_minor'] as const;

/** Why ClickHouse would refuse this row, or undefined when it would store it. */
function unstorable(row: EventRow): string | undefined {
  if (!DATETIME64.test(row.occurred_at)) return `occurred_at ${row.occurred_at}`;
  for (const [k, v] of Object.entries(row))
    if (typeof v === 'string' && !v.isWellFormed()) return `${k} is not well-formed Unicode`;
  for (const k of UINT32)
    if (!Number.isInteger(row[k]) || row[k] < 0 || row[k] > 0xffffffff) return `${k} ${row[k]}`;
  for (const k of INT64) if (!Number.isSafeInteger(row[k])) return `${k} ${row[k]}`;
  return undefined;
}

/** An accepted envelope survives the wire and becomes a storable row. */
function expectStorable(bytes: Uint8Array, seq = 1): void {
  const r = decodeAndValidate(bytes);
  if (r.kind !== 'ok') throw new Error(`accepted, then refused after encoding: ${JSON.stringify(r)}`);
  const problem = unstorable(toEventRow(r.value.envelope, r.value.type, seq));
  if (problem) throw new Error(`accepted but not storable: ${problem}`);
}

describe('fuzz: collector mapping', () => {
  it('good events are accepted and storable', () => {
    fc.assert(
      fc.property(goodSegmentEvent, (raw) => {
        const m = mapIncomingEvent(raw, ctx);
        if (!m.ok) throw new Error(`refused a good event: ${JSON.stringify(m.issues)}`);
        expectStorable(encodeEnvelope(m.envelope));
      }),
      fuzzParams(),
    );
  });

  it('spoiled or arbitrary events never throw; accepted ones are valid and storable', () => {
    fc.assert(
      fc.property(fc.oneof(spoiledEvent, hostileValue, fc.anything()), (raw) => {
        const m = mapIncomingEvent(raw, ctx);
        if (!m.ok) {
          expect(m.issues.length).toBeGreaterThan(0);
          return;
        }
        expect(validateEnvelope(m.envelope)).toEqual([]);
        expectStorable(encodeEnvelope(m.envelope));
      }),
      fuzzParams(),
    );
  });

  it('one batch of any mix maps each event on its own', () => {
    fc.assert(
      fc.property(mixedBatch(), (batch) => {
        const results = batch.map(({ event }) => mapIncomingEvent(event, ctx));
        batch.forEach(({ good }, i) => good && expect(results[i]!.ok).toBe(true));
      }),
      fuzzParams(Math.ceil(fuzzParams().numRuns! / 10)),
    );
  });
});

describe('fuzz: protobuf decoder and sink steps', () => {
  it('arbitrary bytes never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        const r = decodeAndValidate(bytes);
        if (r.kind === 'ok') expectStorable(bytes);
      }),
      fuzzParams(),
    );
  });

  it('a good encoding with bytes flipped, cut or appended never throws; what decodes is storable', () => {
    const good = goodSegmentEvent.map((raw) => {
      const m = mapIncomingEvent(raw, ctx);
      if (!m.ok) throw new Error('good event refused');
      return encodeEnvelope(m.envelope);
    });
    fc.assert(
      fc.property(
        good,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        fc.nat({ max: 64 }),
        fc.uint8Array({ maxLength: 16 }),
        (bytes, flips, cut, tail) => {
          const b = Uint8Array.from(bytes);
          for (const [at, v] of flips) b[at % b.length] = v;
          const mutated = new Uint8Array([...b.subarray(0, Math.max(0, b.length - cut)), ...tail]);
          const r = decodeAndValidate(mutated);
          if (r.kind === 'ok') expectStorable(mutated);
        },
      ),
      fuzzParams(),
    );
  });
});
