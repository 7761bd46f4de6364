// The small helpers that were written several times, now once each: what every caller relies on.
import { budgetKey, couponKey } from '../../coupons/kv-coupon-ledger';
import { slotKey } from '../../activities/kv-message-slots';
import { isKvConflict, isNotFound } from '../../infra/nats';
import { sleep } from '../../infra/sleep';
import { kvKey, kvKeyPart } from '../../schemas/kv-keys';
import { halfLivesOf } from '../../streams/processors/interest/model';
import { profileKey } from '../../streams/processors/interest/store';
import { rulesKey } from '../../streams/processors/recommend/rules-store';
import { conversationKey } from '../../streams/triggers/escalation-triggers';

describe('isNotFound (topology and the trigger runner)', () => {
  it.each([
    [
      'a missing stream, JetStream error 10059, whatever the text',
      { api_error: { err_code: 10059 }, message: 'stream gone' },
    ],
    [
      'a missing consumer, JetStream error 10014',
      { api_error: { err_code: 10014 }, message: 'consumer gone' },
    ],
    ['a request nobody answers with 404', { code: '404', message: '' }],
    ['a message that says so (a KV key, older servers)', new Error('key not found')],
  ])('%s is not found', (_what, err) => {
    expect(isNotFound(err)).toBe(true);
  });

  it.each([
    ['a KV conflict', { api_error: { err_code: 10071 }, message: 'wrong last sequence: 3' }],
    ['a timeout', { code: 'TIMEOUT', message: 'TIMEOUT' }],
    ['undefined', undefined],
    ['null', null],
    ['a string', 'not an error'],
  ])('%s is not', (_what, err) => {
    expect(isNotFound(err)).toBe(false);
  });

  it('tells a lost compare-and-set from a missing key', () => {
    const conflict = { api_error: { err_code: 10071 }, message: 'wrong last sequence: 3' };
    expect([isKvConflict(conflict), isNotFound(conflict)]).toEqual([true, false]);
  });
});

describe('KV key encoding (every bucket)', () => {
  it('keeps a safe part as it is, and writes any other as = + base64url of its UTF-8', () => {
    expect(kvKeyPart('shop-1_A')).toBe('shop-1_A');
    expect(kvKeyPart('a.b')).toBe(`=${Buffer.from('a.b').toString('base64url')}`);
    expect(kvKeyPart('user@example.com')).toBe('=dXNlckBleGFtcGxlLmNvbQ');
    expect(kvKeyPart('日本')).toBe(`=${Buffer.from('日本', 'utf8').toString('base64url')}`);
    expect(kvKeyPart('')).toBe('=');
  });

  it('never lets two texts share a part, nor a dot add a token', () => {
    const texts = ['a', '=a', kvKeyPart('a.b'), 'a.b', 'a b', 'a*', '>', ''];
    const parts = texts.map(kvKeyPart);
    expect(new Set(parts).size).toBe(texts.length);
    for (const p of parts) expect(p).toMatch(/^[A-Za-z0-9_=-]+$/);
    expect(kvKey('shop.1', 'user 2').split('.')).toHaveLength(2);
  });

  it('is the encoding of every key builder', () => {
    const shop = 'shop 1';
    const user = 'u.2';
    expect(profileKey(shop, user)).toBe(kvKey(shop, user));
    expect(conversationKey(shop, 'conv/3')).toBe(kvKey(shop, 'conv/3'));
    expect(budgetKey(shop, 'vip spring')).toBe(kvKey('budget', shop, 'vip spring'));
    expect(couponKey('K7QF-3M9T-XW2P')).toBe('coupon.K7QF-3M9T-XW2P');
    expect(slotKey(shop, user, '2025-01-31')).toBe(kvKey('slots', shop, user, '2025-01-31'));
    expect(rulesKey(shop, 'category')).toBe(`${kvKeyPart(shop)}.category`);
  });
});

describe('halfLivesOf', () => {
  it('reads the two half-lives of the interest config', () => {
    expect(halfLivesOf({ shortHalfLifeMs: 1_800_000, longHalfLifeMs: 1_209_600_000 })).toEqual({
      shortMs: 1_800_000,
      longMs: 1_209_600_000,
    });
  });
});

describe('sleep', () => {
  afterEach(() => jest.useRealTimers());

  it('resolves after the time given, not before', async () => {
    jest.useFakeTimers();
    let done = false;
    const slept = sleep(1000).then(() => (done = true));
    await jest.advanceTimersByTimeAsync(999);
    expect(done).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    await slept;
    expect(done).toBe(true);
  });
});
