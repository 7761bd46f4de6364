// The shopstream CLI: wires commands to modules; each command loads only what it needs.
import { Command, Option } from 'commander';
import { runCommand } from './run';

// A promise nobody awaited that fails is a bug: say so loudly and stop, rather than go on half-broken.
process.on('unhandledRejection', (reason) => {
  console.error('shopstream: unhandled rejection (a bug, please report it):', reason);
  process.exit(70);
});

const program = new Command('shopstream')
  .description('shopstream: real-time engagement pipeline for e-commerce')
  .showHelpAfterError();

const stack = program.command('stack').description('the local NATS + Temporal stack (make up / make down)');
stack
  .command('install')
  .description('install nats-server, temporal and the test server into .tools/')
  .action(() => runCommand('stack-install'));
stack
  .command('up')
  .description('install what is missing, start NATS and Temporal, wait until they answer')
  .action(() => runCommand('stack-up'));
stack
  .command('down')
  .description('stop exactly the processes `stack up` started')
  .action(() => runCommand('stack-down'));
stack
  .command('status')
  .description('what is running')
  .action(() => runCommand('stack-status'));

const topology = program.command('topology').description('NATS streams and consumers');
topology
  .command('apply')
  .description('create or update streams and consumers (idempotent)')
  .action(() => runCommand('topology-apply'));
topology
  .command('check')
  .description('fail unless every stream and consumer exists')
  .action(() => runCommand('topology-check'));

program
  .command('migrate')
  .description('apply ClickHouse migrations (idempotent)')
  .action(() => runCommand('migrate'));
program
  .command('config')
  .description('list every configuration variable, its default and current value')
  .option('--example', 'print in .env format (this is how .env.example is made)')
  .action((opts: { example?: boolean }) => runCommand('config', opts));

program
  .command('serve')
  .description('run the pipeline service: ClickHouse sink, HTTP collector, admin endpoint')
  .option('--no-sink', 'do not run the ClickHouse sink')
  .option('--no-collector', 'do not run the HTTP collector')
  .option('--no-bot', 'do not run the customer-service bot')
  .option(
    '--only <parts>',
    'run only these parts, comma-separated: sink, interest, recommend, triggers, orders, bot, collector (docs/scaling.md)',
  )
  .option('--topology <mode>', 'apply | check', 'apply')
  .option('--detach', 'run in the background (pid file under .data/run; make down stops it)')
  .action(
    (opts: {
      sink: boolean;
      collector: boolean;
      bot: boolean;
      only?: string;
      topology: string;
      detach?: boolean;
    }) => runCommand('serve', opts),
  );

program
  .command('worker')
  .description(
    'run the Temporal worker of the flows (KV coupon ledger and slots, channels from CHANNEL_*, agent desk); SIGTERM drains it',
  )
  .addOption(
    new Option(
      '--queues <which>',
      'task queues to poll: all, flows (TEMPORAL_TASK_QUEUE) or chat (TEMPORAL_CHAT_TASK_QUEUE); a chat worker of its own keeps escalations clear of marketing load',
    )
      .choices(['all', 'flows', 'chat'])
      .default('all'),
  )
  .action((opts: { queues: string }) => runCommand('worker', opts));

const dlq = program
  .command('dlq')
  .description('dead letters: events kept with a reason instead of being lost');
dlq
  .command('list')
  .description('counts by reason, and samples')
  .option('--reason <reason>', 'only this reason')
  .option('--samples <n>', 'samples to show per reason', '3')
  .option('--json', 'machine-readable output')
  .action((opts: { reason?: string; samples: string; json?: boolean }) => runCommand('dlq-list', opts));
dlq
  .command('export')
  .description('write dead letters as JSON lines, to fix by hand and replay with --file')
  .option('--reason <reason>', 'only this reason')
  .requiredOption('--out <file>', 'output file (JSON lines)')
  .action((opts: { reason?: string; out: string }) => runCommand('dlq-export', opts));
dlq
  .command('replay')
  .description(
    're-publish dead letters that now pass (or fixed ones from --file); each republished one is removed',
  )
  .option('--reason <reason>', 'only this reason')
  .option('--file <file>', 'JSON lines from `dlq export`, with the events fixed')
  .option('--dry-run', 'say what would happen, change nothing')
  .action((opts: { reason?: string; file?: string; dryRun?: boolean }) => runCommand('dlq-replay', opts));

program
  .command('simulate')
  .description('simulated shop traffic through the producer SDK')
  .option('--users <n>', 'simulated users', '3000')
  .option('--seed <n>', 'random seed', '42')
  .option('--garbage <n>', 'also publish this many undecodable messages (to show the dead-letter path)', '0')
  .action((opts: { users: string; seed: string; garbage: string }) => runCommand('simulate', opts));

program
  .command('demo')
  .description('the whole pipeline on simulated traffic, then a report from ClickHouse')
  .option('--users <n>', 'simulated users', '4000')
  .option('--seed <n>', 'random seed', '42')
  .action((opts: { users: string; seed: string }) => runCommand('demo', opts));

program
  .command('profile <userId>')
  .description("a shopper's interests (short and long term), tags, tier and recommendations with reasons")
  .option('--shop <shopId>', 'shop id', 'demo-shop')
  .option('--anonymous', 'the id is an anonymous_id, not a user_id')
  .option('-k <n>', 'recommendations to show', '10')
  .action((userId: string, opts: { shop: string; anonymous?: boolean; k: string }) =>
    runCommand('profile', { userId, ...opts }),
  );

program
  .command('rules')
  .description(
    'mine association rules from the orders in ClickHouse now (the service also does it on a schedule)',
  )
  .action(() => runCommand('rules'));

program
  .command('report [name]')
  .description(
    'a report from ClickHouse: overview (default: events by type, funnel, orders, escalations), funnel, recovery, coupons, service, recommendations',
  )
  .option('--from <time>', 'start of the range: 2026-11-24, 2026-11-24T12:00Z, or 7d / 12h ago', '7d')
  .option('--to <time>', 'end of the range (exclusive)', 'now')
  .option('--window <duration>', 'conversion window (funnel, default 24h) or recovery window (default 7d)')
  .option('--format <format>', 'table, csv or json (JSON Lines); default: table on a terminal, else json')
  .action((name: string | undefined, opts: Record<string, unknown>) =>
    runCommand('report', { name, ...opts }),
  );
program
  .command('query <sql>')
  .description(
    'read-only SQL against ClickHouse (through the running service when it owns the embedded database)',
  )
  .option('--param <name=value...>', 'query parameters ({name:Type} in the SQL)')
  .option('--format <format>', 'table, csv or json (JSON Lines); default: table on a terminal, else json')
  .action((sql: string, opts: { param?: string[]; format?: string }) =>
    runCommand('query', { sql, ...opts }),
  );

program
  .command('model')
  .description("the analysts' ClickHouse model (analytics/README.md)")
  .command('backfill')
  .description(
    'rebuild it from events alone: migrations, the catalog, the hourly rollup (stop the service first on the embedded database)',
  )
  .action(() => runCommand('model-backfill'));

program
  .command('nats')
  .description('NATS security')
  .command('permissions')
  .description(
    'nats-server configuration with a user per role (producer, service, worker, analyst, ops); passwords from NATS_ROLE_PASSWORD_<ROLE>',
  )
  .action(() => runCommand('nats-permissions'));

program
  .command('alerts')
  .description("the service's alert rules (streams/dashboard/alerts.ts)")
  .command('rules')
  .description('the rules as a Prometheus alerting-rules file (infra/prometheus/shopstream-alerts.yml)')
  .action(() => runCommand('alerts-rules'));

const nluCmd = program
  .command('nlu')
  .description("the bot's intent model (trained from bot/nlu/data; no server needed)");
nluCmd
  .command('train')
  .description(
    'train the intent model now and cache it (BOT_NLU_CACHE); the service does it at start when the data changed',
  )
  .action(() => runCommand('nlu-train'));
nluCmd
  .command('classify [text]')
  .description(
    'intent, confidence and slots of a text, or of each JSON line {"text": ...} on stdin (one JSON line out per line in)',
  )
  .action((text?: string) => runCommand('nlu-classify', text === undefined ? {} : { text }));
nluCmd
  .command('eval')
  .description('accuracy and confusion matrix: 5-fold cross-validation, or a labelled JSON Lines file')
  .option('--file <path>', 'JSON Lines of {"text", "intent"}')
  .action((opts: { file?: string }) => runCommand('nlu-eval', opts));

const kbCmd = program.command('kb').description("the bot's knowledge base (bot/kb/entries, BOT_KB_DIR)");
kbCmd
  .command('check')
  .description('validate the entries; prints the count per intent and the version')
  .option('--dir <path>', 'another folder of entries')
  .action((opts: { dir?: string }) => runCommand('kb-check', opts));
kbCmd
  .command('search <text>')
  .description('the best entries for a question (* = confident enough to answer)')
  .option('--lang <zh|en>', 'the answer language (default: from the text)')
  .action((text: string, opts: { lang?: string }) => runCommand('kb-search', { text, ...opts }));
kbCmd
  .command('gaps')
  .description('questions the bot could not answer, grouped by similarity, with draft entries (ClickHouse)')
  .option('--days <n>', 'how far back', '7')
  .action((opts: { days: string }) => runCommand('kb-gaps', opts));

const flowsCmd = program
  .command('flows')
  .description('marketing flows as code: list, validate, simulate on the time-skipping test server');
flowsCmd
  .command('list')
  .description('the shipped flows: trigger, steps, exits, audience, quiet hours, cap')
  .action(() => runCommand('flows-list'));
flowsCmd
  .command('validate')
  .description('validate the shipped flows (and a flow module file); exit code 1 on any error')
  .option('--file <file>', 'a .ts/.js/.json module that default-exports (or exports) a flow')
  .action((opts: { file?: string }) => runCommand('flows-validate', opts));
flowsCmd
  .command('simulate <flow>')
  .description(
    "run a flow on Temporal's time-skipping test server against a scripted customer; print the timeline",
  )
  .option(
    '--script <name>',
    'cart flows: abandon (default) | buys-after-first-reminder | night-owl | empties-cart | opts-out | comes-back | held-out | busy-day; tier flows: ignores (default) | redeems | night-owl | opts-out | held-out',
  )
  .option('--tier <tier>', "new | repeat | high_value (default: repeat, or the tier flow's first tier)")
  .option('--time-zone <tz>', "the user's time zone: UTC, +08:00 or an IANA name", 'UTC')
  .action((flow: string, opts: { script?: string; tier?: string; timeZone: string }) =>
    runCommand('flows-simulate', { flow, ...opts }),
  );

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
