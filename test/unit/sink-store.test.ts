import { byPartitionGroups, classifyInsertError } from '../../streams/sinks/clickhouse/store';
import type { EventRow } from '../../streams/sinks/clickhouse/rows';

const item = (month: number) => ({
  row: {
    occurred_at: `${2000 + Math.floor(month / 12)}-${String((month % 12) + 1).padStart(2, '0')}-01 00:00:00.000`,
  } as EventRow,
});

describe('sink store helpers', () => {
  it('blames the data only for a server error that is not operational', () => {
    const server = (code: string, type: string) => Object.assign(new Error(type), { code, type });
    expect(classifyInsertError(server('41', 'CANNOT_PARSE_DATETIME')).kind).toBe('rejected');
    expect(classifyInsertError(server('469', 'VIOLATED_CONSTRAINT')).kind).toBe('rejected');
    expect(classifyInsertError(server('60', 'UNKNOWN_TABLE')).kind).toBe('unavailable');
    expect(classifyInsertError(server('241', 'MEMORY_LIMIT_EXCEEDED')).kind).toBe('unavailable');
    expect(classifyInsertError(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' })).kind).toBe(
      'unavailable',
    );
    expect(classifyInsertError(new Error('Timeout error.')).kind).toBe('unavailable');
  });

  it('keeps one insert for up to 100 months and cuts more into blocks of 100 months', () => {
    expect(byPartitionGroups([])).toEqual([]);
    const few = Array.from({ length: 300 }, (_, i) => item(i % 100));
    expect(byPartitionGroups(few)).toEqual([few]);
    const many = Array.from({ length: 250 }, (_, i) => item(i));
    const groups = byPartitionGroups(many);
    expect(groups.map((g) => g.length)).toEqual([100, 100, 50]);
    expect(groups.flat()).toHaveLength(250);
  });
});
