import { describeVariables, type Config } from '../../infra/config';

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

/** A secret as '***'; a URL with its user and password hidden (relay URLs may carry credentials). */
export function redact(variable: string, value: string): string {
  if (/PASSWORD|TOKEN|KEYS|SECRET|CREDS/.test(variable)) return '***';
  try {
    const url = new URL(value);
    if (url.username || url.password) {
      url.username = url.username ? '***' : '';
      url.password = url.password ? '***' : '';
      return url.toString();
    }
  } catch {
    // not a URL
  }
  return value;
}
