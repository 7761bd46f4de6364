import { checkReadOnlySql, ReadOnlySqlError, sqlTokens } from '../../infra/clickhouse/readonly';

const refused = (sql: unknown): string => {
  try {
    checkReadOnlySql(sql);
  } catch (err) {
    expect(err).toBeInstanceOf(ReadOnlySqlError);
    return (err as Error).message;
  }
  throw new Error(`accepted: ${String(sql)}`);
};

describe('checkReadOnlySql', () => {
  it('accepts one reading statement, with a trailing ; and words inside literals', () => {
    for (const sql of [
      'SELECT 1',
      'select count() from shopstream.events FINAL;',
      "WITH 'a;b' AS x SELECT x",
      "SELECT 'INTO OUTFILE' AS s, `settings` FROM t",
      'SHOW TABLES',
      'DESCRIBE TABLE shopstream.events',
      'EXPLAIN SELECT 1',
      'EXISTS TABLE shopstream.events',
      "SELECT {day:Date} -- a comment; INTO OUTFILE 'x'",
    ])
      expect(checkReadOnlySql(sql)).toBe(sql);
  });

  it('refuses writes, several statements, INTO OUTFILE and SETTINGS, however written', () => {
    expect(refused('DROP TABLE shopstream.events')).toMatch(/only reading statements/);
    expect(refused("INSERT INTO FUNCTION file('x') SELECT 7")).toMatch(/only reading/);
    expect(refused('  /* hi */ ALTER TABLE t DELETE WHERE 1')).toMatch(/only reading/);
    expect(refused('SELECT 1; DROP TABLE t')).toMatch(/one statement/);
    expect(refused("SELECT 1 INTO OUTFILE '/tmp/x'")).toMatch(/OUTFILE/);
    expect(refused("SELECT 1 into/**/outfile '/tmp/x'")).toMatch(/OUTFILE/);
    expect(refused('SELECT 1 SETTINGS readonly = 0')).toMatch(/SETTINGS/);
    expect(refused("SELECT 'unterminated")).toMatch(/unterminated/);
    expect(refused('')).toMatch(/statement/);
    expect(refused(42)).toMatch(/statement/);
  });

  it('does not treat # as a comment (ClickHouse may not): what follows is still checked', () => {
    expect(refused("SELECT 1 # INTO OUTFILE '/tmp/x'")).toMatch(/OUTFILE/);
  });

  it('tokens skip literals, quoted identifiers and comments', () => {
    expect(sqlTokens(`SELECT 'it''s', "a;b", \`c\` /* x */ -- y\n FROM t`)).toEqual([
      'SELECT',
      "'…'",
      "'…'",
      ',',
      'IDENT',
      ',',
      'IDENT',
      'FROM',
      'T',
    ]);
  });
});
