// The whole pipeline as `make demo` runs it (stack, service, simulator, report), on free ports and a
// temporary data directory, with fewer users; and the producer example as the README shows it.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { getFreePort } from '../../infra/stack/processes';

const run = promisify(execFile);
const ROOT = path.join(__dirname, '../..');
const CLI = path.join(ROOT, 'cli/shopstream.cjs');

let dataDir: string;
let env: NodeJS.ProcessEnv;
/** The demo ran to its end, so its stack is up (the producer example needs it). */
let demoStackUp = false;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shopstream-demo-'));
  const ports: number[] = [];
  for (let i = 0; i < 7; i++) ports.push(await getFreePort());
  const [nats, monitor, temporal, ui, collector, admin, analyst] = ports as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  env = {
    ...process.env,
    SHOPSTREAM_DATA_DIR: dataDir,
    CLICKHOUSE_DATA_DIR: path.join(dataDir, 'clickhouse'),
    STACK_NATS_PORT: String(nats),
    STACK_NATS_MONITOR_PORT: String(monitor),
    STACK_TEMPORAL_PORT: String(temporal),
    STACK_TEMPORAL_UI_PORT: String(ui),
    NATS_URL: `nats://127.0.0.1:${nats}`,
    TEMPORAL_ADDRESS: `127.0.0.1:${temporal}`,
    COLLECTOR_PORT: String(collector),
    ADMIN_PORT: String(admin),
    ANALYST_PORT: String(analyst),
    LOG_LEVEL: 'warn',
  };
});

afterAll(async () => {
  await run(process.execPath, [CLI, 'stack', 'down'], { env }).catch(() => undefined);
  fs.rmSync(dataDir, { recursive: true, force: true });
});

// The demo's own waits (stack start, storing every event, the flows settling) add up to several
// minutes on a slow machine: the test allows 10, and a hung demo is killed before that.
it('demo: every event sent is stored once, and the report is printed', async () => {
  const { stdout } = await run(process.execPath, [CLI, 'demo', '--users', '400', '--seed', '7'], {
    env,
    maxBuffer: 16 << 20,
    timeout: 580_000,
  });
  demoStackUp = true;
  const lines = stdout.trim().split('\n');
  const sent = /^events sent: (\d+)$/.exec(lines.at(-2) ?? '');
  const stored = /^events stored: (\d+)$/.exec(lines.at(-1) ?? '');
  expect(sent && stored).toBeTruthy();
  expect(Number(sent![1])).toBeGreaterThan(3000);
  expect(stored![1]).toBe(sent![1]);
  expect(stdout).toMatch(/Conversion funnel/);
  expect(stdout).toMatch(/order_placed\s+\d+/);
  expect(stdout).toMatch(/decode_failed: 3/);
  // the flows ran: reminders, tier coupons issued (and some redeemed), uplift against the holdout
  expect(Number(/reminders sent\s+(\d+)/.exec(stdout)?.[1])).toBeGreaterThan(0);
  const tierCoupons = [...stdout.matchAll(/tier-coupons\s+(repeat|high_value)\s+(\d+)\s+[\d.]+\s+(\d+)/g)];
  expect(tierCoupons.reduce((n, m) => n + Number(m[2]), 0)).toBeGreaterThan(0);
  expect(tierCoupons.reduce((n, m) => n + Number(m[3]), 0)).toBeGreaterThan(0);
  expect(stdout).toMatch(/cart-recovery\s+treatment \d+\/\d+/);
  // escalations end with their SLA verdicts (escalation_ended): decided ones never exceed the flows run
  const flowsRun = Number(/escalation flows run\s+(\d+)/.exec(stdout)?.[1]);
  const decided = Number(
    /first response within SLA\s+\d+\s+(?:[\d.]+%|-)\s+of (\d+) decided/.exec(stdout)?.[1],
  );
  expect(decided).toBeLessThanOrEqual(flowsRun);
  if (flowsRun >= 3) expect(decided).toBeGreaterThan(0); // the events are stored and read
  // the bot answered the shoppers' chats, contained most, and handed some to the desk
  const botConversations = Number(/^ {2}conversations\s+(\d+)$/m.exec(stdout)?.[1]);
  const contained = Number(/contained \(no human\)\s+(\d+)/.exec(stdout)?.[1]);
  const handed = Number(/handed to a human\s+(\d+)/.exec(stdout)?.[1]);
  expect(botConversations).toBeGreaterThan(20);
  expect(contained).toBeGreaterThan(botConversations / 2);
  expect(handed).toBeGreaterThan(0);
  expect(contained + handed).toBe(botConversations);
  expect(flowsRun).toBeGreaterThan(0); // the bot's handoffs started escalation flows
  // the named reports' headlines and where analysts' tools connect
  expect(stdout).toMatch(/recovery cart-recovery: \d+\/\d+ carts recovered .* 95% CI \[/);
  expect(stdout).toMatch(/service: \d+ conversations, [\d.]+% contained by the bot/);
  expect(stdout).toContain(
    `ClickHouse for your own tools (read-only): http://127.0.0.1:${env['ANALYST_PORT']}`,
  );
  // every process ran as its NATS role (the local stack's users): the service answered the demo's
  // recommendation request, and NATS refuses a client without credentials
  expect(stdout).toMatch(/recommendations \(recommendation service/);
  const { connect } = await import('nats');
  await expect(connect({ servers: env['NATS_URL']! })).rejects.toThrow(/authorization/i);
}, 600_000);

it("analysts query the running demo's embedded database: the CLI and their own clients, read-only", async () => {
  if (!demoStackUp) throw new Error('the demo test did not run to its end, so there is no service to query');
  const answer = await run(process.execPath, [CLI, 'query', 'SELECT 40 + 2 AS answer', '--format', 'csv'], {
    env,
  });
  expect(answer.stdout).toBe('answer\n42\n');
  const password = /^ANALYST_PASSWORD=(\S+)$/m.exec(
    fs.readFileSync(path.join(dataDir, 'local.env'), 'utf8'),
  )?.[1];
  expect(password).toBeTruthy();
  const { createClient } = await import('@clickhouse/client');
  const client = createClient({
    url: `http://127.0.0.1:${env['ANALYST_PORT']}`,
    username: 'analyst',
    password: password!,
  });
  try {
    const rs = await client.query({
      query: 'SELECT count() AS n FROM events WHERE event_type = {t:String}',
      query_params: { t: 'order_placed' },
      format: 'JSONEachRow',
    });
    expect(Number((await rs.json<{ n: unknown }>())[0]!.n)).toBeGreaterThan(0);
    for (const query of [
      'DROP TABLE events',
      "INSERT INTO events (event_id) VALUES ('x')",
      'SET readonly = 0',
    ])
      await expect(client.command({ query })).rejects.toMatchObject({ type: 'READONLY' });
  } finally {
    await client.close();
  }
  const { stdout } = await run(path.join(ROOT, '.tools/venv/bin/python'), [
    '-c',
    'import sys, clickhouse_connect as c; cl = c.get_client(host="127.0.0.1", port=int(sys.argv[1]), username="analyst", password=sys.argv[2]); print(cl.query("SELECT count() FROM events").result_rows[0][0])',
    String(env['ANALYST_PORT']),
    password!,
  ]);
  expect(Number(stdout.trim())).toBeGreaterThan(3000);
}, 120_000);

it('the producer example runs against the stack', async () => {
  if (!demoStackUp)
    throw new Error('the demo test did not run to its end, so there is no stack for the producer example');
  const { stdout } = await run(
    process.execPath,
    [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), path.join(ROOT, 'examples/producer.ts')],
    { env },
  );
  expect(stdout).toMatch(/same event_id again: duplicate=true/);
  expect(stdout).toMatch(/rejected: cart_item_added\.product\.sku is required/);
}, 60_000);
