// The WeChat callback's pure part: the signature (WeChat's documented algorithm), the bounded XML reader
// (real messages, then hostile ones: huge, deeply nested, entity tricks, DTDs; fuzzed: it never throws
// and answers in bounded time) and the passive reply.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  openIdOf,
  parseWechatXml,
  verifyWechatSignature,
  wechatSignature,
  wechatTextReply,
  WECHAT_MAX_XML_BYTES,
} from '../../streams/channels/wechat';
import { loadConfig } from '../../infra/config';
import { fuzzParams } from '../../chaos/fuzz';

const TEXT_MESSAGE = `<xml>
  <ToUserName><![CDATA[gh_0123456789ab]]></ToUserName>
  <FromUserName><![CDATA[oAbC-123_xyz]]></FromUserName>
  <CreateTime>1764754800</CreateTime>
  <MsgType><![CDATA[text]]></MsgType>
  <Content><![CDATA[我的订单到哪了？ where is my order]]></Content>
  <MsgId>24567890123456789</MsgId>
</xml>`;

describe('wechat signature', () => {
  it('is sha1 of the sorted token, timestamp and nonce', () => {
    const expected = createHash('sha1').update(['1409304348', 'abc', 'zzz'].sort().join('')).digest('hex');
    expect(wechatSignature('abc', '1409304348', 'zzz')).toBe(expected);
    // order of the arguments does not matter: they are sorted
    expect(wechatSignature('zzz', 'abc', '1409304348')).toBe(expected);
  });

  it('accepts the right signature and refuses a wrong, missing or malformed one', () => {
    const q = { timestamp: '1764754800', nonce: '12345' };
    const signature = wechatSignature('token123', q.timestamp, q.nonce);
    expect(verifyWechatSignature('token123', { ...q, signature })).toBe(true);
    expect(verifyWechatSignature('token123', { ...q, signature: signature.toUpperCase() })).toBe(true);
    expect(verifyWechatSignature('token124', { ...q, signature })).toBe(false);
    expect(verifyWechatSignature('token123', { ...q, nonce: '12346', signature })).toBe(false);
    expect(verifyWechatSignature('token123', q)).toBe(false);
    expect(verifyWechatSignature('token123', { ...q, signature: 'abc' })).toBe(false);
    expect(verifyWechatSignature('token123', { ...q, signature: ['a'] })).toBe(false);
    // no token configured: nothing verifies
    expect(verifyWechatSignature('', { ...q, signature: wechatSignature('', q.timestamp, q.nonce) })).toBe(
      false,
    );
  });
});

describe('wechat XML', () => {
  it('reads a text message', () => {
    const r = parseWechatXml(TEXT_MESSAGE);
    expect(r).toEqual({
      ok: true,
      fields: {
        ToUserName: 'gh_0123456789ab',
        FromUserName: 'oAbC-123_xyz',
        CreateTime: '1764754800',
        MsgType: 'text',
        Content: '我的订单到哪了？ where is my order',
        MsgId: '24567890123456789',
      },
    });
  });

  it('reads an XML declaration, plain text with the predefined entities and character references', () => {
    const r = parseWechatXml(
      '<?xml version="1.0"?><xml><Content>a &lt;b&gt; &amp; &quot;c&quot; &#20320;&#x597D;</Content></xml>',
    );
    expect(r).toEqual({ ok: true, fields: { Content: 'a <b> & "c" 你好' } });
  });

  it('skips nested elements of event messages', () => {
    const r = parseWechatXml(
      '<xml><MsgType><![CDATA[event]]></MsgType><ScanCodeInfo><ScanType>qr</ScanType></ScanCodeInfo></xml>',
    );
    expect(r).toEqual({ ok: true, fields: { MsgType: 'event', ScanCodeInfo: '' } });
  });

  it.each([
    ['a DTD', '<!DOCTYPE xml [<!ENTITY x "y">]><xml><Content>&x;</Content></xml>', /DTD/],
    ['an entity declaration inside', '<xml><!ENTITY a "b"><Content>a</Content></xml>', /DTD/],
    ['another root', '<message><Content>a</Content></message>', /not a WeChat message/],
    ['an unclosed field', '<xml><Content>a</xml>', /not closed/],
    ['an unterminated CDATA', '<xml><Content><![CDATA[a</Content></xml>', /unterminated CDATA/],
    ['a field twice', '<xml><Content>a</Content><Content>b</Content></xml>', /twice/],
    ['text outside fields', '<xml>hello<Content>a</Content></xml>', /outside/],
    ['attributes', '<xml><Content a="1">x</Content></xml>', /field name/],
    [
      'too many fields',
      `<xml>${Array.from({ length: 65 }, (_, i) => `<F${i}>x</F${i}>`).join('')}</xml>`,
      /more than 64/,
    ],
    ['too large', `<xml><Content>${'a'.repeat(WECHAT_MAX_XML_BYTES)}</Content></xml>`, /larger than/],
  ])('refuses %s', (_what, xml, message) => {
    const r = parseWechatXml(xml);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(message);
  });

  it('does not expand unknown entities (no billion laughs)', () => {
    const r = parseWechatXml('<xml><Content>&lol9;&lol9;</Content></xml>');
    expect(r).toEqual({ ok: true, fields: { Content: '&lol9;&lol9;' } });
  });

  it('answers hostile inputs quickly: deep nesting, many CDATA openers, many entities', () => {
    const hostile = [
      `<xml><A>${'<b>'.repeat(5000)}</A></xml>`,
      `<xml><A>${'<![CDATA['.repeat(1500)}</A></xml>`,
      `<xml><A>${'&amp;'.repeat(3000)}</A></xml>`,
      `<xml>${'<'.repeat(16_000)}</xml>`,
      `<xml>${'<A></A>'.repeat(2000)}</xml>`,
      '<xml><A>' + '&#x10FFFF;&#xD800;&#0;'.repeat(500) + '</A></xml>',
    ];
    for (const xml of hostile) {
      const t0 = performance.now();
      expect(() => parseWechatXml(xml)).not.toThrow();
      expect(performance.now() - t0).toBeLessThan(50);
    }
  });

  it('never throws and stays bounded on fuzzed input', () => {
    const piece = fc.oneof(
      fc.constantFrom(
        '<xml>',
        '</xml>',
        '<Content>',
        '</Content>',
        '<![CDATA[',
        ']]>',
        '<!DOCTYPE',
        '&amp;',
        '&#',
        '<',
        '>',
        '&',
      ),
      fc.string({ maxLength: 20 }),
      fc.string({ unit: 'binary', maxLength: 10 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 200 }), (parts) => {
        const t0 = performance.now();
        const r = parseWechatXml(parts.join(''));
        expect(performance.now() - t0).toBeLessThan(100);
        if (r.ok) for (const v of Object.values(r.fields)) expect(typeof v).toBe('string');
      }),
      fuzzParams(),
    );
  });

  it('round-trips fields it writes, whatever their text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => {
        const xml = wechatTextReply('oUser', 'gh_account', text, 1_764_754_800_000);
        const r = parseWechatXml(xml);
        expect(r).toEqual({
          ok: true,
          fields: {
            ToUserName: 'oUser',
            FromUserName: 'gh_account',
            CreateTime: '1764754800',
            MsgType: 'text',
            Content: text,
          },
        });
      }),
      fuzzParams(),
    );
  });
});

describe('wechat ids', () => {
  it('takes openids and refuses what could not be one', () => {
    expect(openIdOf('oAbC-123_xyz')).toBe('oAbC-123_xyz');
    expect(openIdOf('a/b')).toBeUndefined();
    expect(openIdOf('')).toBeUndefined();
    expect(openIdOf('x'.repeat(65))).toBeUndefined();
    expect(openIdOf(undefined)).toBeUndefined();
  });
});

describe('wechat configuration', () => {
  it('is off by default, and a token needs its shop and WeChat’s token rule', () => {
    expect(loadConfig({}).chatChannels).toMatchObject({ enabled: true, wechatToken: '', wechatShopId: '' });
    expect(() => loadConfig({ CHAT_WECHAT_TOKEN: 'abc123' })).toThrow(/CHAT_WECHAT_SHOP: required/);
    expect(() => loadConfig({ CHAT_WECHAT_TOKEN: 'a-b', CHAT_WECHAT_SHOP: 's' })).toThrow(
      /CHAT_WECHAT_TOKEN: must be 3 to 32/,
    );
    expect(() => loadConfig({ CHAT_WECHAT_REPLY_WAIT: '5s' })).toThrow(/under 5s/);
    const c = loadConfig({ CHAT_WECHAT_TOKEN: 'abc123', CHAT_WECHAT_SHOP: 'shop-1' }).chatChannels;
    expect(c).toMatchObject({ wechatToken: 'abc123', wechatShopId: 'shop-1', wechatReplyWaitMs: 4000 });
  });

  it('never prints the token', () => {
    try {
      loadConfig({ CHAT_WECHAT_TOKEN: 'sec-ret', CHAT_WECHAT_SHOP: 's' });
      throw new Error('accepted');
    } catch (err) {
      expect((err as Error).message).not.toContain('sec-ret');
    }
  });
});
