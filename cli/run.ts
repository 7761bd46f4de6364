// Runs one command: loads config (validated), imports the command lazily, turns known errors into a
// one-line message and exit code 1, and never leaves a rejection unhandled.
import { ConfigError, loadConfig, type Config } from '../infra/config';
import { ensureLocalEnv, loadEnvFiles } from '../infra/stack/local-env';
import { roleCredentials, type Role } from '../streams/permissions';

type Handler = (config: Config, opts: Record<string, unknown>) => Promise<number | void>;

// Lazy: a command pays only for the modules it uses.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const load = <T>(path: string): T => require(path) as T;

const commands: Record<string, () => Handler> = {
  'stack-install': () => load<typeof import('./commands/stack')>('./commands/stack').install,
  'stack-up': () => load<typeof import('./commands/stack')>('./commands/stack').up,
  'stack-down': () => load<typeof import('./commands/stack')>('./commands/stack').down,
  'stack-status': () => load<typeof import('./commands/stack')>('./commands/stack').status,
  'topology-apply': () => load<typeof import('./commands/topology')>('./commands/topology').apply,
  'topology-check': () => load<typeof import('./commands/topology')>('./commands/topology').check,
  migrate: () => load<typeof import('./commands/migrate')>('./commands/migrate').migrateCommand,
  config: () => load<typeof import('./commands/config')>('./commands/config').showConfig,
  serve: () => load<typeof import('./commands/serve')>('./commands/serve').serve,
  worker: () => load<typeof import('./commands/worker')>('./commands/worker').worker,
  'dlq-list': () => load<typeof import('./commands/dlq')>('./commands/dlq').list,
  'dlq-export': () => load<typeof import('./commands/dlq')>('./commands/dlq').exportCommand,
  'dlq-replay': () => load<typeof import('./commands/dlq')>('./commands/dlq').replay,
  simulate: () => load<typeof import('./commands/simulate')>('./commands/simulate').simulate,
  demo: () => load<typeof import('./commands/demo')>('./commands/demo').demo,
  report: () => load<typeof import('./commands/report')>('./commands/report').report,
  query: () => load<typeof import('./commands/report')>('./commands/report').query,
  profile: () => load<typeof import('./commands/profile')>('./commands/profile').profile,
  rules: () => load<typeof import('./commands/rules')>('./commands/rules').rules,
  'nlu-train': () => load<typeof import('./commands/bot')>('./commands/bot').nluTrain,
  'nlu-classify': () => load<typeof import('./commands/bot')>('./commands/bot').nluClassify,
  'nlu-eval': () => load<typeof import('./commands/bot')>('./commands/bot').nluEval,
  'kb-check': () => load<typeof import('./commands/bot')>('./commands/bot').kbCheck,
  'kb-search': () => load<typeof import('./commands/bot')>('./commands/bot').kbSearch,
  'kb-gaps': () => load<typeof import('./commands/bot')>('./commands/bot').kbGaps,
  'model-backfill': () => load<typeof import('./commands/model')>('./commands/model').backfill,
  'nats-permissions': () => load<typeof import('./commands/nats')>('./commands/nats').permissions,
  'alerts-rules': () => load<typeof import('./commands/alerts')>('./commands/alerts').rules,
  'flows-list': () => load<typeof import('./commands/flows')>('./commands/flows').list,
  'flows-validate': () => load<typeof import('./commands/flows')>('./commands/flows').validate,
  'flows-simulate': () => load<typeof import('./commands/flows')>('./commands/flows').simulate,
};

const KNOWN = new Set([
  'ConfigError',
  'TopologyError',
  'NatsUnavailableError',
  'ClickHouseUnavailableError',
  'SinkStartupError',
  'StackError',
  'ToolsError',
  'RemoteSqlError',
  'EventValidationError',
  'PublishError',
  'UsageError',
  'KbError',
  'QueryParamsError',
  'ReadOnlySqlError',
]);

/**
 * The NATS role each command connects as on the local stack (streams/permissions.ts), with the role's
 * password from `<data dir>/local.env`; NATS_USER, NATS_TOKEN or NATS_CREDS_FILE set by the user win.
 * Only the command's own configuration gets it: the processes a command starts pick their own.
 */
const COMMAND_ROLES: Record<string, Role> = {
  'topology-apply': 'ops',
  'topology-check': 'ops',
  'dlq-list': 'ops',
  'dlq-export': 'ops',
  'dlq-replay': 'ops',
  demo: 'ops',
  serve: 'service',
  profile: 'service',
  rules: 'service',
  worker: 'worker',
  simulate: 'producer',
};

const LOCAL_STACK_COMMANDS = new Set(['stack-up', 'demo']);

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function runCommand(name: string, opts: Record<string, unknown> = {}): void {
  const main = async (): Promise<number> => {
    // the commands that start the local stack give it its secrets the first time
    if (LOCAL_STACK_COMMANDS.has(name)) ensureLocalEnv();
    loadEnvFiles();
    const role = COMMAND_ROLES[name];
    const config = loadConfig(role ? { ...process.env, ...roleCredentials(role, process.env) } : process.env);
    const handler = commands[name]!();
    return (await handler(config, opts)) ?? 0;
  };
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      const e = err as Error;
      if (err instanceof ConfigError || KNOWN.has(e?.name)) console.error(`shopstream: ${e.message}`);
      else console.error(e);
      process.exitCode = 1;
    },
  );
}
