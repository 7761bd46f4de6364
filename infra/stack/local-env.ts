// Settings files the CLI reads before its configuration: `.env` at the project root (the user's own,
// as `make` reads it) and `<data dir>/local.env`, which the local stack writes once with random
// secrets for this machine's demo (coupon secret, admin token, a server write key, the passwords of
// the local NATS's role users) and a public demo write key. Variables already set in the environment
// always win; nothing here has a default that could be used outside this machine.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseEnv } from 'node:util';
import { PROJECT_ROOT } from '../config';
import { rolePasswordVariable, ROLES } from '../../streams/permissions';

/** The data directory as the configuration will see it (SHOPSTREAM_DATA_DIR, else .data/). */
export function localEnvFile(env: NodeJS.ProcessEnv = process.env, root = PROJECT_ROOT): string {
  const dataDir = env['SHOPSTREAM_DATA_DIR'] || path.join(root, '.data');
  return path.join(path.resolve(root, dataDir), 'local.env');
}

/** Sets every variable of the files that is not set yet; returns the files read. */
export function loadEnvFiles(env: NodeJS.ProcessEnv = process.env, root = PROJECT_ROOT): string[] {
  const read: string[] = [];
  for (const file of [path.join(root, '.env'), localEnvFile(env, root)]) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const [k, v] of Object.entries(parseEnv(text))) if (env[k] === undefined) env[k] = v;
    read.push(file);
  }
  return read;
}

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');

/**
 * Writes `<data dir>/local.env` with new random secrets unless it exists (mode 0600); to one written
 * by an older version, appends the settings it lacks (its own values are kept).
 */
export function ensureLocalEnv(env: NodeJS.ProcessEnv = process.env): string {
  const file = localEnvFile(env);
  const lines = [
    '# Written once by the local stack (make up / make demo) for the demo on this machine.',
    '# Random secrets, never defaults: production sets its own (see .env.example). Delete to renew.',
    `COUPON_SECRET=${hex(32)}`,
    `ADMIN_TOKEN=${hex(24)}`,
    `ANALYST_PASSWORD=${hex(16)}`,
    // public keys are public by nature (they ship in web pages); the demo's is fixed for the README's curl
    'COLLECTOR_WRITE_KEYS=demo-shop:demo-write-key',
    `COLLECTOR_SERVER_KEYS=demo-shop:server-${hex(16)}`,
    `CHANNEL_SECRET=${hex(24)}`,
    // the local NATS's users, one per role (streams/permissions.ts); each command connects as its own
    ...ROLES.map((role) => `${rolePasswordVariable(role)}=${hex(16)}`),
    '',
  ];
  if (fs.existsSync(file)) {
    const has = new Set(
      fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .map((l) => /^([A-Z_][A-Z0-9_]*)=/.exec(l.trim())?.[1])
        .filter(Boolean),
    );
    const missing = lines.filter((l) => {
      const key = /^([A-Z_][A-Z0-9_]*)=/.exec(l)?.[1];
      return key !== undefined && !has.has(key);
    });
    if (missing.length > 0) fs.appendFileSync(file, `\n${missing.join('\n')}\n`);
    return file;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, lines.join('\n'), { mode: 0o600, flag: 'wx' });
  return file;
}
