import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  getFreePort,
  isAlive,
  isPortFree,
  processCommandLine,
  readPidFile,
  removePidFile,
  spawnDetached,
  StackError,
  stopPid,
  waitFor,
  writePidFile,
} from '../../infra/stack/processes';
import { workerQueues } from '../../infra/stack/stack';

function listen(port = 0): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}
const close = (server: net.Server) => new Promise<void>((resolve) => server.close(() => resolve()));
const portOf = (server: net.Server) => (server.address() as net.AddressInfo).port;

describe('ports', () => {
  it('getFreePort returns a port that can be bound', async () => {
    const port = await getFreePort();
    expect(port).toBeGreaterThan(0);
    expect(port).toBeLessThan(65536);
    const server = await listen(port);
    await close(server);
  });

  it('isPortFree is false while a server listens and true after it closes', async () => {
    const server = await listen();
    const port = portOf(server);
    expect(await isPortFree('127.0.0.1', port)).toBe(false);
    await close(server);
    expect(await isPortFree('127.0.0.1', port)).toBe(true);
  });
});

describe('waitFor', () => {
  it('resolves once the check passes', async () => {
    let n = 0;
    await waitFor(() => Promise.resolve(++n >= 3), { timeoutMs: 2000, intervalMs: 10, what: 'three calls' });
    expect(n).toBe(3);
  });

  it('times out with an error naming what it waited for', async () => {
    const started = Date.now();
    const err: unknown = await waitFor(() => Promise.resolve(false), {
      timeoutMs: 200,
      intervalMs: 20,
      what: 'the moon',
    }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(err).toBeInstanceOf(StackError);
    expect(err).toMatchObject({ name: 'StackError', code: 'WAIT_TIMEOUT' });
    expect((err as Error).message).toMatch(/timed out after 200ms waiting for the moon/);
  });

  it('stops at once when the check throws', async () => {
    await expect(
      waitFor(() => Promise.reject(new Error('died')), { timeoutMs: 5000, what: 'x' }),
    ).rejects.toThrow('died');
  });
});

describe('processes and pid files', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shopstream-proc-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('round-trips pid files and ignores garbage', () => {
    const file = path.join(dir, 'run', 'x.pid');
    expect(readPidFile(file)).toBeUndefined();
    writePidFile(file, 1234);
    expect(readPidFile(file)).toBe(1234);
    fs.writeFileSync(file, 'not a pid');
    expect(readPidFile(file)).toBeUndefined();
    removePidFile(file);
    expect(fs.existsSync(file)).toBe(false);
  });

  it('spawns a detached process, sees its command line and stops it', async () => {
    const logFile = path.join(dir, 'sleep.log');
    const pid = spawnDetached('sleep', ['30'], { logFile });
    try {
      expect(isAlive(pid)).toBe(true);
      expect(processCommandLine(pid)).toEqual(['sleep', '30']);
      expect(await stopPid(pid, { timeoutMs: 5000 })).toBe('terminated');
      expect(isAlive(pid)).toBe(false);
      expect(await stopPid(pid)).toBe('not-running');
    } finally {
      if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    }
  });

  it('SIGKILLs a process that ignores SIGTERM', async () => {
    const logFile = path.join(dir, 'stubborn.log');
    const script = "process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000)";
    const pid = spawnDetached(process.execPath, ['-e', script], { logFile });
    try {
      await waitFor(() => Promise.resolve(fs.readFileSync(logFile, 'utf8').includes('ready')), {
        timeoutMs: 5000,
        what: 'the child to start',
      });
      expect(await stopPid(pid, { timeoutMs: 300 })).toBe('killed');
      expect(isAlive(pid)).toBe(false);
    } finally {
      if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    }
  });

  it('spawnDetached fails clearly for a missing executable', () => {
    expect(() => spawnDetached('/nonexistent/bin/nope', [], { logFile: path.join(dir, 'nope.log') })).toThrow(
      StackError,
    );
  });
});

describe('workerQueues', () => {
  const node = ['/usr/bin/node', '/repo/cli/shopstream.cjs'];
  it('reads the task queues a shopstream worker polls; anything else is not a worker', () => {
    expect(workerQueues([...node, 'worker'])).toBe('all');
    expect(workerQueues([...node, 'worker', '--queues', 'flows'])).toBe('flows');
    expect(workerQueues([...node, 'worker', '--queues', 'chat'])).toBe('chat');
    expect(workerQueues([...node, 'serve'])).toBeUndefined();
    expect(workerQueues(['/usr/bin/temporal', 'worker'])).toBeUndefined();
  });
});
