// TLS to NATS (NATS_TLS_CA_FILE, NATS_TLS_CERT_FILE / NATS_TLS_KEY_FILE) against a real nats-server
// that requires it, with a test CA and server certificate made here by openssl: the pipeline's
// client connects and uses JetStream with the CA; without it, or without TLS, it is refused.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { connect } from 'nats';
import { loadConfig } from '../../infra/config';
import { connectNats } from '../../infra/nats';
import { startTestNats, type TestNats } from '../../infra/stack/test-nats';
import { makeTestCertificates, type TestCertificates } from '../../infra/stack/test-tls';

let dir: string;
let nats: TestNats;
let certs: TestCertificates;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'nats-tls-'));
  certs = makeTestCertificates(dir);
  nats = await startTestNats({
    config: `tls {\n  cert_file: "${certs.cert}"\n  key_file: "${certs.key}"\n  timeout: 2\n}\n`,
  });
}, 60_000);

afterAll(async () => {
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const natsConfig = (env: Record<string, string>) => loadConfig({ NATS_URL: nats.url, ...env }).nats;

it('connects over TLS with the CA and uses JetStream', async () => {
  const nc = await connectNats(natsConfig({ NATS_TLS_CA_FILE: certs.ca }), 'tls-test');
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
  await expect(connectNats(natsConfig({ NATS_TLS_CERT_FILE: certs.cert }), 'half')).rejects.toThrow(
    /NATS_TLS_KEY_FILE/,
  );
});
