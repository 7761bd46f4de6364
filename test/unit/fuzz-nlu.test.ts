// Hostile text never breaks understanding: any string (huge, control characters, lone surrogates,
// right-to-left marks, emoji) gives an answer in bounded time.
import fc from 'fast-check';
import { loadNlu } from '../../bot/nlu';
import { loadConfig } from '../../infra/config';
import { openKnowledgeBase } from '../../bot/kb';
import { fuzzParams, hostileString } from '../../chaos/fuzz';

const nlu = loadNlu({ cacheFile: loadConfig({}).bot.nluCache });
const kb = openKnowledgeBase({});
afterAll(() => kb.close());

const hostile = fc.oneof(
  hostileString,
  fc.string({ maxLength: 300 }),
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000'.repeat(50),
    '😡'.repeat(500),
    '<script>alert(1)</script>',
    "'; DROP TABLE x; --",
  ),
  fc.integer({ min: 1, max: 30 }).map((n) => '1米75 SF1234567890 42码 $50 '.repeat(n * 100)),
);

it('understands any text without throwing, in bounded time', () => {
  fc.assert(
    fc.property(hostile, (text) => {
      const t0 = performance.now();
      const u = nlu.understand(text);
      const hits = kb.search(text, { lang: 'zh' });
      expect(typeof u.intent).toBe('string');
      expect(u.confidence).toBeGreaterThanOrEqual(0);
      expect(u.confidence).toBeLessThanOrEqual(1);
      expect(Array.isArray(hits)).toBe(true);
      expect(performance.now() - t0).toBeLessThan(500);
    }),
    fuzzParams(Math.ceil(fuzzParams().numRuns! / 5)),
  );
});
