// The collector over HTTPS (COLLECTOR_TLS_CERT_FILE / COLLECTOR_TLS_KEY_FILE) with a test CA and
// server certificate made by openssl: a client that trusts the CA posts events and they are stored;
// one that does not is refused by its own TLS check; plain HTTP gets no answer; a certificate without
// its key is a clear configuration error.
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { request as plainRequest } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ConfigError } from '../../infra/config';
import { eventually } from '../../infra/stack/test-clickhouse';
import { makeTestCertificates, type TestCertificates } from '../../infra/stack/test-tls';
import { collectorTls } from '../../streams/collector/server';
import { startCollectorService, type CollectorService } from './fixtures/collector-service';

let dir: string;
let certs: TestCertificates;
let fixture: CollectorService;
const KEY = 'tls-key';

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'collector-tls-'));
  certs = makeTestCertificates(dir);
  fixture = await startCollectorService('tls', `tls-shop:${KEY}`, {
    env: { COLLECTOR_TLS_CERT_FILE: certs.cert, COLLECTOR_TLS_KEY_FILE: certs.key },
  });
}, 120_000);

afterAll(async () => {
  await fixture?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const body = JSON.stringify({
  batch: [
    {
      type: 'track',
      event: 'Product Viewed',
      userId: 'u1',
      messageId: 'tls-1',
      properties: { sku: 'SKU-1' },
    },
  ],
});

function post(url: string, ca?: Buffer): Promise<{ status: number; text: string }> {
  const u = new URL(url);
  const send = u.protocol === 'https:' ? request : plainRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      u,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Basic ${Buffer.from(`${KEY}:`).toString('base64')}`,
        },
        ...(ca ? { ca } : {}),
        timeout: 5000,
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

it('takes events over HTTPS from a client that trusts its CA, and stores them', async () => {
  expect(fixture.batchUrl).toMatch(/^https:/);
  const { readFileSync } = await import('node:fs');
  const res = await post(fixture.batchUrl, readFileSync(certs.ca));
  expect(res.status).toBe(200);
  const db = fixture.config.clickhouse.database;
  await eventually(
    () => fixture.sql.query<{ n: string | number }>(`SELECT count() AS n FROM ${db}.events`),
    (rows) => Number(rows[0]?.n) === 1,
    30_000,
  );
});

it('is refused by a client that does not trust the certificate, and by plain HTTP', async () => {
  await expect(post(fixture.batchUrl)).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
  await expect(post(fixture.batchUrl.replace('https:', 'http:'))).rejects.toThrow();
});

it('a certificate without its key, or a file it cannot read, is a configuration error', () => {
  expect(() => collectorTls({ tlsCertFile: certs.cert, tlsKeyFile: '' })).toThrow(ConfigError);
  expect(() => collectorTls({ tlsCertFile: certs.cert, tlsKeyFile: path.join(dir, 'missing.key') })).toThrow(
    /COLLECTOR_TLS_KEY_FILE/,
  );
  expect(collectorTls({ tlsCertFile: '', tlsKeyFile: '' })).toEqual({});
});
