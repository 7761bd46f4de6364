import { connect } from 'nats';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../../infra/config';
import { getFreePort, isAlive } from '../../infra/stack/processes';
import { stackStatus, stackUp } from '../../infra/stack/stack';
import { startTestNats, type TestNats } from '../../infra/stack/test-nats';

describe('startTestNats', () => {
  let server: TestNats | undefined;
  afterAll(async () => {
    await server?.stop();
  });

  it('starts a JetStream-enabled nats-server and stops it completely', async () => {
    server = await startTestNats();
    expect(server.url).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);

    const nc = await connect({ servers: server.url });
    try {
      const jsm = await nc.jetstreamManager();
      const info = await jsm.getAccountInfo();
      expect(info.limits).toBeDefined();
      expect(info.streams).toBe(0);
    } finally {
      await nc.close();
    }

    const { pid, storeDir } = server;
    await server.stop();
    expect(isAlive(pid)).toBe(false);
    expect(fs.existsSync(storeDir)).toBe(false);
    await server.stop(); // idempotent
  });
});

describe('stackUp port conflicts', () => {
  let dataDir: string;
  let blocker: net.Server;
  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shopstream-stack-'));
    blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('fails fast naming the port and the variable when the NATS port is taken', async () => {
    const takenPort = (blocker.address() as net.AddressInfo).port;
    const config = loadConfig({
      ...process.env,
      SHOPSTREAM_DATA_DIR: dataDir,
      STACK_NATS_PORT: String(takenPort),
      STACK_NATS_MONITOR_PORT: String(await getFreePort()),
    });
    const lines: string[] = [];
    const started = Date.now();
    const err: unknown = await stackUp(config, (l) => lines.push(l), { only: ['nats'] }).catch(
      (e: unknown) => e,
    );

    // fast: well before the 60 s start timeout it would otherwise wait out (slack for a busy machine)
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(err).toMatchObject({ name: 'StackError', code: 'PORT_IN_USE' });
    expect((err as Error).message).toContain(`port ${takenPort}`);
    expect((err as Error).message).toContain('STACK_NATS_PORT');
    expect((err as Error).message).not.toContain('STACK_NATS_MONITOR_PORT');
    expect(fs.existsSync(path.join(dataDir, 'run', 'nats.pid'))).toBe(false);
    const nats = (await stackStatus(config)).find((s) => s.name === 'nats');
    expect(nats?.state).toBe('stopped');
  });
});
