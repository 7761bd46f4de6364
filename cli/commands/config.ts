import { describeVariables, redact, type Config } from '../../infra/config';

export { redact };

export function showConfig(_config: Config, opts: Record<string, unknown>): Promise<void> {
  let section = '';
  if (opts['example']) {
    console.log(
      '# Every shopstream variable with its local default (generated: npx shopstream config --example).',
    );
    console.log('# Copy to .env (make reads it) or export them; empty values mean the default.');
  }
  for (const v of describeVariables()) {
    if (v.section !== section) {
      section = v.section;
      console.log(opts['example'] ? `\n# [${section}]` : `[${section}]`);
    }
    if (opts['example']) {
      console.log(`${v.variable}=${v.default}`);
      continue;
    }
    const current = process.env[v.variable];
    const shown = current ? redact(v.variable, current) : current;
    console.log(
      `  ${v.variable.padEnd(28)} default ${JSON.stringify(v.default)}${current !== undefined ? `  (set: ${shown})` : ''}`,
    );
  }
  return Promise.resolve();
}
