// TLS to NATS (NATS_TLS_CA_FILE, NATS_TLS_CERT_FILE / NATS_TLS_KEY_FILE) against a real nats-server
// that requires it, with a test CA and server certificate made here by openssl: the pipeline's
// client connects and uses JetStream with the CA; without it, or without TLS, it is refused.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { connect } from 'nats';
import { loadConfig } from '../../infra/config';
import { connectNats } from '../../infra/nats';
import { startTestNats, type TestNats } from '../../infra/stack/test-nats';

let dir: string;
let nats: TestNats;
const file = (name: string): string => path.join(dir, name);

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'nats-tls-'));
  const ssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'ignore' });
  ssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.pem'),
    '-days',
    '1',
    '-subj',
    '/CN=shopstream test CA',
  );
  ssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    file('server.key'),
    '-out',
    file('server.csr'),
    '-subj',
    '/CN=127.0.0.1',
  );
  writeFileSync(file('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ssl(
    'x509',
    '-req',
    '-in',
    file('server.csr'),
    '-CA',
    file('ca.pem'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-out',
    file('server.pem'),
    '-days',
    '1',
    '-extfile',
    file('san.ext'),
  );
  nats = await startTestNats({
    config: `tls {\n  cert_file: "${file('server.pem')}"\n  key_file: "${file('server.key')}"\n  timeout: 2\n}\n`,
  });
}, 60_000);

afterAll(async () => {
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const natsConfig = (env: Record<string, string>) => loadConfig({ NATS_URL: nats.url, ...env }).nats;

it('connects over TLS with the CA and uses JetStream', async () => {
  const nc = await connectNats(natsConfig({ NATS_TLS_CA_FILE: file('ca.pem') }), 'tls-test');
  try {
    const info = await (await nc.jetstreamManager()).getAccountInfo();
    expect(info.limits).toBeDefined();
  } finally {
    await nc.close();
  }
});

it('refuses a client that does not trust the certificate, and one without TLS', async () => {
  await expect(
    connectNats(natsConfig({}), 'no-ca', { maxReconnectAttempts: 0, tls: {} }),
  ).rejects.toMatchObject({
    name: 'NatsUnavailableError',
  });
  await expect(connect({ servers: nats.url, tls: null, timeout: 3000 })).rejects.toThrow();
  await expect(connectNats(natsConfig({ NATS_TLS_CERT_FILE: file('server.pem') }), 'half')).rejects.toThrow(
    /NATS_TLS_KEY_FILE/,
  );
});
