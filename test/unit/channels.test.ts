// Message channels without a server: template rendering (money, dates, optional coupon lines, the
// business errors), each adapter's payload shape (SMS segment limits, WeChat template message), the
// webhook signature (round trip, tampering, staleness) and what an HTTP status means for a delivery.
import { ApplicationFailure } from '@temporalio/activity';
import { ActivityErrorType } from '../../activities';
import {
  DERIVED_VARS,
  TEMPLATES,
  TEMPLATE_VARS,
  classifyStatus,
  createChannels,
  createEmailChannel,
  createLogChannel,
  createWeChatChannel,
  deterministicMessageId,
  placeholdersOf,
  renderOrFail,
  renderTemplate,
  signatureHeader,
  toAppPushPayload,
  toEmailPayload,
  toSmsText,
  toWeChatPayload,
  verifySignature,
  type Transport,
} from '../../activities/channels';
import { loadConfig, ConfigError } from '../../infra/config';
import { createLogger } from '../../infra/logger';

const cart = { cartId: 'c-1', cartTotalMinor: 4_999, itemCount: 3, currency: 'USD' };
const coupon = {
  couponCode: 'AB12-CD34-EF56',
  couponAmountMinor: 1_000,
  couponExpiresAt: Date.UTC(2026, 11, 1, 10, 0),
};

function failureOf(fn: () => unknown): ApplicationFailure {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApplicationFailure) return err;
    throw err;
  }
  throw new Error('expected an ApplicationFailure');
}

describe('templates', () => {
  it('renders money from minor units in the currency, and dates readably', () => {
    const m = renderOrFail('cart_reminder_coupon', { ...cart, ...coupon });
    expect(m.title).toBe('Your cart is still waiting - $10.00 off');
    expect(m.body).toBe(
      'Your cart with 3 items ($49.99) is still waiting. ' +
        'Use code AB12-CD34-EF56 for $10.00 off before Dec 1, 2026, 10:00 UTC.',
    );
    expect(m.fields).toEqual(['3 items', '$49.99', 'AB12-CD34-EF56', 'Dec 1, 2026, 10:00 UTC']);
  });

  it('uses the currency decimals, the time zone when given, and no symbol without a currency', () => {
    expect(
      renderOrFail('cart_reminder_1', { ...cart, currency: 'JPY', cartTotalMinor: 12_000 }).body,
    ).toContain('(¥12,000)');
    expect(renderOrFail('cart_reminder_1', { ...cart, currency: 'eur', itemCount: 1 }).body).toContain(
      '1 item (€49.99)',
    );
    const { currency: _, ...noCurrency } = cart;
    expect(renderOrFail('cart_reminder_last', noCurrency).body).toContain('(49.99)');
    expect(
      renderOrFail('tier_coupon_expiring', { ...coupon, currency: 'CNY', timeZone: 'Asia/Shanghai' }).body,
    ).toBe("Code AB12-CD34-EF56 gives you CN¥10.00 off until Dec 1, 2026, 18:00 GMT+8. Don't miss it.");
    // a fixed offset, as shoppers' devices send it, reads the same as the zone it stands for
    for (const [timeZone, until] of [
      ['+08:00', 'Dec 1, 2026, 18:00 GMT+8'],
      ['-05:30', 'Dec 1, 2026, 04:30 GMT-5:30'],
      ['+00:00', 'Dec 1, 2026, 10:00 GMT'],
    ] as const)
      expect(renderOrFail('tier_coupon_expiring', { ...coupon, currency: 'CNY', timeZone }).body).toContain(
        `until ${until}.`,
      );
  });

  it('leaves out the optional coupon line when no coupon was issued', () => {
    const m = renderOrFail('cart_reminder_coupon', cart);
    expect(m.title).toBe('Your cart is still waiting');
    expect(m.body).toBe('Your cart with 3 items ($49.99) is still waiting.');
    expect(m.fields).toEqual(['3 items', '$49.99', '', '']);
  });

  it('renders the tier coupons', () => {
    const m = renderOrFail('tier_coupon_welcome', { ...coupon, currency: 'USD', tier: 'high_value' });
    expect(m.title).toBe('A $10.00 coupon for you');
    expect(m.body).toMatch(/^Thanks for being one of our best customers\. Use code AB12-CD34-EF56/);
  });

  it('an unknown template or a missing variable is a non-retryable TemplateInvalid', () => {
    const unknown = failureOf(() => renderOrFail('nope', cart));
    expect(unknown).toMatchObject({ type: ActivityErrorType.TemplateInvalid, nonRetryable: true });
    expect(unknown.message).toMatch(/unknown template 'nope'/);
    expect(failureOf(() => renderOrFail('toString', cart)).type).toBe(ActivityErrorType.TemplateInvalid);

    const { cartTotalMinor: _, ...noTotal } = cart;
    const missing = failureOf(() => renderOrFail('cart_reminder_1', noTotal));
    expect(missing).toMatchObject({ type: ActivityErrorType.TemplateInvalid, nonRetryable: true });
    expect(missing.message).toMatch(/variable 'cartTotalMinor' is missing/);
    expect(renderTemplate('tier_coupon_welcome', { ...coupon, currency: 'USD' })).toEqual({
      ok: false,
      reason: "variable 'tier' is missing",
    });
  });

  it('a malformed value is TemplateInvalid, even inside an optional part', () => {
    expect(renderTemplate('cart_reminder_1', { ...cart, cartTotalMinor: '49.99' })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/cartTotalMinor is not an integer/) as string,
    });
    expect(renderTemplate('cart_reminder_1', { ...cart, currency: 'dollars' })).toMatchObject({ ok: false });
    expect(
      renderTemplate('cart_reminder_coupon', { ...cart, ...coupon, couponExpiresAt: 'soon' }),
    ).toMatchObject({
      ok: false,
    });
  });

  it('a value is never read as a placeholder', () => {
    expect(
      renderOrFail('tier_coupon_expiring', { ...coupon, couponCode: '{cartId}', currency: 'USD' }).body,
    ).toMatch(/^Code \{cartId\} gives/);
  });

  it('every placeholder of every template is a flow variable or a derived one', () => {
    const known = new Set<string>([...TEMPLATE_VARS, ...DERIVED_VARS]);
    for (const def of Object.values(TEMPLATES))
      for (const text of [def.title, def.body, ...def.fields])
        for (const p of placeholdersOf(text)) expect(known).toContain(p);
  });
});

describe('adapter payloads', () => {
  const message = renderOrFail('cart_reminder_coupon', { ...cart, ...coupon });

  it('email: subject, text and escaped HTML', () => {
    const m = renderOrFail('cart_reminder_1', { ...cart, cartId: '<b>' });
    const { email } = toEmailPayload({ ...m, body: 'a <script> & "b"' });
    expect(email.subject).toBe('You left something in your cart');
    expect(email.text).toBe('a <script> & "b"');
    expect(email.html).toContain('<p>a &#60;script&#62; &#38; &#34;b&#34;</p>');
  });

  it('SMS: a GSM-7 body fits 160 characters, whole', () => {
    const sms = toSmsText(message.body);
    expect(sms).toMatchObject({ encoding: 'gsm7', segments: 1, truncated: false, text: message.body });
  });

  it('SMS: GSM-7 is cut at a word boundary to 160 septets, extension characters counting twice', () => {
    const long = 'word '.repeat(50).trim();
    const sms = toSmsText(long);
    expect(sms).toMatchObject({ encoding: 'gsm7', segments: 1, truncated: true });
    expect(sms.units).toBeLessThanOrEqual(160);
    expect(sms.text).toMatch(/word\.\.\.$/);
    const euros = toSmsText('€'.repeat(100));
    expect(euros.units).toBeLessThanOrEqual(160);
    expect(euros.text).toBe(`${'€'.repeat(78)}...`);
  });

  it('SMS: anything outside GSM-7 is UCS-2, 70 units, never cut inside a character', () => {
    const chinese = toSmsText('您的购物车还在等您'.repeat(10));
    expect(chinese).toMatchObject({ encoding: 'ucs2', segments: 1, truncated: true, units: 70 });
    expect(chinese.text.endsWith('…')).toBe(true);
    const emoji = toSmsText('🛒'.repeat(40));
    expect(emoji.units).toBeLessThanOrEqual(70);
    expect(emoji.text).toBe(`${'🛒'.repeat(34)}…`);
    expect(toSmsText('x'.repeat(200), 2)).toMatchObject({ segments: 2, truncated: false });
    expect(toSmsText('x'.repeat(400), 2).units).toBe(306);
  });

  it('app push: title, body and a deep link to the cart', () => {
    expect(toAppPushPayload(message, { ...cart, cartId: 'c 1', ...coupon })).toEqual({
      push: {
        title: message.title,
        body: message.body,
        data: {
          template: 'cart_reminder_coupon',
          deepLink: 'shopstream://cart/c%201',
          cartId: 'c 1',
          couponCode: 'AB12-CD34-EF56',
        },
      },
    });
    const m = renderOrFail('tier_coupon_expiring', { ...coupon, currency: 'USD' });
    expect(toAppPushPayload(m, coupon, { deepLinkBase: 'shop://' }).push.data['deepLink']).toBe(
      'shop://coupons/AB12-CD34-EF56',
    );
  });

  it('WeChat: a template message, first / keyword1..n / remark', () => {
    expect(toWeChatPayload(message, { templateIds: { cart_reminder_coupon: 'TPL-9' } })).toEqual({
      wechat: {
        template_id: 'TPL-9',
        data: {
          first: { value: 'Your cart is still waiting - $10.00 off' },
          keyword1: { value: '3 items' },
          keyword2: { value: '$49.99' },
          keyword3: { value: 'AB12-CD34-EF56' },
          keyword4: { value: 'Dec 1, 2026, 10:00 UTC' },
          remark: { value: message.body },
        },
      },
    });
    expect(toWeChatPayload(message).wechat.template_id).toBe('cart_reminder_coupon');
  });

  it('an adapter hands the shaped payload, recipient ids and key to its transport', async () => {
    const delivered: { payload: object; channel: string; idempotencyKey: string }[] = [];
    const transport: Transport = {
      deliver(payload, { channel, idempotencyKey }) {
        delivered.push({ payload, channel, idempotencyKey });
        return Promise.resolve({ messageId: 'm-1' });
      },
    };
    const to = { shopId: 's-1', userId: 'u-1' };
    await expect(
      createWeChatChannel(transport).send(to, 'cart_reminder_1', cart, { idempotencyKey: 'k-1' }),
    ).resolves.toEqual({ messageId: 'm-1' });
    expect(delivered[0]).toMatchObject({
      channel: 'wechat',
      idempotencyKey: 'k-1',
      payload: { template: 'cart_reminder_1', to, wechat: { template_id: 'cart_reminder_1' } },
    });
    // a template that cannot render never reaches the transport
    await expect(
      createEmailChannel(transport).send(to, 'nope', cart, { idempotencyKey: 'k-2' }),
    ).rejects.toMatchObject({ type: ActivityErrorType.TemplateInvalid, nonRetryable: true });
    expect(delivered).toHaveLength(1);
  });
});

describe('webhook signature', () => {
  const secret = 'whsec-0123456789abcdef';
  const body = JSON.stringify({ messageId: 'm-1', to: { shopId: 's', userId: 'u' } });
  const now = 1_780_000_000_000;
  const header = signatureHeader(secret, body, now / 1000);

  it('round-trips', () => {
    expect(header).toMatch(/^t=1780000000,v1=[0-9a-f]{64}$/);
    expect(verifySignature(secret, header, body, 300, now)).toEqual({ ok: true, timestamp: 1_780_000_000 });
    expect(verifySignature(secret, header, Buffer.from(body), 300, now + 299_000).ok).toBe(true);
  });

  it('rejects a tampered body, another secret, a stale timestamp and a malformed header', () => {
    expect(verifySignature(secret, header, body.replace('u', 'v'), 300, now)).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    expect(verifySignature('another secret', header, body, 300, now).ok).toBe(false);
    const forged = header.replace(/^t=\d+/, `t=${now / 1000 + 1}`);
    expect(verifySignature(secret, forged, body, 300, now)).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifySignature(secret, header, body, 300, now + 301_000)).toEqual({ ok: false, reason: 'stale' });
    expect(verifySignature(secret, 'v1=abc', body, 300, now)).toEqual({ ok: false, reason: 'malformed' });
    expect(verifySignature(secret, '', body, 300, now)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('accepts any of several v1 signatures (secret rotation)', () => {
    const old = signatureHeader('old secret', body, now / 1000).split(',')[1] as string;
    expect(verifySignature(secret, `${header},${old}`, body, 300, now).ok).toBe(true);
    expect(verifySignature('old secret', `${header},${old}`, body, 300, now).ok).toBe(true);
  });
});

describe('delivery outcomes', () => {
  it('classifies HTTP statuses', () => {
    for (const s of [200, 201, 202, 204]) expect(classifyStatus(s)).toBe('delivered');
    expect(classifyStatus(409)).toBe('duplicate');
    for (const s of [408, 425, 429, 500, 502, 503, 504]) expect(classifyStatus(s)).toBe('retry');
    for (const s of [400, 401, 403, 404, 410, 422, 301, 302]) expect(classifyStatus(s)).toBe('rejected');
  });

  it('the message id without one from the receiver is the same for every attempt', () => {
    expect(deterministicMessageId('email', 'k-1')).toBe(deterministicMessageId('email', 'k-1'));
    expect(deterministicMessageId('email', 'k-1')).not.toBe(deterministicMessageId('email', 'k-2'));
    expect(deterministicMessageId('email', 'k-1')).toMatch(/^email-[0-9a-f]{24}$/);
  });
});

describe('channels from config', () => {
  const logger = createLogger('silent', 'test');

  it('by default every channel is the log channel', () => {
    const channels = createChannels(loadConfig({}).channels, logger);
    expect(Object.keys(channels).sort()).toEqual(['app_push', 'email', 'log', 'sms', 'webhook', 'wechat']);
    for (const c of Object.values(channels)) expect(c).toHaveProperty('sent');
  });

  it('off leaves a channel out; a URL builds an adapter; log stays log', async () => {
    const config = loadConfig({
      CHANNEL_EMAIL: 'off',
      CHANNEL_SMS: 'https://relay.example/sms',
      CHANNEL_SECRET: '0123456789abcdef',
    }).channels;
    expect(config.sms).toEqual({ kind: 'http', url: 'https://relay.example/sms' });
    expect(config.timeoutMs).toBe(10_000);
    const channels = createChannels(config, logger);
    expect(channels.email).toBeUndefined();
    expect(channels.sms).toBeDefined();
    const log = channels.log as ReturnType<typeof createLogChannel>;
    await log.send({ shopId: 's', userId: 'u' }, 'cart_reminder_1', cart, { idempotencyKey: 'k' });
    expect(log.sent).toHaveLength(1);
  });

  it('a relay URL without a secret, or a bad value, fails at start naming the variable', () => {
    try {
      loadConfig({
        CHANNEL_WEBHOOK: 'http://127.0.0.1:9000/hook',
        CHANNEL_WECHAT: 'smoke',
        CHANNEL_TIMEOUT: '1m',
      });
      throw new Error('expected a ConfigError');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems.map((p) => p.variable)).toEqual([
        'CHANNEL_WECHAT',
        'CHANNEL_TIMEOUT',
        'CHANNEL_SECRET',
      ]);
      expect((err as Error).message).toMatch(
        /CHANNEL_WECHAT: must be log, off or an http\(s\):\/\/ relay URL/,
      );
      expect((err as Error).message).toMatch(/CHANNEL_SECRET: required/);
    }
  });
});
