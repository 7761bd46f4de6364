import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig, requireSecret } from '../../infra/config';
import { ensureLocalEnv, loadEnvFiles, localEnvFile } from '../../infra/stack/local-env';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'local-env-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

it('the CLI reads .env and the local stack file; the environment wins, then .env', () => {
  fs.writeFileSync(path.join(root, '.env'), 'ADMIN_PORT=9999\nSTACK_NATS_PORT=5222\n');
  const env: NodeJS.ProcessEnv = { SHOPSTREAM_DATA_DIR: path.join(root, 'data'), ADMIN_PORT: '7000' };
  fs.mkdirSync(path.join(root, 'data'));
  fs.writeFileSync(path.join(root, 'data', 'local.env'), 'STACK_NATS_PORT=1\nADMIN_TOKEN=abc\n');
  expect(loadEnvFiles(env, root)).toHaveLength(2);
  expect(env['ADMIN_PORT']).toBe('7000');
  expect(env['STACK_NATS_PORT']).toBe('5222');
  expect(env['ADMIN_TOKEN']).toBe('abc');
});

it('the local stack writes random secrets once, readable only by its owner, that the config accepts', () => {
  const env: NodeJS.ProcessEnv = { SHOPSTREAM_DATA_DIR: path.join(root, 'd') };
  const file = ensureLocalEnv(env);
  {
    expect(file).toBe(localEnvFile(env));
    expect(fs.statSync(file).mode & 0o077).toBe(0);
    const first = fs.readFileSync(file, 'utf8');
    expect(ensureLocalEnv(env)).toBe(file);
    expect(fs.readFileSync(file, 'utf8')).toBe(first); // never rewritten
    const loaded: NodeJS.ProcessEnv = { SHOPSTREAM_DATA_DIR: path.join(root, 'd') };
    loadEnvFiles(loaded);
    const config = loadConfig(loaded);
    expect(requireSecret(config.coupons.secret, 'COUPON_SECRET')).toMatch(/^[0-9a-f]{64}$/);
    expect(config.admin.token.length).toBeGreaterThanOrEqual(32);
    // another machine's (another data directory's) secrets differ
    const other = ensureLocalEnv({ SHOPSTREAM_DATA_DIR: path.join(root, 'other') });
    expect(fs.readFileSync(other, 'utf8')).not.toBe(first);
  }
});

it('adds the settings an older local file lacks, keeping its own values', () => {
  const env: NodeJS.ProcessEnv = { SHOPSTREAM_DATA_DIR: path.join(root, 'd') };
  fs.mkdirSync(path.join(root, 'd'));
  fs.writeFileSync(localEnvFile(env), 'COUPON_SECRET=kept\nADMIN_TOKEN=kept-too\n', { mode: 0o600 });
  ensureLocalEnv(env);
  const text = fs.readFileSync(localEnvFile(env), 'utf8');
  expect(text.startsWith('COUPON_SECRET=kept\nADMIN_TOKEN=kept-too\n')).toBe(true);
  expect(text.match(/^COUPON_SECRET=/gm)).toHaveLength(1);
  expect(text).toMatch(/^ANALYST_PASSWORD=[0-9a-f]{32}$/m);
  const again = fs.readFileSync(localEnvFile(env), 'utf8');
  ensureLocalEnv(env);
  expect(fs.readFileSync(localEnvFile(env), 'utf8')).toBe(again); // nothing more to add
});
