// TLS to Temporal (a Temporal Cloud namespace, a self-hosted frontend behind TLS): the options both the
// client's Connection and the worker's NativeConnection take, from TEMPORAL_TLS_* (none: plain).
import { readFileSync } from 'node:fs';
import { ConfigError } from './config';

export interface TemporalTlsSettings {
  tlsCaFile: string;
  tlsCertFile: string;
  tlsKeyFile: string;
  tlsServerName: string;
}

/** The shape of the SDK's TLSConfig (client and worker alike). */
export interface TemporalTls {
  serverRootCACertificate?: Buffer;
  clientCertPair?: { crt: Buffer; key: Buffer };
  serverNameOverride?: string;
}

/** `{ tls }` for a Temporal connection, or `{}` without TLS settings. */
export function temporalTls(t: TemporalTlsSettings): { tls?: TemporalTls } {
  if (!t.tlsCaFile && !t.tlsCertFile && !t.tlsKeyFile && !t.tlsServerName) return {};
  if (!t.tlsCertFile !== !t.tlsKeyFile)
    throw new ConfigError([
      {
        variable: t.tlsCertFile ? 'TEMPORAL_TLS_KEY_FILE' : 'TEMPORAL_TLS_CERT_FILE',
        message: 'TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE go together (mutual TLS)',
      },
    ]);
  const read = (file: string, variable: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new ConfigError([{ variable, message: `${file}: ${(err as Error).message}` }]);
    }
  };
  return {
    tls: {
      ...(t.tlsCaFile ? { serverRootCACertificate: read(t.tlsCaFile, 'TEMPORAL_TLS_CA_FILE') } : {}),
      ...(t.tlsCertFile
        ? {
            clientCertPair: {
              crt: read(t.tlsCertFile, 'TEMPORAL_TLS_CERT_FILE'),
              key: read(t.tlsKeyFile, 'TEMPORAL_TLS_KEY_FILE'),
            },
          }
        : {}),
      ...(t.tlsServerName ? { serverNameOverride: t.tlsServerName } : {}),
    },
  };
}
