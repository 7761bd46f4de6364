// Test tiers by folder and file name: test/unit needs no server; test/workflows runs on Temporal's
// time-skipping test server; *.int.test.ts starts real NATS / ClickHouse; *.e2e.test.ts runs the
// whole pipeline.
const transform = { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] };
const common = { testEnvironment: 'node', transform, moduleFileExtensions: ['ts', 'js', 'json'] };

module.exports = {
  // a global option (per-project values are ignored): integration tests poll real servers
  testTimeout: 120000,
  // the slowest files first, so the two workers finish together (test/sequencer.cjs)
  testSequencer: '<rootDir>/test/sequencer.cjs',
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    // Temporal workflows on the time-skipping test server (.tools/, installed by make install)
    { ...common, displayName: 'workflows', testMatch: ['<rootDir>/test/workflows/**/*.test.ts'] },
    {
      ...common,
      displayName: 'int',
      testMatch: ['<rootDir>/test/int/**/*.int.test.ts', '<rootDir>/test/e2e/**/*.e2e.test.ts'],
    },
  ],
};
