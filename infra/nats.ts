// One way to connect to NATS, with errors that say where and how to fix it.
import { connect, credsAuthenticator, type ConnectionOptions, type NatsConnection } from 'nats';
import { readFileSync } from 'node:fs';
import type { Config } from './config';
import { patchNatsRequests } from './nats-request-patch';

// every connection of the process answers its requests without an Error each (nats-request-patch.ts)
patchNatsRequests();

/** A KV compare-and-set lost to a concurrent writer (retry on the new revision). */
export function isKvConflict(err: unknown): boolean {
  const e = err as { api_error?: { err_code?: number }; message?: string };
  // 10071: wrong last sequence (update); 10164 / "key exists": create of an existing key
  return (
    e?.api_error?.err_code === 10071 ||
    e?.api_error?.err_code === 10164 ||
    /wrong last sequence|key exists/i.test(e?.message ?? '')
  );
}

/**
 * A NATS or JetStream "not found" answer: a stream (JetStream error 10059), a consumer (10014), a
 * request with no such subject (code '404'), or a message that says so (a KV key, older servers).
 */
export function isNotFound(err: unknown): boolean {
  const e = err as { code?: string; api_error?: { err_code?: number }; message?: string };
  return (
    e?.code === '404' ||
    e?.api_error?.err_code === 10059 ||
    e?.api_error?.err_code === 10014 ||
    /not found/i.test(e?.message ?? '')
  );
}

export class NatsUnavailableError extends Error {
  override readonly name = 'NatsUnavailableError';
  readonly code = 'NATS_UNAVAILABLE';
}

export async function connectNats(
  cfg: Config['nats'],
  name: string,
  extra: Partial<ConnectionOptions> = {},
): Promise<NatsConnection> {
  const opts: ConnectionOptions = {
    servers: cfg.url.split(',').map((s) => s.trim()),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
    timeout: 5000,
    // no Error (with its stack) made for every request and KV call: 9% of the pipeline's CPU under
    // load (a --cpu-prof of make bench: NatsError and BaseRequest); errors keep their own stacks
    noAsyncTraces: true,
    ...extra,
  };
  if (cfg.user) {
    opts.user = cfg.user;
    opts.pass = cfg.password;
  }
  if (cfg.token) opts.token = cfg.token;
  if (cfg.credsFile) opts.authenticator = credsAuthenticator(readFileSync(cfg.credsFile));
  // TLS (a `tls://` URL asks for it too): the private CA, and a client certificate for mutual TLS
  if (cfg.tlsCertFile && !cfg.tlsKeyFile)
    throw new NatsUnavailableError(
      "NATS_TLS_CERT_FILE needs NATS_TLS_KEY_FILE (the certificate's private key)",
    );
  if (cfg.tlsCaFile || cfg.tlsCertFile)
    opts.tls = {
      ...(cfg.tlsCaFile ? { caFile: cfg.tlsCaFile } : {}),
      ...(cfg.tlsCertFile ? { certFile: cfg.tlsCertFile, keyFile: cfg.tlsKeyFile } : {}),
    };
  try {
    return await connect(opts);
  } catch (err) {
    if (/authori[sz]ation|authentication/i.test((err as Error).message))
      throw new NatsUnavailableError(
        `NATS at ${cfg.url} refused the credentials (${cfg.user ? `user ${cfg.user}` : cfg.token ? 'a token' : cfg.credsFile ? cfg.credsFile : 'none given'}): check NATS_USER / NATS_PASSWORD, NATS_TOKEN or NATS_CREDS_FILE; the local stack keeps its role passwords in .data/local.env`,
        { cause: err },
      );
    throw new NatsUnavailableError(
      `cannot connect to NATS at ${cfg.url} (${(err as Error).message}). Is it running? \`make up\` starts a local one; NATS_URL points elsewhere.`,
      { cause: err },
    );
  }
}
