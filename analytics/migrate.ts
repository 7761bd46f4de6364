// Numbered SQL migrations (analytics/migrations/NNNN_name.sql), applied once each, in order.
// `{db}` in a file stands for the configured database (checked to be an identifier). Every statement
// is also idempotent on its own (IF NOT EXISTS), so a migration interrupted half-way can simply run
// again.
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { ClickHouseClient } from '../infra/clickhouse/client';

const DIR = path.join(__dirname, 'migrations');

export class BadDatabaseNameError extends Error {
  override readonly name = 'BadDatabaseNameError';
  readonly code = 'BAD_DATABASE_NAME';
}

/** The database name, checked once: it is the only name written into migration SQL. */
export function databaseIdentifier(database: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database))
    throw new BadDatabaseNameError(`database name must be an identifier, got ${JSON.stringify(database)}`);
  return database;
}

export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

export function loadMigrations(dir = DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 4)),
      name: file.replace(/\.sql$/, ''),
      statements: splitStatements(readFileSync(path.join(dir, file), 'utf8')),
    }));
}

export function splitStatements(sql: string): string[] {
  return sql
    .split('\n')
    .filter((line) => !line.trim().startsWith('--'))
    .join('\n')
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Applies what is missing; returns the names applied now. */
export async function migrate(
  ch: ClickHouseClient,
  database: string,
  migrations = loadMigrations(),
): Promise<string[]> {
  const db = databaseIdentifier(database);
  await ch.command({ query: `CREATE DATABASE IF NOT EXISTS ${db}` });
  await ch.command({
    query: `CREATE TABLE IF NOT EXISTS ${db}.schema_migrations
            (version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))
            ENGINE = ReplacingMergeTree ORDER BY version`,
  });
  const rs = await ch.query({
    query: `SELECT version FROM ${db}.schema_migrations FINAL`,
    format: 'JSONEachRow',
  });
  const done = new Set((await rs.json<{ version: number | string }>()).map((r) => Number(r.version)));
  const applied: string[] = [];
  for (const m of migrations) {
    if (done.has(m.version)) continue;
    for (const stmt of m.statements) await ch.command({ query: stmt.replaceAll('{db}', db) });
    await ch.insert({
      table: `${db}.schema_migrations`,
      values: [{ version: m.version, name: m.name }],
      format: 'JSONEachRow',
    });
    applied.push(m.name);
  }
  return applied;
}
