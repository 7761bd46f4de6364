// A throwaway nats-server with JetStream per test file, like nats.js's test launcher: its own free
// ports (chosen by nats-server) and a temp store directory that stop() deletes.
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { NatsConnection } from 'nats';
import { loadConfig, type Config } from '../config';
import { decodeEnvelope } from '../../schemas/codec';
import type { Envelope, EventType } from '../../schemas/events';
import { names } from '../../streams/topology';
import { startNatsServer } from './stack';
import { findTools } from './tools';

export interface TestNats {
  url: string;
  monitorUrl: string;
  pid: number;
  storeDir: string;
  stop(): Promise<void>;
}

/** A throwaway nats-server; `config` is extra nats-server configuration text (accounts, sync_interval). */
export async function startTestNats(opts: { config?: string } = {}): Promise<TestNats> {
  const { natsServer } = await findTools(loadConfig().stack);
  if (!natsServer) {
    throw new Error(
      'nats-server (2.10+) not found in .tools/venv/bin or on PATH: run `make up` or `npx shopstream stack install` first',
    );
  }
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'shopstream-nats-'));
  const storeDir = path.join(dir, 'store');
  try {
    const server = await startNatsServer({
      binary: natsServer,
      port: 0,
      storeDir,
      logFile: path.join(dir, 'nats-server.log'),
      serverName: 'shopstream-test',
      ...(opts.config === undefined ? {} : { configFile: await writeConfig(dir, opts.config) }),
    });
    let stopped: Promise<void> | undefined;
    const stop = () =>
      (stopped ??= server.stop().finally(() => fs.rm(dir, { recursive: true, force: true })));
    return { url: server.url, monitorUrl: server.monitorUrl, pid: server.pid, storeDir, stop };
  } catch (err) {
    await fs.rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function writeConfig(dir: string, text: string): Promise<string> {
  const file = path.join(dir, 'nats-server.conf');
  await fs.writeFile(file, text, { mode: 0o600 });
  return file;
}

/**
 * Every event of one type that is on the events stream when it is called, in stream order (an ordered
 * consumer: no state left). It reads until it has consumed as many as the stream held then (the new
 * consumer's pending count): an empty fetch (a slow server, an ordered-consumer reset) is not taken for
 * the end. Fails, saying how far it got, if that takes longer than `timeoutMs`.
 */
export async function eventsOnStream(
  nc: NatsConnection,
  config: Config,
  type: EventType,
  timeoutMs = 30_000,
): Promise<Envelope[]> {
  const deadline = Date.now() + timeoutMs;
  const consumer = await nc.jetstream().consumers.get(names(config.nats.prefix).eventsStream, {
    filterSubjects: [`${config.nats.prefix}.events.*.${type}`],
  });
  // created at the stream's first message: pending is every matching message on the stream now
  const pending = (await consumer.info()).num_pending;
  const out: Envelope[] = [];
  while (out.length < pending) {
    if (Date.now() > deadline)
      throw new Error(
        `eventsOnStream(${type}): read ${out.length} of the ${pending} events on the stream within ${timeoutMs} ms`,
      );
    // no more than are still owed: the fetch ends when they are in, not when it expires
    const max = Math.min(100, pending - out.length);
    for await (const m of await consumer.fetch({ max_messages: max, expires: 2000 })) {
      const d = decodeEnvelope(m.data);
      if (!d.ok) throw new Error(d.detail);
      out.push(d.envelope);
    }
  }
  return out;
}
