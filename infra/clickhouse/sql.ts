// The small query surface analytics code needs, so the same report runs against a ClickHouse client
// in this process or against the pipeline service that owns the embedded database.
import type { ClickHouseClient } from './client';

export interface Sql {
  query<T = Record<string, unknown>>(this: void, sql: string, params?: Record<string, unknown>): Promise<T[]>;
}

export function sqlFromClient(ch: ClickHouseClient): Sql {
  return {
    async query<T>(sql: string, params: Record<string, unknown> = {}): Promise<T[]> {
      const rs = await ch.query({ query: sql, query_params: params, format: 'JSONEachRow' });
      return rs.json<T>();
    },
  };
}

export class RemoteSqlError extends Error {
  override readonly name = 'RemoteSqlError';
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** Queries through the pipeline service's admin endpoint (POST /v1/sql with its ADMIN_TOKEN). */
export function sqlOverHttp(baseUrl: string, token: string): Sql {
  return {
    async query<T>(sql: string, params: Record<string, unknown> = {}): Promise<T[]> {
      const res = await fetch(`${baseUrl}/v1/sql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ sql, params }),
      });
      const body = (await res.json()) as { rows?: T[]; error?: string; code?: string };
      if (!res.ok)
        throw new RemoteSqlError(body.error ?? `HTTP ${res.status}`, body.code ?? String(res.status));
      return body.rows ?? [];
    },
  };
}
