// Type-aware lint. Floating promises are errors everywhere; workflows/ may not import anything that
// does I/O or is not deterministic (Temporal replays workflow code).
//
// Layers, bottom to top. A folder imports only from its own layer and the layers below it; the rule
// `no-restricted-imports` below makes a wrong-way import a lint error (test/unit/import-rules.test.ts).
//   1. schemas/     the contract and its vocabulary: event types, codec, validation, ids, tiers, time
//                   and zones, hashing, KV key encoding. Imports nothing of ours.
//   2. infra/       the platform: config, logger, metrics, the NATS client (and its error checks), the
//                   ClickHouse client, network checks. (infra/stack/ is dev tooling: level 7.)
//   2b. analytics/  the ClickHouse model (migrations) and the reports: schemas/ and infra/ only (its own
//                   rule at the end); the pipeline's sink and the CLI use it.
//   3. catalog/     the product data and its loader. (catalog/generate.ts is dev tooling: level 7.)
//   3b. bot/        the assistant's understanding, pure: NLU (intents, slots, sentiment), knowledge
//                   base, dialogue state and policy. schemas/, infra/ and catalog/ only; the chat
//                   processor (streams/) runs it over the stream.
//   4. workflows/   deterministic flow code (Temporal replays it): schemas/ and workflows/ only, and
//                   activities/types.ts (the activity contract) as types only. No I/O, no Node built-ins.
//   5. coupons/     the coupon ledger, the one piece of state both sides of level 6 share: codes, refs,
//                   budgets, redemption (activities issue, the coupon triggers redeem).
//   6. streams/ and activities/, side by side: the stream side (names and topology, producer,
//                   collector, processors, sinks, triggers, dead letters) and the activities the
//                   workflows call. Neither imports the other: what both need lives lower. Either may
//                   import the activity contract (activities/types.ts) as types.
//   7. cli/         the entry points (the pipeline process, the worker, the `shopstream` command). They
//                   may use dev tooling for `stack`, `demo` and `simulate`.
//   8. dev tooling  demo/, bench/, examples/, infra/stack/, catalog/generate.ts: may use any product
//                   code, never cli/ or test/.
//   9. test/        may import anything.
// Nothing imports the entry points, dev tooling or tests, except the levels above them.
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

/** Import patterns of a folder: the folder itself ('../streams') and anything in it ('../streams/x'). */
const under = (...dirs) => dirs.flatMap((d) => [`**/${d}`, `**/${d}/**`]);
const forbid = (what, groups, why) => ({
  group: groups,
  message: `${why} (${what}; layers: eslint.config.mjs)`,
});

const entryPoints = forbid('cli/ is an entry point', under('cli'), 'nothing imports the entry points');
const devTooling = forbid(
  'demo/, bench/, chaos/, examples/, infra/stack/, catalog/generate.ts are dev tooling',
  [...under('demo', 'bench', 'chaos', 'examples', 'stack'), '**/catalog/generate', './generate'],
  'product code never imports dev tooling',
);
const tests = forbid('test/', under('test'), 'nothing imports the tests');
/** The activity contract (types the workflows call and the triggers build): importable as types only. */
const activityContract = {
  group: ['**/activities/types'],
  allowTypeImports: true,
  message: 'import the activity contract (activities/types.ts) as types only',
};
const activities = (from) => ({
  // A regex: a folder group ('**/activities') would also shut out the contract, its exception.
  regex: '(^|/)activities(/(?!types$).*)?$',
  message: `${from} must not import activities/: move what both need down, or take it as a dependency (activities/ is a sibling or above; layers: eslint.config.mjs)`,
});
const above = (from, ...dirs) =>
  forbid(
    `${dirs.map((d) => `${d}/`).join(', ')} above it`,
    under(...dirs),
    `${from} must not import a higher layer`,
  );
const always = [entryPoints, devTooling, tests];

const nodeBuiltinPaths = nodeBuiltins
  .flatMap((m) => [m, `node:${m}`])
  .map((name) => ({ name, message: 'workflows must be deterministic: no Node built-ins' }));

/** One `no-restricted-imports` per folder (a later config's options replace an earlier one's). */
const layerRules = [
  {
    files: ['schemas/**/*.ts'],
    patterns: [
      above(
        'schemas/',
        'infra',
        'analytics',
        'catalog',
        'bot',
        'workflows',
        'coupons',
        'streams',
        'activities',
      ),
      ...always,
    ],
  },
  {
    files: ['infra/**/*.ts'],
    ignores: ['infra/stack/**'],
    patterns: [
      above('infra/', 'analytics', 'catalog', 'bot', 'workflows', 'coupons', 'streams', 'activities'),
      ...always,
    ],
  },
  {
    files: ['catalog/**/*.ts'],
    ignores: ['catalog/generate.ts'],
    patterns: [
      above('catalog/', 'analytics', 'bot', 'workflows', 'coupons', 'streams', 'activities'),
      ...always,
    ],
  },
  {
    files: ['bot/**/*.ts'],
    patterns: [above('bot/', 'analytics', 'workflows', 'coupons', 'streams', 'activities'), ...always],
  },
  {
    files: ['workflows/**/*.ts'],
    paths: [
      ...nodeBuiltinPaths,
      { name: 'nats', message: 'workflows must not do I/O: call an activity' },
      { name: '@clickhouse/client', message: 'workflows must not do I/O: call an activity' },
      { name: 'ml-matrix', message: 'keep maths in activities or processors, not in workflow code' },
    ],
    patterns: [
      forbid(
        'workflows import schemas/ and workflow code only',
        under('infra', 'analytics', 'catalog', 'bot', 'coupons', 'streams'),
        'workflows must be deterministic: no platform, data or stream code',
      ),
      activities('workflows/'),
      activityContract,
      ...always,
    ],
  },
  {
    files: ['coupons/**/*.ts'],
    patterns: [above('coupons/', 'streams'), activities('coupons/'), activityContract, ...always],
  },
  { files: ['streams/**/*.ts'], patterns: [activities('streams/'), activityContract, ...always] },
  {
    files: ['activities/**/*.ts'],
    patterns: [
      forbid(
        'streams/ is a sibling',
        under('streams'),
        'activities/ must not import streams/: move what both need down',
      ),
      ...always,
    ],
  },
  { files: ['cli/**/*.ts'], patterns: [tests] },
  {
    files: [
      'demo/**/*.ts',
      'bench/**/*.ts',
      'chaos/**/*.ts',
      'examples/**/*.ts',
      'infra/stack/**/*.ts',
      'catalog/generate.ts',
    ],
    patterns: [entryPoints, tests],
  },
].map(({ files, ignores, paths, patterns }) => ({
  files,
  ...(ignores ? { ignores } : {}),
  rules: { 'no-restricted-imports': ['error', { ...(paths ? { paths } : {}), patterns }] },
}));

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
      // the chat widget: a browser script served as is (no build, no TypeScript)
      'streams/channels/widget/',
      // the dashboard's page script: the same, drawn with Apache ECharts
      'streams/dashboard/dashboard.js',
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
  ...layerRules,
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
          patterns: [
            'streams',
            'workflows',
            'activities',
            'cli',
            'demo',
            'bench',
            'chaos',
            'test',
            'catalog',
            'bot',
          ].map((dir) => ({
            group: [`**/${dir}`, `**/${dir}/**`],
            message: 'analytics/ imports schemas/ and infra/ only',
          })),
        },
      ],
    },
  },
  prettier,
);
