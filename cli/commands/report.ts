import type { Config } from '../../infra/config';
import { buildReport, formatReport } from '../../analytics/report';
import { formatRows, ROW_FORMATS, type RowFormat } from '../../analytics/format';
import { openSql } from '../sql';
import { UsageError } from '../run';

export async function report(config: Config): Promise<void> {
  const { sql, close } = await openSql(config);
  try {
    console.log(formatReport(await buildReport(sql, { database: config.clickhouse.database })));
  } finally {
    await close();
  }
}

export async function query(config: Config, opts: Record<string, unknown>): Promise<void> {
  const params: Record<string, string> = {};
  for (const p of (opts['param'] as string[] | undefined) ?? []) {
    const i = p.indexOf('=');
    if (i <= 0) throw new UsageError(`--param takes name=value, got "${p}"`);
    params[p.slice(0, i)] = p.slice(i + 1);
  }
  const format = (opts['format'] as string | undefined) ?? (process.stdout.isTTY ? 'table' : 'json');
  if (!(ROW_FORMATS as readonly string[]).includes(format))
    throw new UsageError(`--format takes ${ROW_FORMATS.join(', ')}; got "${format}"`);
  const { sql, close } = await openSql(config);
  try {
    const rows = await sql.query(String(opts['sql']), params);
    process.stdout.write(formatRows(rows, format as RowFormat));
  } finally {
    await close();
  }
}
