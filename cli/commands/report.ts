import type { Config } from '../../infra/config';
import { buildReport, formatReport } from '../../analytics/report';
import { formatRows, ROW_FORMATS, type RowFormat } from '../../analytics/format';
import { findReport, NAMED_REPORTS, type ReportSection } from '../../analytics/named-reports';
import { flows } from '../../workflows/flows';
import { openSql } from '../sql';
import { UsageError } from '../run';

const DAY_MS = 86_400_000;

/**
 * A moment as the user wrote it: an ISO date or date-time (`2026-11-24`, `2026-11-24T12:00Z`; a date
 * alone is midnight UTC), `now`, or a time before now (`7d`, `12h`, `30m`).
 */
export function parseMoment(text: string, now = Date.now()): Date {
  const t = text.trim();
  if (t === 'now') return new Date(now);
  const ago = /^-?(\d+(?:\.\d+)?)\s*(d|h|m)$/.exec(t);
  if (ago)
    return new Date(now - Number(ago[1]) * { d: DAY_MS, h: 3_600_000, m: 60_000 }[ago[2] as 'd' | 'h' | 'm']);
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(t)) {
    const d = new Date(/^\d{4}-\d{2}-\d{2}$/.test(t) ? `${t}T00:00:00Z` : t);
    if (!Number.isNaN(d.getTime())) return d;
  }
  throw new UsageError(
    `"${text}" is not a time: use 2026-11-24, 2026-11-24T12:00Z, now, or 7d / 12h / 30m ago`,
  );
}

/** Each campaign's spend budget (minor units), from the shipped flows' coupon steps. */
export function campaignBudgets(): Map<string, number> {
  const out = new Map<string, number>();
  for (const flow of Object.values(flows))
    for (const step of flow.steps)
      if (step.kind === 'send_with_coupon' && step.coupon.budget.maxSpendMinor)
        out.set(step.coupon.campaign, step.coupon.budget.maxSpendMinor);
  return out;
}

function formatSections(sections: readonly ReportSection[], format: RowFormat): string {
  if (format === 'json')
    return sections
      .map((s) =>
        formatRows(
          s.rows.map((r) => ({ section: s.title, ...r })),
          'json',
        ),
      )
      .join('');
  return sections.map((s) => `${s.title}\n${formatRows(s.rows, format)}`).join('\n');
}

function outputFormat(opts: Record<string, unknown>): RowFormat {
  const format = (opts['format'] as string | undefined) ?? (process.stdout.isTTY ? 'table' : 'json');
  if (!(ROW_FORMATS as readonly string[]).includes(format))
    throw new UsageError(`--format takes ${ROW_FORMATS.join(', ')}; got "${format}"`);
  return format as RowFormat;
}

export async function report(config: Config, opts: Record<string, unknown> = {}): Promise<void> {
  const name = opts['name'] as string | undefined;
  if (name === undefined || name === 'overview') {
    const { sql, close } = await openSql(config);
    try {
      console.log(formatReport(await buildReport(sql, { database: config.clickhouse.database })));
    } finally {
      await close();
    }
    return;
  }
  const named = findReport(name);
  if (!named)
    throw new UsageError(
      `no report "${name}"; the reports: overview, ${NAMED_REPORTS.map((r) => r.name).join(', ')}`,
    );
  const to = parseMoment((opts['to'] as string | undefined) ?? 'now');
  const from = parseMoment((opts['from'] as string | undefined) ?? '7d');
  if (from.getTime() >= to.getTime())
    throw new UsageError(`--from (${from.toISOString()}) must be before --to (${to.toISOString()})`);
  const windowText = opts['window'] as string | undefined;
  let windowMs: number | undefined;
  if (windowText !== undefined) {
    const w = /^(\d+(?:\.\d+)?)\s*(d|h|m)$/.exec(windowText.trim());
    if (!w) throw new UsageError(`--window takes a duration such as 24h, 7d or 30m; got "${windowText}"`);
    windowMs = Number(w[1]) * { d: DAY_MS, h: 3_600_000, m: 60_000 }[w[2] as 'd' | 'h' | 'm'];
  }
  const format = outputFormat(opts);
  const { sql, close } = await openSql(config);
  try {
    const sections = await named.run(
      sql,
      { database: config.clickhouse.database, from, to },
      { ...(windowMs === undefined ? {} : { windowMs }), budgets: campaignBudgets() },
    );
    if (format === 'table')
      console.log(`${named.name}: ${from.toISOString()} .. ${to.toISOString()} (${named.description})\n`);
    process.stdout.write(formatSections(sections, format));
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
  const format = outputFormat(opts);
  const { sql, close } = await openSql(config);
  try {
    const rows = await sql.query(String(opts['sql']), params);
    process.stdout.write(formatRows(rows, format));
  } finally {
    await close();
  }
}
