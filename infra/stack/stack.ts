// The local stack: NATS with JetStream and the Temporal dev server as detached processes, with logs in
// <dataDir>/logs and pid files in <dataDir>/run, so `stack down` stops exactly what `stack up` started.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import type { Config } from '../config';
import {
  canConnect,
  isAlive,
  isPortFree,
  processCommandLine,
  readPidFile,
  removePidFile,
  spawnDetached,
  StackError,
  stopPid,
  tailFile,
  waitFor,
  writePidFile,
  type StopResult,
} from './processes';
import { ensureTools, type Tools } from './tools';
import { natsAuthConfig, rolePasswordVariable, ROLES, type Role } from '../../streams/permissions';

const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 60_000;
/** NATS flushes JetStream on SIGTERM (it fsyncs only every 2 minutes otherwise), so give it time. */
const STOP_TIMEOUT_MS = 15_000;

export type StackComponent = 'nats' | 'temporal';
export type ComponentName = StackComponent | 'service' | 'worker' | 'chat-worker';

/** The `--queues` a `shopstream worker` process was started with ('all' without the option). */
export function workerQueues(argv: string[]): string | undefined {
  if (!argv.some((a) => /shopstream/.test(a)) || !argv.includes('worker')) return undefined;
  const i = argv.indexOf('--queues');
  return i >= 0 ? (argv[i + 1] ?? 'all') : 'all';
}

type Log = (line: string) => void;

export interface ComponentStatus {
  name: ComponentName;
  state: 'running' | 'not-responding' | 'stopped';
  pid?: number;
  address: string;
  /** NATS monitoring or Temporal Web UI. */
  http?: string;
  logFile?: string;
  note?: string;
}

export function stackPaths(cfg: Config['stack']) {
  const dataDir = path.resolve(cfg.dataDir);
  return {
    dataDir,
    natsStore: path.join(dataDir, 'nats'),
    natsAuth: path.join(dataDir, 'nats-auth.conf'),
    temporalDb: path.join(dataDir, 'temporal', 'temporal.db'),
    pidFile: (name: ComponentName) => path.join(dataDir, 'run', `${name}.pid`),
    logFile: (name: ComponentName) => path.join(dataDir, 'logs', `${name}.log`),
  };
}

/**
 * Writes the local NATS's users, one per role (streams/permissions.ts), as nats-server configuration
 * (mode 0600) from the role passwords `make up` keeps in `<data dir>/local.env`. Without them (an
 * environment of one's own) nothing is written and NATS runs without authentication.
 */
export function writeLocalNatsAuth(
  config: Config,
  env: NodeJS.ProcessEnv = process.env,
): { file: string; changed: boolean } | undefined {
  const passwords: Partial<Record<Role, string>> = {};
  for (const role of ROLES) passwords[role] = env[rolePasswordVariable(role)];
  if (ROLES.some((role) => !passwords[role])) return undefined;
  const file = stackPaths(config.stack).natsAuth;
  const text = natsAuthConfig(config.nats.prefix, passwords as Record<Role, string>);
  let before: string | undefined;
  try {
    before = fs.readFileSync(file, 'utf8');
  } catch {
    before = undefined;
  }
  if (before === text) return { file, changed: false };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  return { file, changed: true };
}

/** Waits for ready(), failing early if the process dies; errors end with the tail of its log. */
async function waitUntilReady(
  pid: number,
  logFile: string,
  what: string,
  ready: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  try {
    await waitFor(
      async () => {
        if (!isAlive(pid))
          throw new StackError('PROCESS_EXITED', `process ${pid} exited while starting ${what}`);
        return ready();
      },
      { timeoutMs, what },
    );
  } catch (err) {
    if (!(err instanceof StackError)) throw err;
    const tail = tailFile(logFile);
    throw new StackError(err.code, `${err.message}. Last lines of ${logFile}:\n${tail || '(empty)'}`, {
      cause: err,
    });
  }
}

async function natsHealthy(monitorUrl: string): Promise<boolean> {
  try {
    const res = await fetch(`${monitorUrl}/healthz?js-enabled-only=true`, {
      signal: AbortSignal.timeout(2000),
    });
    await res.text();
    return res.ok;
  } catch {
    return false;
  }
}

const PortsFile = z.object({ nats: z.array(z.string()).min(1), monitoring: z.array(z.string()).min(1) });

/** The ports nats-server picked for -1, from <dir>/<exe>_<pid>.ports (written once it listens). */
function readPortsFile(dir: string, pid: number): { url: string; monitorUrl: string } | undefined {
  try {
    const name = fs.readdirSync(dir).find((f) => f.endsWith(`_${pid}.ports`));
    if (!name) return undefined;
    const parsed = PortsFile.safeParse(JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')));
    return parsed.success ? { url: parsed.data.nats[0]!, monitorUrl: parsed.data.monitoring[0]! } : undefined;
  } catch {
    return undefined; // not written yet, or half written
  }
}

export interface NatsServerOptions {
  binary: string;
  /** Client port; 0 lets nats-server pick a free one. */
  port: number;
  /** HTTP monitoring port, used for the readiness check; 0 or absent lets nats-server pick one. */
  monitorPort?: number;
  host?: string;
  storeDir: string;
  /** Defaults to <storeDir>/nats-server.log. */
  logFile?: string;
  /** Written right after spawn and removed by stop(). */
  pidFile?: string;
  serverName?: string;
  timeoutMs?: number;
  /** A nats-server configuration file (`-c`): what the flags do not say, e.g. accounts, sync_interval. */
  configFile?: string;
}

export interface ServerHandle {
  pid: number;
  logFile: string;
  /** SIGTERM (SIGKILL after 15s); resolves once the process is gone. */
  stop(): Promise<void>;
}
export interface NatsServerHandle extends ServerHandle {
  url: string;
  monitorUrl: string;
}

/** Starts nats-server with JetStream and resolves once /healthz?js-enabled-only=true answers ok. */
export async function startNatsServer(opts: NatsServerOptions): Promise<NatsServerHandle> {
  const host = opts.host ?? HOST;
  const logFile = opts.logFile ?? path.join(opts.storeDir, 'nats-server.log');
  const pickPorts = !opts.port || !opts.monitorPort;
  fs.mkdirSync(opts.storeDir, { recursive: true });
  const args = [
    '-js',
    '-a',
    host,
    '-p',
    String(opts.port || -1),
    '-m',
    String(opts.monitorPort || -1),
    '-sd',
    opts.storeDir,
  ];
  args.push('-n', opts.serverName ?? 'shopstream-local');
  if (opts.configFile) args.push('-c', opts.configFile);
  if (pickPorts) args.push('--ports_file_dir', opts.storeDir);

  const handle = spawnTracked(opts.binary, args, { logFile, pidFile: opts.pidFile });
  let url = `nats://${host}:${opts.port}`;
  let monitorUrl = `http://${host}:${opts.monitorPort}`;
  try {
    await waitUntilReady(
      handle.pid,
      logFile,
      pickPorts ? 'NATS JetStream' : `NATS JetStream on ${host}:${opts.port}`,
      async () => {
        const ports = pickPorts ? readPortsFile(opts.storeDir, handle.pid) : undefined;
        if (pickPorts && !ports) return false;
        if (ports) ({ url, monitorUrl } = ports);
        return natsHealthy(monitorUrl);
      },
      opts.timeoutMs ?? START_TIMEOUT_MS,
    );
  } catch (err) {
    await handle.stop();
    throw err;
  }
  return { ...handle, url, monitorUrl };
}

export interface TemporalServerOptions {
  binary: string;
  port: number;
  uiPort: number;
  host?: string;
  dbFile: string;
  logFile: string;
  pidFile?: string;
  /** Created at start; "default" always exists. */
  namespaces?: string[];
  timeoutMs?: number;
}
export interface TemporalServerHandle extends ServerHandle {
  address: string;
  uiUrl: string;
}

/** The environment without TEMPORAL_* variables, so the CLI uses exactly the flags we pass. */
function temporalEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_')));
}

function temporalHealthy(binary: string, address: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(
      binary,
      ['operator', 'cluster', 'health', '--address', address],
      { timeout: 5000, env: temporalEnv() },
      (err, stdout) => resolve(!err && stdout.includes('SERVING')),
    );
  });
}

/** Starts `temporal server start-dev` and resolves once `temporal operator cluster health` says SERVING. */
export async function startTemporalDevServer(opts: TemporalServerOptions): Promise<TemporalServerHandle> {
  const host = opts.host ?? HOST;
  const address = `${host}:${opts.port}`;
  fs.mkdirSync(path.dirname(opts.dbFile), { recursive: true });
  const args = [
    'server',
    'start-dev',
    '--ip',
    host,
    '--port',
    String(opts.port),
    '--ui-port',
    String(opts.uiPort),
  ];
  // WAL with synchronous=NORMAL: what SQLite recommends for a write-heavy store; a crash of the
  // process loses nothing (a power cut may lose the last transactions), and it is several times
  // faster than the default rollback journal with a full fsync per transaction
  args.push('--db-filename', opts.dbFile, '--log-level', 'warn');
  args.push('--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=normal');
  for (const ns of (opts.namespaces ?? []).filter((n) => n !== 'default')) args.push('--namespace', ns);

  const handle = spawnTracked(opts.binary, args, {
    logFile: opts.logFile,
    pidFile: opts.pidFile,
    env: temporalEnv(),
  });
  try {
    const ready = async () =>
      (await canConnect(host, opts.port)) && (await temporalHealthy(opts.binary, address));
    await waitUntilReady(
      handle.pid,
      opts.logFile,
      `Temporal on ${address}`,
      ready,
      opts.timeoutMs ?? START_TIMEOUT_MS,
    );
  } catch (err) {
    await handle.stop();
    throw err;
  }
  return { ...handle, address, uiUrl: `http://${host}:${opts.uiPort}` };
}

function spawnTracked(
  binary: string,
  args: string[],
  o: { logFile: string; pidFile?: string; env?: NodeJS.ProcessEnv },
): ServerHandle {
  const pid = spawnDetached(binary, args, { logFile: o.logFile, env: o.env });
  if (o.pidFile) writePidFile(o.pidFile, pid);
  return {
    pid,
    logFile: o.logFile,
    stop: async () => {
      await stopPid(pid, { timeoutMs: STOP_TIMEOUT_MS });
      if (o.pidFile) removePidFile(o.pidFile);
    },
  };
}

interface PortSpec {
  port: number;
  variable: string;
  role: string;
}

interface ComponentSpec {
  name: ComponentName;
  ports: PortSpec[];
  address: string;
  http?: string;
  /** Whether a process's argv is the one we started (guards against recycled pids). */
  owns: (argv: string[]) => boolean;
  responding: () => Promise<boolean>;
  start: (tools: Tools, timeoutMs: number) => Promise<ServerHandle>;
}

function components(config: Config): ComponentSpec[] {
  const { stack } = config;
  const paths = stackPaths(stack);
  const exe = (argv: string[]) => path.basename(argv[0] ?? '');
  return [
    {
      name: 'nats',
      ports: [
        { port: stack.natsPort, variable: 'STACK_NATS_PORT', role: 'NATS client port' },
        { port: stack.natsMonitorPort, variable: 'STACK_NATS_MONITOR_PORT', role: 'NATS monitoring port' },
      ],
      address: `nats://${HOST}:${stack.natsPort}`,
      http: `http://${HOST}:${stack.natsMonitorPort}`,
      owns: (argv) => exe(argv) === 'nats-server' && argv.includes(paths.natsStore),
      responding: () => natsHealthy(`http://${HOST}:${stack.natsMonitorPort}`),
      start: (tools, timeoutMs) =>
        startNatsServer({
          binary: tools.natsServer,
          port: stack.natsPort,
          monitorPort: stack.natsMonitorPort,
          storeDir: paths.natsStore,
          logFile: paths.logFile('nats'),
          pidFile: paths.pidFile('nats'),
          timeoutMs,
          ...(fs.existsSync(paths.natsAuth) ? { configFile: paths.natsAuth } : {}),
        }),
    },
    {
      name: 'temporal',
      ports: [
        { port: stack.temporalPort, variable: 'STACK_TEMPORAL_PORT', role: 'Temporal gRPC port' },
        { port: stack.temporalUiPort, variable: 'STACK_TEMPORAL_UI_PORT', role: 'Temporal Web UI port' },
      ],
      address: `${HOST}:${stack.temporalPort}`,
      http: `http://${HOST}:${stack.temporalUiPort}`,
      owns: (argv) =>
        exe(argv) === 'temporal' && argv.includes('start-dev') && argv.includes(paths.temporalDb),
      responding: () => canConnect(HOST, stack.temporalPort),
      start: (tools, timeoutMs) =>
        startTemporalDevServer({
          binary: tools.temporal,
          port: stack.temporalPort,
          uiPort: stack.temporalUiPort,
          dbFile: paths.temporalDb,
          logFile: paths.logFile('temporal'),
          pidFile: paths.pidFile('temporal'),
          namespaces: [config.temporal.namespace],
          timeoutMs,
        }),
    },
    {
      // Started by `shopstream serve`, which writes the pid file; we only report and stop it.
      name: 'service',
      ports: [],
      address: `http://${config.admin.host}:${config.admin.port}`,
      owns: (argv) => /shopstream|serve/.test(argv.join(' ')),
      responding: () => canConnect(config.admin.host, config.admin.port),
      start: () => Promise.reject(new Error('the pipeline service is started with `shopstream serve`')),
    },
    {
      // The flow worker, started in the background by the demo (infra/stack/worker.ts), which writes
      // the pid file; we only report and stop it.
      name: 'worker',
      ports: [],
      address: `${config.temporal.address} task queue ${config.temporal.taskQueue}`,
      owns: (argv) => (workerQueues(argv) ?? 'chat') !== 'chat',
      responding: () => Promise.resolve(true),
      start: () => Promise.reject(new Error('the flow worker is started with `shopstream worker`')),
    },
    {
      // The chat escalations' worker, a process of its own (`shopstream worker --queues chat`), so the
      // marketing flows' load never delays an escalation's deadlines; started by the demo like the other.
      name: 'chat-worker',
      ports: [],
      address: `${config.temporal.address} task queue ${config.temporal.chatTaskQueue}`,
      owns: (argv) => workerQueues(argv) === 'chat',
      responding: () => Promise.resolve(true),
      start: () =>
        Promise.reject(new Error('the chat worker is started with `shopstream worker --queues chat`')),
    },
  ];
}

type PidState =
  { kind: 'none' } | { kind: 'ours'; pid: number } | { kind: 'stale'; pid: number; why: string };

function pidState(spec: ComponentSpec, pidFile: string): PidState {
  const pid = readPidFile(pidFile);
  if (pid === undefined)
    return fs.existsSync(pidFile) ? { kind: 'stale', pid: 0, why: 'it holds no pid' } : { kind: 'none' };
  if (!isAlive(pid)) return { kind: 'stale', pid, why: `pid ${pid} is not running` };
  const argv = processCommandLine(pid);
  if (!argv || !spec.owns(argv))
    return { kind: 'stale', pid, why: `pid ${pid} is now another program (${argv?.join(' ') ?? 'unknown'})` };
  return { kind: 'ours', pid };
}

export interface StackUpOptions {
  /** Start only these components (default: nats and temporal). */
  only?: StackComponent[];
  timeoutMs?: number;
}

/** Starts what is not running yet; fails at once, before installing or starting anything, if a port is taken. */
export async function stackUp(
  config: Config,
  log: Log,
  opts: StackUpOptions = {},
): Promise<ComponentStatus[]> {
  const paths = stackPaths(config.stack);
  const timeoutMs = opts.timeoutMs ?? START_TIMEOUT_MS;
  const only: ComponentName[] = opts.only ?? ['nats', 'temporal'];
  const wanted = components(config).filter((c) => only.includes(c.name));

  const auth = only.includes('nats') ? writeLocalNatsAuth(config) : undefined;
  // no role passwords (an environment of one's own): NATS starts without authentication
  if (only.includes('nats') && !auth) fs.rmSync(paths.natsAuth, { force: true });
  const toStart: ComponentSpec[] = [];
  for (const spec of wanted) {
    const state = pidState(spec, paths.pidFile(spec.name));
    if (state.kind === 'ours') {
      const what = `${spec.name} (pid ${state.pid}, already started) to answer on ${spec.address}`;
      await waitUntilReady(state.pid, paths.logFile(spec.name), what, spec.responding, timeoutMs);
      if (spec.name !== 'nats' || !auth?.changed) {
        log(`${spec.name} already running (pid ${state.pid}) at ${spec.address}`);
        continue;
      }
      // new role users (new passwords, another prefix): nats-server cannot reload a configuration
      // given beside flags, so it restarts on the same store; clients reconnect on their own
      log(`nats (pid ${state.pid}) restarting to apply its role users (${auth.file})`);
      await stopPid(state.pid, { timeoutMs: STOP_TIMEOUT_MS });
      removePidFile(paths.pidFile(spec.name));
      toStart.push(spec);
      continue;
    }
    if (state.kind === 'stale') {
      removePidFile(paths.pidFile(spec.name));
      log(`removed stale ${spec.name} pid file (${state.why})`);
    }
    toStart.push(spec);
  }

  const taken: PortSpec[] = [];
  for (const p of toStart.flatMap((s) => s.ports)) if (!(await isPortFree(HOST, p.port))) taken.push(p);
  if (taken.length > 0) {
    const lines = taken.map(
      (p) =>
        `  port ${p.port} (${p.role}) is already in use by another process: stop it or set ${p.variable} to a free port`,
    );
    throw new StackError('PORT_IN_USE', `cannot start the local stack:\n${lines.join('\n')}`);
  }

  if (toStart.length > 0) {
    const tools = await ensureTools(config.stack, log);
    for (const spec of toStart) {
      log(`starting ${spec.name} on ${spec.address} (log: ${paths.logFile(spec.name)})`);
      const handle = await spec.start(tools, timeoutMs);
      log(`${spec.name} running (pid ${handle.pid}) at ${spec.address}${spec.http ? `, ${spec.http}` : ''}`);
    }
  }
  for (const hint of addressHints(config)) log(hint);
  const status = await stackStatus(config);
  return status.filter((s) => wanted.some((w) => w.name === s.name));
}

/** Notes when NATS_URL / TEMPORAL_ADDRESS do not point at the stack's ports. */
function addressHints(config: Config): string[] {
  const { natsPort, temporalPort } = config.stack;
  const hints: string[] = [];
  if (!config.nats.url.split(',').some((u) => u.trim().replace(/\/$/, '').endsWith(`:${natsPort}`))) {
    hints.push(
      `note: NATS_URL is ${config.nats.url} but the local NATS listens on ${HOST}:${natsPort}; set NATS_URL=nats://${HOST}:${natsPort}`,
    );
  }
  if (!config.temporal.address.endsWith(`:${temporalPort}`)) {
    hints.push(
      `note: TEMPORAL_ADDRESS is ${config.temporal.address} but the local Temporal listens on ${HOST}:${temporalPort}; set TEMPORAL_ADDRESS=${HOST}:${temporalPort}`,
    );
  }
  return hints;
}

export interface StoppedComponent {
  name: ComponentName;
  pid: number;
  result: StopResult;
}

/** Stops the service, Temporal and NATS processes named by our pid files (only if the pid is still theirs). */
export async function stackDown(config: Config, log: Log): Promise<StoppedComponent[]> {
  const paths = stackPaths(config.stack);
  const stopped: StoppedComponent[] = [];
  const order: ComponentName[] = ['service', 'worker', 'chat-worker', 'temporal', 'nats'];
  const specs = components(config).sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  for (const spec of specs) {
    const pidFile = paths.pidFile(spec.name);
    const state = pidState(spec, pidFile);
    if (state.kind === 'stale') log(`removed stale ${spec.name} pid file (${state.why}); nothing to stop`);
    if (state.kind !== 'ours') {
      removePidFile(pidFile);
      continue;
    }
    log(`stopping ${spec.name} (pid ${state.pid})`);
    const result = await stopPid(state.pid, { timeoutMs: STOP_TIMEOUT_MS });
    removePidFile(pidFile);
    stopped.push({ name: spec.name, pid: state.pid, result });
    log(
      `stopped ${spec.name} (pid ${state.pid}${result === 'killed' ? `, SIGKILL after ${STOP_TIMEOUT_MS / 1000}s` : ''})`,
    );
  }
  if (stopped.length === 0) log('nothing was running');
  return stopped;
}

/** Each component: running (our process, answering), not-responding (our process, silent) or stopped. */
export async function stackStatus(config: Config): Promise<ComponentStatus[]> {
  const paths = stackPaths(config.stack);
  return Promise.all(
    components(config).map(async (spec): Promise<ComponentStatus> => {
      const base = { name: spec.name, address: spec.address, ...(spec.http ? { http: spec.http } : {}) };
      const state = pidState(spec, paths.pidFile(spec.name));
      if (state.kind === 'ours') {
        const logFile = spec.name === 'service' ? undefined : paths.logFile(spec.name);
        return {
          ...base,
          state: (await spec.responding()) ? 'running' : 'not-responding',
          pid: state.pid,
          ...(logFile ? { logFile } : {}),
        };
      }
      const busy = spec.ports.length > 0 && (await spec.responding());
      return {
        ...base,
        state: 'stopped',
        ...(busy ? { note: `${spec.address} is answering, but not from a process this stack started` } : {}),
      };
    }),
  );
}
