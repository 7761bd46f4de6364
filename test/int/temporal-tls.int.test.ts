// TLS to Temporal (TEMPORAL_TLS_*): the dev server speaks plain gRPC, so a TLS terminator made here
// (node:tls, ALPN h2, a test CA and certificate from openssl) stands in front of it, as a load
// balancer or Temporal Cloud's frontend would. The client Connection (the triggers') and the worker's
// NativeConnection reach Temporal through it with the CA; without the CA they are refused; a client
// certificate without its key is a clear configuration error.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as tcpConnect, type Socket } from 'node:net';
import { createServer, type Server } from 'node:tls';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { ConfigError, loadConfig } from '../../infra/config';
import { temporalTls } from '../../infra/temporal-tls';
import { startTestTemporal, type TestTemporal } from '../../infra/stack/test-temporal';
import { makeTestCertificates, type TestCertificates } from '../../infra/stack/test-tls';

let dir: string;
let certs: TestCertificates;
let temporal: TestTemporal;
let proxy: Server;
let address: string;
const sockets = new Set<Socket>();

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'temporal-tls-'));
  certs = makeTestCertificates(dir);
  temporal = await startTestTemporal();
  const [host, port] = [temporal.address.split(':')[0]!, Number(temporal.address.split(':')[1])];
  proxy = createServer(
    { cert: readFileSync(certs.cert), key: readFileSync(certs.key), ALPNProtocols: ['h2'] },
    (tlsSocket) => {
      const upstream = tcpConnect(port, host);
      sockets.add(tlsSocket).add(upstream);
      tlsSocket.pipe(upstream).pipe(tlsSocket);
      const close = (): void => {
        tlsSocket.destroy();
        upstream.destroy();
      };
      tlsSocket.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
    },
  );
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const a = proxy.address();
  address = `127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
}, 120_000);

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => (proxy ? proxy.close(() => resolve()) : resolve()));
  await temporal?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const settings = (env: Record<string, string>) =>
  loadConfig({ TEMPORAL_ADDRESS: address, LOG_LEVEL: 'silent', ...env }).temporal;

it('the client and the worker connection reach Temporal over TLS with the CA', async () => {
  const t = settings({ TEMPORAL_TLS_CA_FILE: certs.ca });
  const client = await Connection.connect({ address: t.address, ...temporalTls(t) });
  try {
    const info = await client.workflowService.getSystemInfo({});
    expect(info.serverVersion).toBeTruthy();
  } finally {
    await client.close();
  }
  const worker = await NativeConnection.connect({ address: t.address, ...temporalTls(t) });
  await worker.close();
});

it('is refused without the CA (or without TLS), and a half client certificate is a config error', async () => {
  await expect(
    // Connection.connect asks the server for its system info: the TLS handshake fails first
    Connection.connect({ address, tls: {}, connectTimeout: 3000 }).then((c) => c.close()),
  ).rejects.toThrow();
  await expect(
    NativeConnection.connect({ address, ...temporalTls(settings({})) }).then((c) => c.close()),
  ).rejects.toThrow();
  expect(() => temporalTls(settings({ TEMPORAL_TLS_CERT_FILE: certs.cert }))).toThrow(ConfigError);
  expect(temporalTls(settings({}))).toEqual({});
});
