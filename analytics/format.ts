// Text helpers the reports share.
import Table from 'cli-table3';
import { stringify } from 'csv-stringify/sync';

/** `a` as a percentage of `b`, five characters wide; `  -  ` when b is 0. */
export const pct = (a: number, b: number): string =>
  b === 0 ? '  -  ' : `${((100 * a) / b).toFixed(1).padStart(5)}%`;

/** Minor units as dollars: `12.34 USD`. */
export const usd = (minor: number): string => `${(minor / 100).toFixed(2)} USD`;

/** How rows are printed: an aligned table for people, CSV for spreadsheets, JSON Lines for programs. */
export const ROW_FORMATS = ['table', 'csv', 'json'] as const;
export type RowFormat = (typeof ROW_FORMATS)[number];

const cell = (v: unknown): string =>
  v === null || v === undefined
    ? ''
    : typeof v === 'string'
      ? v
      : typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint'
        ? v.toString()
        : JSON.stringify(v);

/** Rows as text in `format`, ending in a newline (empty rows: the header alone, or nothing for json). */
export function formatRows(rows: readonly Record<string, unknown>[], format: RowFormat): string {
  if (format === 'json') return rows.map((r) => `${JSON.stringify(r)}\n`).join('');
  const columns = rows.length > 0 ? Object.keys(rows[0]!) : [];
  if (format === 'csv')
    return stringify(
      rows.map((r) => columns.map((c) => cell(r[c]))),
      { header: true, columns },
    );
  const table = new Table({ head: columns, style: { head: [], border: [] } });
  for (const r of rows) table.push(columns.map((c) => cell(r[c])));
  return `${table.toString()}\n(${rows.length} ${rows.length === 1 ? 'row' : 'rows'})\n`;
}
