// Type-aware lint. Floating promises are errors everywhere; workflows/ may not import anything that
// does I/O or is not deterministic (Temporal replays workflow code).
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

const nodeBuiltins = [
  'fs',
  'net',
  'http',
  'https',
  'child_process',
  'os',
  'path',
  'crypto',
  'dns',
  'worker_threads',
  'timers',
];

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      '.tools/',
      '.data/',
      'schemas/generated/',
      'dist/',
      'coverage/',
      '**/*.cjs',
      '**/*.mjs',
      '*.config.js',
    ],
  },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins
              .flatMap((m) => [m, `node:${m}`])
              .map((name) => ({ name, message: 'workflows must be deterministic: no Node built-ins' })),
            { name: 'nats', message: 'workflows must not do I/O: call an activity' },
            { name: '@clickhouse/client', message: 'workflows must not do I/O: call an activity' },
            { name: 'ml-matrix', message: 'keep maths in activities or processors, not in workflow code' },
          ],
          patterns: [
            {
              group: ['**/activities/*', '!**/activities/types'],
              allowTypeImports: true,
              message: 'import activities as types only (proxyActivities)',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/unbound-method': 'off', '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  {
    // analytics/ (tables, report SQL, report code) reads the contract (schemas/) and the platform
    // (infra/) only: no pipeline stage above it, no entry point, dev tooling or test
    files: ['analytics/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: ['streams', 'workflows', 'activities', 'cli', 'demo', 'bench', 'test', 'catalog'].map(
            (dir) => ({
              group: [`**/${dir}`, `**/${dir}/**`],
              message: 'analytics/ imports schemas/ and infra/ only',
            }),
          ),
        },
      ],
    },
  },
  prettier,
);
