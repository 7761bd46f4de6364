// `shopstream flows list | validate | simulate`: the handlers called directly, console output captured.
// simulate runs on the time-skipping test server (.tools/, as the other workflow tests).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { list, simulate, validate } from '../../cli/commands/flows';
import { loadConfig } from '../../infra/config';
import { cartRecovery } from '../../workflows/flows/cart-recovery';
import { durationMs } from '../../schemas/time';

const MINUTE = 60_000;
const config = loadConfig();

let lines: string[];
let spy: jest.SpyInstance;
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'flows-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeEach(() => {
  lines = [];
  spy = jest.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    lines.push(args.map(String).join(' '));
  });
});
afterEach(() => spy.mockRestore());

/** '+1h30m' -> minutes. */
function minutes(rel: string): number {
  const m = /^\+(?:(\d+)h)?(?:(\d+)m)?$/.exec(rel);
  if (!m) throw new Error(`not a relative time: ${rel}`);
  return Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0);
}

/** The timeline rows: relative time, local clock, what, text. */
function rows(): { rel: string; kind: string; text: string }[] {
  return lines.flatMap((l) => {
    const m = /^ {2}(\+\S+)\s+\w{3} \d\d:\d\d\s+(\S+)\s+(.*)$/.exec(l);
    return m ? [{ rel: m[1]!, kind: m[2]!, text: m[3]! }] : [];
  });
}

/** When each message step falls after the first cart change, from the flow: abandonAfter + the waits. */
function expectedSendMinutes(): number[] {
  let at = durationMs(cartRecovery.abandonAfter ?? '0s');
  const out: number[] = [];
  for (const s of cartRecovery.steps) {
    if (s.kind === 'wait') at += durationMs(s.duration);
    else if (s.kind !== 'end') out.push(at / MINUTE);
  }
  return out;
}

describe('flows list', () => {
  it('shows the shipped cart-recovery flow with its steps, exits, audience, quiet hours and cap', async () => {
    expect(await list(config)).toBe(0);
    const out = lines.join('\n');
    expect(out).toMatch(/^cart-recovery v1$/m);
    expect(out).toContain('trigger:     cart_abandoned');
    expect(out).toMatch(
      /steps: +wait 1h -> app_push cart_reminder_1 -> wait 23h -> email cart_reminder_coupon \+ coupon cart-recovery-tier-coupon .* -> wait 48h -> app_push cart_reminder_last$/m,
    );
    expect(out).toContain('exits:       purchase, cart_emptied, opt_out');
    expect(out).toContain('10% holdout');
    expect(out).toContain('quiet hours: 21:00-08:00');
    expect(out).toMatch(/cap: +2 messages per user/);
  });
});

describe('flows validate', () => {
  it('passes for the shipped flows', async () => {
    expect(await validate(config, {})).toBe(0);
    expect(lines).toContain('cart-recovery v1: OK');
  });

  it('fails with each error (step index and message) for a bad flow file', async () => {
    const file = path.join(dir, 'bad-flow.ts');
    writeFileSync(
      file,
      `export default {
  name: 'Bad Flow',
  version: 1,
  trigger: 'cart_abandoned',
  abandonAfter: '30m',
  steps: [
    { kind: 'wait', duration: '-1h' },
    { kind: 'send', channel: 'pigeon', template: 'hello' },
    { kind: 'end' },
    { kind: 'send', channel: 'email', template: 'never' },
  ],
  exit: [{ on: 'purchase' }],
};
`,
    );
    expect(await validate(config, { file })).toBe(1);
    const out = lines.join('\n');
    expect(out).toContain('cart-recovery v1: OK');
    expect(out).toContain(`${file}: flow 'Bad Flow': 5 errors`);
    expect(out).toMatch(/- name \[missing_name\]/);
    expect(out).toMatch(/- step 0 \[negative_wait\] step 0 \(wait\): must be longer than zero/);
    expect(out).toMatch(/- step 1 \[unknown_channel\] step 1 \(send\): unknown channel 'pigeon'/);
    expect(out).toMatch(/- step 3 \[unreachable_step\] .*unreachable after the end at step 2/);
    expect(out).toMatch(/- exit \[missing_exit\] exit: missing onOptOut\(\)/);
  });

  it('reports the errors of a file whose defineFlow() throws on load', async () => {
    const file = path.join(dir, 'throws.ts');
    const dsl = path.resolve(__dirname, '../../workflows/dsl');
    writeFileSync(
      file,
      `import { defineFlow, onPurchase, onOptOut, send, wait } from ${JSON.stringify(dsl)};
export const flow = defineFlow({
  name: 'throws',
  version: 1,
  trigger: 'cart_abandoned',
  abandonAfter: '30m',
  steps: [wait('1h'), send('fax' as never, 'x')],
  exit: [onPurchase(), onOptOut()],
});
`,
    );
    expect(await validate(config, { file })).toBe(1);
    expect(lines.join('\n')).toMatch(/flow 'throws': 1 error\n {2}- step 1 \[unknown_channel\]/);
  });
});

describe('flows simulate', () => {
  it("'abandon': three reminders at abandonAfter + the waits, then 'flow completed'", async () => {
    expect(await simulate(config, { flow: 'cart-recovery', script: 'abandon' })).toBe(0);
    const timeline = rows();
    const sent = timeline.filter((r) => r.kind === 'sent');
    expect(sent.map((r) => r.text.split(' ').slice(0, 2).join(' '))).toEqual([
      'app_push cart_reminder_1',
      'email cart_reminder_coupon',
      'app_push cart_reminder_last',
    ]);
    const expected = expectedSendMinutes();
    expect(expected).toEqual([90, 24 * 60 + 30, 72 * 60 + 30]);
    const actual = sent.map((r) => minutes(r.rel));
    // quiet hours may only push a message later, never by more than the quiet window (11h)
    actual.forEach((m, i) => {
      expect(m).toBeGreaterThanOrEqual(expected[i]!);
      expect(m).toBeLessThanOrEqual(expected[i]! + 11 * 60);
    });
    // the script starts at 08:30 local: nothing falls in quiet hours
    expect(sent.map((r) => r.rel)).toEqual(['+1h30m', '+24h30m', '+72h30m']);
    expect(sent[1]!.text).toMatch(/\+ coupon [0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4} \(repeat, 10\.00 off\)/);
    expect(timeline.at(-1)).toMatchObject({ kind: 'end', text: 'flow completed', rel: '+72h30m' });
    expect(lines.at(-1)).toMatch(/^ended: flow completed at \+72h30m; 3 sent, 0 skipped/);
  });

  it("'buys-after-first-reminder': one reminder, then 'purchase'", async () => {
    expect(await simulate(config, { flow: 'cart-recovery', script: 'buys-after-first-reminder' })).toBe(0);
    const timeline = rows();
    expect(timeline.filter((r) => r.kind === 'sent').map((r) => [r.rel, r.text])).toEqual([
      ['+1h30m', 'app_push cart_reminder_1'],
    ]);
    expect(timeline.filter((r) => r.kind === 'customer').map((r) => r.text)).toContain(
      'places order sim-order-1',
    );
    expect(timeline.at(-1)).toMatchObject({ kind: 'end', text: 'purchase (order sim-order-1)' });
    expect(lines.at(-1)).toMatch(/^ended: purchase at \+3h30m; 1 sent/);
  });

  it('rejects an unknown flow or script', async () => {
    await expect(simulate(config, { flow: 'nope' })).rejects.toThrow(
      /unknown flow 'nope'; one of cart-recovery/,
    );
    await expect(simulate(config, { flow: 'cart-recovery', script: 'nope' })).rejects.toThrow(
      /unknown script 'nope'/,
    );
  });
});
