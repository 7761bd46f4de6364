import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { redact } from '../../cli/commands/config';
import { ConfigError, describeVariables, loadConfig, requireSecret } from '../../infra/config';

describe('config', () => {
  it('has local defaults for everything', () => {
    const c = loadConfig({});
    expect(c.nats.url).toBe('nats://127.0.0.1:4222');
    expect(c.clickhouse.url).toBe('');
    expect(c.sink.flushMs).toBe(1000);
    // no key at all outside the demo (the local stack writes one into .data/local.env)
    expect(c.collector.writeKeys).toEqual({});
    expect(c.collector.serverKeys).toEqual({});
    expect(c.collector.userTokenSecrets).toEqual({});
  });

  it('reads server keys and user-token secrets per shop, with safe shop ids, never printing them', () => {
    const c = loadConfig({
      COLLECTOR_SERVER_KEYS: 'a:sk1',
      COLLECTOR_USER_TOKEN_SECRET: `a:${'x'.repeat(32)}`,
    });
    expect(c.collector.serverKeys).toEqual({ sk1: 'a' });
    expect(c.collector.userTokenSecrets).toEqual({ a: 'x'.repeat(32) });
    for (const [variable, value] of [
      ['COLLECTOR_WRITE_KEYS', 'shop/one:pk-secret-1'],
      ['COLLECTOR_SERVER_KEYS', 'a b:sk-secret-1'],
      ['COLLECTOR_USER_TOKEN_SECRET', 'a:short-secret-1'],
    ]) {
      expect(() => loadConfig({ [variable!]: value })).toThrow(ConfigError);
      try {
        loadConfig({ [variable!]: value });
      } catch (err) {
        expect((err as ConfigError).problems.map((p) => p.variable)).toEqual([variable]);
        expect((err as Error).message).not.toMatch(/secret-1/);
      }
    }
  });

  it('names every bad variable and says what is wrong', () => {
    try {
      loadConfig({
        COLLECTOR_PORT: 'eighty',
        SINK_FLUSH_INTERVAL: '1 second',
        CLICKHOUSE_URL: 'localhost:8123',
        COLLECTOR_WRITE_KEYS: 'shop-only',
      });
      throw new Error('expected a ConfigError');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const vars = (err as ConfigError).problems.map((p) => p.variable);
      expect(vars).toEqual([
        'CLICKHOUSE_URL',
        'COLLECTOR_PORT',
        'COLLECTOR_WRITE_KEYS',
        'SINK_FLUSH_INTERVAL',
      ]);
      expect((err as Error).message).toMatch(/SINK_FLUSH_INTERVAL: must be a duration/);
    }
  });

  it('parses write keys per shop', () => {
    expect(loadConfig({ COLLECTOR_WRITE_KEYS: 'a:k1, b:k2' }).collector.writeKeys).toEqual({
      k1: 'a',
      k2: 'b',
    });
  });

  it('message channels: log by default, off, or a relay URL that needs CHANNEL_SECRET', () => {
    const c = loadConfig({}).channels;
    expect(c.email).toEqual({ kind: 'log' });
    expect(c.timeoutMs).toBe(10_000);
    expect(loadConfig({ CHANNEL_SMS: 'off' }).channels.sms).toEqual({ kind: 'off' });
    expect(() => loadConfig({ CHANNEL_APP_PUSH: 'https://relay.example/push' })).toThrow(
      /CHANNEL_SECRET: required/,
    );
    expect(
      loadConfig({ CHANNEL_APP_PUSH: 'https://relay.example/push', CHANNEL_SECRET: 's'.repeat(32) }).channels
        .appPush,
    ).toEqual({ kind: 'http', url: 'https://relay.example/push' });
  });

  it('lists every variable, and .env.example lists them all', () => {
    const example = readFileSync(path.join(__dirname, '../../.env.example'), 'utf8');
    for (const v of describeVariables()) expect(example).toContain(`${v.variable}=`);
  });
});

describe('shopstream config output', () => {
  it('hides secrets and credentials inside URLs', () => {
    expect(redact('CHANNEL_SECRET', 'abcdefabcdefabcdef')).toBe('***');
    expect(redact('NATS_CREDS_FILE', '/etc/nats.creds')).toBe('***');
    expect(redact('CHANNEL_EMAIL', 'https://relay:pa55@mail.example.com/send')).toBe(
      'https://***:***@mail.example.com/send',
    );
    expect(redact('CHANNEL_SMS', 'https://sms.example.com/send')).toBe('https://sms.example.com/send');
    expect(redact('LOG_LEVEL', 'info')).toBe('info');
  });
});

describe('secrets', () => {
  it('a bad value of a secret variable is reported without its value', () => {
    const leaked = 'shop-a:k3y-that-must-not-print';
    try {
      loadConfig({ COLLECTOR_WRITE_KEYS: `${leaked},broken`, NATS_PORTS_NOT_A_VAR: 'x' });
      throw new Error('expected a ConfigError');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/COLLECTOR_WRITE_KEYS/);
      expect((err as Error).message).not.toContain('k3y-that-must-not-print');
    }
  });

  it('hides the credentials of every server in a multi-server NATS_URL', () => {
    const shown = redact('NATS_URL', 'nats://u:p4ss@a:4222,nats://u:p4ss@b:4222');
    expect(shown).not.toContain('p4ss');
    expect(shown).toBe('nats://***:***@a:4222,nats://***:***@b:4222');
  });

  it('reads a secret from the file X_FILE names, and refuses both or an unreadable file', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
    const file = path.join(dir, 'coupon');
    writeFileSync(file, `${'s'.repeat(40)}\n`);
    expect(loadConfig({ COUPON_SECRET_FILE: file }).coupons.secret).toBe('s'.repeat(40));
    expect(() => loadConfig({ COUPON_SECRET_FILE: file, COUPON_SECRET: 'x' })).toThrow(/choose one/);
    expect(() => loadConfig({ COUPON_SECRET_FILE: path.join(dir, 'missing') })).toThrow(
      /COUPON_SECRET_FILE: cannot read .*ENOENT/,
    );
  });

  it('requireSecret: no default, at least 32 bytes, and the error never shows the value', () => {
    expect(loadConfig({}).coupons.secret).toBe('');
    expect(() => requireSecret('', 'COUPON_SECRET')).toThrow(/COUPON_SECRET: required/);
    expect(() => requireSecret('short-secret-value', 'COUPON_SECRET')).toThrow(/too short \(18 bytes\)/);
    try {
      requireSecret('short-secret-value', 'COUPON_SECRET');
    } catch (err) {
      expect((err as Error).message).not.toContain('short-secret-value');
    }
    expect(requireSecret('k'.repeat(32), 'COUPON_SECRET')).toBe('k'.repeat(32));
  });
});
