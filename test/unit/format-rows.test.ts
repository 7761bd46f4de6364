// Rows printed for people (a table), spreadsheets (CSV, quoted where needed) and programs (JSON Lines).
import { formatRows } from '../../analytics/format';

const rows = [
  { day: '2026-12-01', channel: 'web', orders: 3, share: 0.5, tags: ['a', 'b'] },
  { day: '2026-12-02', channel: 'app, "mini"', orders: 10, share: null, tags: [] },
];

it('csv: a header, values quoted where they hold commas or quotes, nested values as JSON', () => {
  expect(formatRows(rows, 'csv')).toBe(
    'day,channel,orders,share,tags\n' +
      '2026-12-01,web,3,0.5,"[""a"",""b""]"\n' +
      '2026-12-02,"app, ""mini""",10,,[]\n',
  );
});

it('json: one line per row, parseable', () => {
  const lines = formatRows(rows, 'json').trimEnd().split('\n');
  expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual(rows);
});

it('table: every column and value, and the row count', () => {
  const t = formatRows(rows, 'table');
  for (const s of ['day', 'channel', 'orders', '2026-12-02', 'app, "mini"', '10', '(2 rows)'])
    expect(t).toContain(s);
  expect(formatRows([], 'table')).toContain('(0 rows)');
  expect(formatRows([], 'json')).toBe('');
});
