// The one-way import rule (eslint.config.mjs): a wrong-way import fails lint, a right-way one passes.
// Runs ESLint's Node API with the project's own config on one short text per case. The file paths are
// real files, so each text is linted as if it were in that folder. ESLint loads its ESM config with a
// dynamic import, which jest's module system refuses: the cases run in one child `node` process.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

const root = path.resolve(__dirname, '../..');

interface Case {
  file: string;
  code: string;
}

/** Only the import rule, parsed without types (the type-aware rules would build a TypeScript program). */
const LINT = `
const { ESLint } = require('eslint');
const path = require('node:path');
const cases = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
const eslint = new ESLint({
  cwd: process.cwd(),
  ruleFilter: ({ ruleId }) => ruleId === 'no-restricted-imports',
  overrideConfig: { languageOptions: { parserOptions: { projectService: false, project: null } } },
});
(async () => {
  const out = [];
  for (const c of cases) {
    const [r] = await eslint.lintText(c.code, { filePath: path.join(process.cwd(), c.file) });
    out.push(r.messages.map((m) => (m.ruleId ?? 'fatal') + ': ' + m.message));
  }
  process.stdout.write(JSON.stringify(out));
})().catch((err) => { console.error(err); process.exit(1); });
`;

/** The lint messages of each case, in order. */
function lintAll(cases: Case[]): string[][] {
  const out = execFileSync(process.execPath, ['-e', LINT], { cwd: root, input: JSON.stringify(cases) });
  return JSON.parse(out.toString('utf8')) as string[][];
}

const wrongWay: [file: string, code: string, expected: string][] = [
  [
    'schemas/ids.ts',
    "import { names } from '../streams/topology';\nexport const n = names;\n",
    'schemas/ must not import a higher layer',
  ],
  [
    'infra/logger.ts',
    "import { couponCode } from '../coupons/coupon-ledger';\nexport const c = couponCode;\n",
    'infra/ must not import a higher layer',
  ],
  [
    'streams/topology.ts',
    "import { createActivities } from '../activities';\nexport const a = createActivities;\n",
    'streams/ must not import activities/',
  ],
  [
    'streams/dlq.ts',
    "import { maskCode } from '../activities/channels/factory';\nexport const m = maskCode;\n",
    'streams/ must not import activities/',
  ],
  [
    'activities/index.ts',
    "import { names } from '../streams/topology';\nexport const n = names;\n",
    'activities/ must not import streams/',
  ],
  [
    'workflows/dsl.ts',
    "import { connect } from 'nats';\nexport const c = connect;\n",
    'workflows must not do I/O',
  ],
  [
    'workflows/dsl.ts',
    "import { names } from '../streams/topology';\nexport const n = names;\n",
    'workflows must be deterministic',
  ],
  [
    'workflows/holdout.ts',
    "import { INVALID_FLOW_EVENT } from '../activities/types';\nexport const x = INVALID_FLOW_EVENT;\n",
    'as types only',
  ],
  [
    'streams/topology.ts',
    "import { startTestNats } from '../test/helpers/events';\nexport const s = startTestNats;\n",
    'nothing imports the tests',
  ],
  [
    'streams/dlq.ts',
    "import { mulberry32 } from '../demo/random';\nexport const r = mulberry32;\n",
    'product code never imports dev tooling',
  ],
  [
    'infra/config.ts',
    "import { findTools } from './stack/tools';\nexport const f = findTools;\n",
    'product code never imports dev tooling',
  ],
  [
    'bench/rules.ts',
    "import { main } from '../cli/main';\nexport const m = main;\n",
    'nothing imports the entry points',
  ],
];

const rightWay: [file: string, code: string][] = [
  [
    'streams/topology.ts',
    "import type { FlowEvent } from '../activities/types';\nexport type F = FlowEvent;\n",
  ],
  [
    'workflows/dsl.ts',
    "import type { Activities } from '../activities/types';\nimport { TIERS } from '../schemas/tiers';\nexport type A = Activities;\nexport const t = TIERS;\n",
  ],
  [
    'activities/index.ts',
    "import { couponCode } from '../coupons/coupon-ledger';\nimport { connectNats } from '../infra/nats';\nexport const x = [couponCode, connectNats];\n",
  ],
  [
    'streams/dlq.ts',
    "import { kvKeyPart } from '../schemas/kv-keys';\nimport { isNotFound } from '../infra/nats';\nexport const x = [kvKeyPart, isNotFound];\n",
  ],
  ['cli/main.ts', "import { planSimulation } from '../demo/simulator';\nexport const p = planSimulation;\n"],
  [
    'bench/rules.ts',
    "import { startTestNats } from '../infra/stack/test-nats';\nexport const s = startTestNats;\n",
  ],
];

describe('imports run one way', () => {
  let wrong: string[][];
  let right: string[][];
  beforeAll(() => {
    const results = lintAll([...wrongWay, ...rightWay].map(([file, code]) => ({ file, code })));
    wrong = results.slice(0, wrongWay.length);
    right = results.slice(wrongWay.length);
  });

  /** The case's file, its first line (the import) and its index. */
  const label = <T extends readonly [string, string, ...unknown[]]>(c: T, i: number) =>
    [c[0], c[1].split('\n')[0]!, ...c.slice(2), i] as const;

  it.each(wrongWay.map((c, i) => label(c, i)))('%s: %s is a lint error', (_file, _import, expected, i) => {
    expect(wrong[i as number]).toEqual([expect.stringContaining(expected as string)]);
    expect(wrong[i as number]![0]).toMatch(/^no-restricted-imports: /);
  });

  it.each(rightWay.map((c, i) => label(c, i)))('%s: %s passes', (_file, _import, i) => {
    expect(right[i as number]).toEqual([]);
  });
});
