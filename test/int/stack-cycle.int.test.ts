// `make up` twice, then `make down`: the second up starts nothing, down leaves no process of ours.
// Runs the real CLI (as make does) on free ports and a temporary data directory.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { getFreePort, isAlive, readPidFile } from '../../infra/stack/processes';

const run = promisify(execFile);
const CLI = path.join(__dirname, '../../cli/shopstream.cjs');

let dataDir: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shopstream-cycle-'));
  const [nats, monitor, temporal, ui] = [
    await getFreePort(),
    await getFreePort(),
    await getFreePort(),
    await getFreePort(),
  ];
  env = {
    ...process.env,
    SHOPSTREAM_DATA_DIR: dataDir,
    STACK_NATS_PORT: String(nats),
    STACK_NATS_MONITOR_PORT: String(monitor),
    STACK_TEMPORAL_PORT: String(temporal),
    STACK_TEMPORAL_UI_PORT: String(ui),
    NATS_URL: `nats://127.0.0.1:${nats}`,
    TEMPORAL_ADDRESS: `127.0.0.1:${temporal}`,
  };
});

afterAll(async () => {
  await run(process.execPath, [CLI, 'stack', 'down'], { env }).catch(() => undefined);
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** Processes whose command line mentions our temporary data directory. */
function ours(): number[] {
  return fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(dataDir);
      } catch {
        return false;
      }
    })
    .map(Number);
}

it('up twice then down leaves nothing running', async () => {
  const first = await run(process.execPath, [CLI, 'stack', 'up'], { env });
  expect(first.stdout).toMatch(/nats running/);
  expect(first.stdout).toMatch(/temporal running/);
  const pids = ['nats', 'temporal'].map((n) => readPidFile(path.join(dataDir, 'run', `${n}.pid`))!);
  expect(pids.every((p) => isAlive(p))).toBe(true);

  const second = await run(process.execPath, [CLI, 'stack', 'up'], { env });
  expect(second.stdout).toMatch(/nats already running/);
  expect(second.stdout).toMatch(/temporal already running/);
  expect(['nats', 'temporal'].map((n) => readPidFile(path.join(dataDir, 'run', `${n}.pid`)))).toEqual(pids);
  expect(ours().sort()).toEqual([...pids].sort());

  await run(process.execPath, [CLI, 'stack', 'down'], { env });
  expect(pids.some((p) => isAlive(p))).toBe(false);
  expect(ours()).toEqual([]);
}, 120_000);
