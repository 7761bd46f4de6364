// Throwaway NATS clusters on loopback for the fault scenarios (chaos/nats-node-lost.ts,
// chaos/second-site.ts): N nats-server processes per cluster joined by routes, with JetStream and a
// store directory each, optionally several clusters joined by gateways into a super-cluster. Every port
// is chosen once, so a node stopped and started again comes back on the same client, route and gateway
// ports (and with the same server name, so it rejoins its RAFT groups). One temp directory holds the
// stores, configuration files and logs; dispose() stops every node and deletes it.
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../config';
import { isAlive, isPortFree, waitFor } from './processes';
import { startNatsServer, type NatsServerHandle } from './stack';
import { findTools } from './tools';

const HOST = '127.0.0.1';

/**
 * A free port below Linux's ephemeral range (32768-60999): a port the OS hands out for port 0 can be
 * taken by any outgoing connection before the node binds it, or before a stopped node binds it again.
 */
async function pickPort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (!taken.has(port) && (await isPortFree(HOST, port))) {
      taken.add(port);
      return port;
    }
  }
}

const inUse = (err: unknown): boolean => /address already in use/i.test((err as Error)?.message ?? '');

export interface ClusterSpec {
  /** The cluster's name (also its gateway name): `placement: { cluster }` picks it. */
  name: string;
  /** Servers in it. */
  size: number;
  /** Extra nats-server configuration text for its servers (e.g. `jetstream { max_file_store: 64MB }`). */
  config?: string;
}

export interface NatsNode {
  /** Server name, `<cluster>-n<k>`: the JetStream peer it is known as. */
  name: string;
  cluster: string;
  port: number;
  monitorPort: number;
  clusterPort: number;
  gatewayPort?: number;
  storeDir: string;
  configFile: string;
  logFile: string;
  url: string;
  monitorUrl: string;
  /** The running process, undefined while stopped. */
  handle?: NatsServerHandle;
}

export interface TestNatsCluster {
  nodes: NatsNode[];
  /** Client URLs, comma-separated (what NATS_URL takes): of one cluster, or of every node. */
  url(cluster?: string): string;
  node(name: string): NatsNode;
  /** Stops one node: SIGTERM (a clean shutdown, JetStream flushed) or SIGKILL (a crash). */
  stop(name: string, signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Starts a stopped node on its ports and store; `wipe` empties its store first (a lost disk). */
  start(name: string, opts?: { wipe?: boolean }): Promise<void>;
  /** Stops every running node of a cluster (or all), concurrently. */
  stopAll(signal?: 'SIGTERM' | 'SIGKILL', cluster?: string): Promise<void>;
  /** Starts every stopped node of a cluster (or all), concurrently: a node is healthy only with its peers. */
  startAll(cluster?: string): Promise<void>;
  /**
   * Waits until every running node (of a cluster, or all) answers the full /healthz: JetStream in
   * contact with a meta leader and every stream and consumer replica it holds current (caught up).
   */
  ready(cluster?: string, timeoutMs?: number): Promise<void>;
  /** Stops everything and deletes the temp directory. Idempotent. */
  dispose(): Promise<void>;
}

function nodeConfig(n: NatsNode, all: NatsNode[], extra: string | undefined): string {
  // a one-server cluster (a witness) routes to itself: JetStream's clustered mode needs a route
  // configured, and the server recognises and drops a route to itself
  const others = all.filter((o) => o.cluster === n.cluster && o.name !== n.name);
  const peers = others.length > 0 ? others : [n];
  const lines = [
    `# ${n.name}: written by infra/stack/test-nats-cluster.ts`,
    `server_name: "${n.name}"`,
    'cluster {',
    `  name: "${n.cluster}"`,
    `  listen: "${HOST}:${n.clusterPort}"`,
    `  routes: [${peers.map((o) => `"nats-route://${HOST}:${o.clusterPort}"`).join(', ')}]`,
    '}',
  ];
  if (n.gatewayPort !== undefined) {
    const clusters = [...new Set(all.map((o) => o.cluster))].filter((c) => c !== n.cluster);
    lines.push(
      'gateway {',
      `  name: "${n.cluster}"`,
      `  listen: "${HOST}:${n.gatewayPort}"`,
      '  gateways: [',
      ...clusters.map(
        (c) =>
          `    { name: "${c}", urls: [${all
            .filter((o) => o.cluster === c)
            .map((o) => `"nats://${HOST}:${o.gatewayPort}"`)
            .join(', ')}] }`,
      ),
      '  ]',
      '}',
    );
  }
  if (extra) lines.push(extra);
  return `${lines.join('\n')}\n`;
}

/**
 * Starts the clusters (one, or several joined by gateways) and resolves once every node answers
 * /healthz with JetStream enabled. The JetStream meta group spans every server of every cluster.
 */
export async function startTestNatsCluster(opts: {
  clusters: ClusterSpec[];
  timeoutMs?: number;
}): Promise<TestNatsCluster> {
  const { natsServer } = await findTools(loadConfig().stack);
  if (!natsServer)
    throw new Error(
      'nats-server (2.10+) not found in .tools/venv/bin or on PATH: run `make up` or `npx shopstream stack install` first',
    );
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'shopstream-nats-cluster-'));
  const gateways = opts.clusters.length > 1;
  const nodes: NatsNode[] = [];
  const extras = new Map<string, string | undefined>();
  const taken = new Set<number>();
  // (re)writes every node's ports and configuration file: again after a port was taken meanwhile
  const layout = async (): Promise<void> => {
    nodes.length = 0;
    for (const c of opts.clusters) {
      extras.set(c.name, c.config);
      for (let k = 1; k <= c.size; k++) {
        const name = `${c.name}-n${k}`;
        const port = await pickPort(taken);
        const monitorPort = await pickPort(taken);
        nodes.push({
          name,
          cluster: c.name,
          port,
          monitorPort,
          clusterPort: await pickPort(taken),
          ...(gateways ? { gatewayPort: await pickPort(taken) } : {}),
          storeDir: path.join(dir, name, 'store'),
          configFile: path.join(dir, name, 'nats-server.conf'),
          logFile: path.join(dir, name, 'nats-server.log'),
          url: `nats://${HOST}:${port}`,
          monitorUrl: `http://${HOST}:${monitorPort}`,
        });
      }
    }
    for (const n of nodes) {
      await fs.mkdir(n.storeDir, { recursive: true });
      await fs.writeFile(n.configFile, nodeConfig(n, nodes, extras.get(n.cluster)), { mode: 0o600 });
    }
  };
  try {
    await layout();
  } catch (err) {
    await fs.rm(dir, { recursive: true, force: true });
    throw err;
  }

  const node = (name: string): NatsNode => {
    const n = nodes.find((o) => o.name === name);
    if (!n) throw new Error(`no node ${name} (nodes: ${nodes.map((o) => o.name).join(', ')})`);
    return n;
  };
  const start = async (name: string, o: { wipe?: boolean } = {}): Promise<void> => {
    const n = node(name);
    if (n.handle) return;
    if (o.wipe) {
      await fs.rm(n.storeDir, { recursive: true, force: true });
      await fs.mkdir(n.storeDir, { recursive: true });
    }
    for (let attempt = 1; ; attempt++) {
      try {
        n.handle = await startNatsServer({
          binary: natsServer,
          host: HOST,
          port: n.port,
          monitorPort: n.monitorPort,
          storeDir: n.storeDir,
          logFile: n.logFile,
          serverName: n.name,
          configFile: n.configFile,
          timeoutMs: opts.timeoutMs ?? 60_000,
        });
        return;
      } catch (err) {
        // a restarted node must have its old ports back: wait for whoever holds one to let go
        if (!inUse(err) || attempt >= 5) throw err;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  };
  const stop = async (name: string, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> => {
    const n = node(name);
    const h = n.handle;
    if (!h) return;
    n.handle = undefined;
    if (signal === 'SIGTERM') return h.stop();
    try {
      process.kill(h.pid, 'SIGKILL');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
    await waitFor(() => Promise.resolve(!isAlive(h.pid)), {
      timeoutMs: 5000,
      intervalMs: 20,
      what: `${name} (pid ${h.pid}) to exit after SIGKILL`,
    });
  };
  const of = (cluster?: string) => nodes.filter((n) => cluster === undefined || n.cluster === cluster);
  const stopAll = async (signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM', cluster?: string) => {
    await Promise.all(of(cluster).map((n) => stop(n.name, signal)));
  };
  const startAll = async (cluster?: string) => {
    // allSettled: a node failing to start must not leave the others running unrecorded
    const results = await Promise.allSettled(of(cluster).map((n) => start(n.name)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  };
  const ready = async (c?: string, timeoutMs = 60_000): Promise<void> => {
    const healthy = async (n: NatsNode): Promise<boolean> => {
      try {
        const res = await fetch(`${n.monitorUrl}/healthz`, { signal: AbortSignal.timeout(2000) });
        await res.text();
        return res.ok;
      } catch {
        return false;
      }
    };
    await waitFor(
      async () =>
        (
          await Promise.all(
            of(c)
              .filter((n) => n.handle)
              .map(healthy),
          )
        ).every(Boolean),
      { timeoutMs, intervalMs: 100, what: `the NATS nodes${c ? ` of ${c}` : ''} to be healthy (/healthz)` },
    );
  };
  let disposed: Promise<void> | undefined;
  const dispose = () =>
    (disposed ??= stopAll('SIGKILL')
      .catch(() => undefined)
      .finally(() => fs.rm(dir, { recursive: true, force: true })));
  const cluster: TestNatsCluster = {
    nodes,
    url: (c) =>
      of(c)
        .map((n) => n.url)
        .join(','),
    node,
    stop,
    start,
    stopAll,
    startAll,
    ready,
    dispose,
  };
  for (let attempt = 1; ; attempt++) {
    try {
      await startAll();
      await ready(undefined, opts.timeoutMs ?? 60_000);
      return cluster;
    } catch (err) {
      if (!inUse(err) || attempt >= 3) {
        await dispose();
        throw err;
      }
      // a port was taken between the pick and the bind: new ports, empty stores, start again
      await stopAll('SIGKILL');
      await Promise.all(nodes.map((n) => fs.rm(path.join(dir, n.name), { recursive: true, force: true })));
      await layout();
    }
  }
}
