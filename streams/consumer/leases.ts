// Who consumes what, when several pipeline instances run: each ordered consumer (an interest or chat
// partition, a trigger, the order view) is a unit that one instance at a time holds a lease on, so one
// user's events are applied in order by one process, and the units are spread over the live
// instances and taken over when one stops. The ClickHouse sink needs no lease (its inserts are
// deduplicated and order does not matter): every instance consumes it.
//
// In a KV bucket whose entries live LEASE_TTL (the bucket's max age; every write renews one):
//   member.<instance>  written every heartbeat: the live instances are the keys present
//   unit.<consumer>    the instance holding it, renewed every heartbeat with compare-and-set
// Every heartbeat each instance computes the same assignment from the sorted live members (the units,
// sorted, dealt round-robin) and:
//   - takes a unit assigned to it that nobody holds (KV create: only one instance can);
//   - renews the units it holds; one whose renewal fails (it expired and another took it) is dropped;
//   - hands over a unit assigned to another: it stops taking new messages of it, waits until the
//     runner says it has settled what it had (yielded), then deletes the lease for the other to take.
// A stopped instance deletes its leases as it goes; a killed one's expire after LEASE_TTL. An
// instance keeps its name across restarts (SERVICE_INSTANCE, by default host and admin port), so a
// restarted one takes back its own units at once.
import type { KV } from 'nats';
import type { Logger } from '../../infra/logger';
import { kvKey } from '../../schemas/kv-keys';

/** What the runners ask: may I consume this unit now; and tell when they stopped consuming it. */
export interface LeaseGate {
  /** True while this instance holds `unit` and is not handing it over. Registers the unit. */
  holds(unit: string): boolean;
  /** The runner has settled every message of `unit` it took after holds() answered false. */
  yielded(unit: string): void;
}

export interface Leases extends LeaseGate {
  /** The first heartbeat done: leases taken that nobody else holds. */
  start(): Promise<void>;
  /** Deletes this instance's leases and membership (the runners have stopped: components stop in reverse). */
  stop(): Promise<void>;
  stats(): { instance: string; members: string[]; held: string[]; handingOver: string[] };
}

/** A lease not renewed for this long expires (the bucket's max age). */
export const LEASE_TTL_MS = 20_000;
export const LEASE_HEARTBEAT_MS = 2000;

const memberKey = (instance: string): string => kvKey('member', instance);
const unitKey = (unit: string): string => kvKey('unit', unit);
const byName = (a: string, b: string): number => a.localeCompare(b, 'en', { numeric: true });

/** The same on every instance: units sorted by name, dealt round-robin to the sorted members. */
export function assign(units: readonly string[], members: readonly string[]): Map<string, string> {
  const m = [...members].sort(byName);
  const out = new Map<string, string>();
  if (m.length === 0) return out;
  [...units].sort(byName).forEach((u, i) => out.set(u, m[i % m.length]!));
  return out;
}

interface Held {
  revision: number;
  /** When it was last written: past LEASE_TTL minus a margin it may have expired, so it is not used. */
  renewedAt: number;
  /** Set when the unit is assigned elsewhere: no new messages; deleted once yielded. */
  handingOver: boolean;
  yielded: boolean;
}

export function createLeases(opts: {
  kv: KV;
  instance: string;
  logger: Logger;
  heartbeatMs?: number;
}): Leases {
  const { kv, instance, logger } = opts;
  const heartbeatMs = opts.heartbeatMs ?? LEASE_HEARTBEAT_MS;
  const units = new Set<string>();
  const held = new Map<string, Held>();
  let members: string[] = [instance];
  let stopping = false;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;

  // the members, from a watch of their keys (a key expired by the bucket's max age sends nothing, so
  // a member counts as live while its last write is younger than LEASE_TTL)
  const seen = new Map<string, { instance: string; at: number }>();
  let watcher: { stop(): void } | undefined;
  async function watchMembers(): Promise<void> {
    let initialized!: () => void;
    const ready = new Promise<void>((r) => (initialized = r));
    const w = await kv.watch({ key: 'member.>', initializedFn: () => initialized() });
    watcher = w;
    void (async () => {
      for await (const e of w) {
        if (e.operation !== 'PUT') seen.delete(e.key);
        else seen.set(e.key, { instance: e.string(), at: Math.min(Date.now(), e.created.getTime()) });
      }
    })().catch((err: Error) => logger.warn({ err: err.message }, 'lease members watch ended'));
    await ready;
  }
  function liveMembers(): string[] {
    const now = Date.now();
    const out = [...seen.values()].filter((m) => now - m.at < LEASE_TTL_MS).map((m) => m.instance);
    return out.includes(instance) ? out : [...out, instance];
  }

  async function take(unit: string): Promise<void> {
    const sentAt = Date.now();
    try {
      held.set(unit, {
        revision: await kv.create(unitKey(unit), instance),
        renewedAt: sentAt,
        handingOver: false,
        yielded: false,
      });
      logger.info({ unit }, 'lease taken');
      return;
    } catch {
      // held by someone: ours from before a restart is taken back; another's waits for its release
    }
    const e = await kv.get(unitKey(unit));
    if (e?.operation === 'PUT' && e.string() === instance) {
      held.set(unit, {
        revision: await kv.update(unitKey(unit), instance, e.revision),
        renewedAt: sentAt,
        handingOver: false,
        yielded: false,
      });
      logger.info({ unit }, 'lease taken back (this instance held it before a restart)');
    }
  }

  async function release(unit: string, h: Held): Promise<void> {
    held.delete(unit);
    await kv.delete(unitKey(unit), { previousSeq: h.revision }).catch(() => undefined);
    logger.info({ unit }, 'lease handed over');
  }

  /** Writes the renewal; renewedAt is when it was sent, so the lease lives at least LEASE_TTL past it. */
  async function renew(unit: string, h: Held): Promise<void> {
    const sentAt = Date.now();
    try {
      h.revision = await kv.update(unitKey(unit), instance, h.revision);
      h.renewedAt = sentAt;
    } catch (err) {
      // expired (a long pause here) and maybe taken by another: stop at once
      held.delete(unit);
      logger.warn({ unit, err: (err as Error).message }, 'lease lost');
    }
  }

  /** One heartbeat: membership, then every unit at once (a slow moment must not outlast a lease). */
  async function beat(): Promise<void> {
    await kv.put(memberKey(instance), instance);
    members = liveMembers();
    const plan = assign([...units], members);
    const work: Promise<void>[] = [];
    for (const unit of units) {
      const h = held.get(unit);
      const mine = plan.get(unit) === instance;
      if (!h) {
        if (mine)
          work.push(
            take(unit).catch((err: Error) => logger.warn({ unit, err: err.message }, 'lease not taken')),
          );
        continue;
      }
      if (!mine) h.handingOver = true;
      work.push(h.handingOver && h.yielded ? release(unit, h) : renew(unit, h));
    }
    await Promise.all(work);
  }

  async function run(): Promise<void> {
    while (!stopping) {
      await beat().catch((err: Error) => logger.warn({ err: err.message }, 'lease heartbeat failed'));
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, heartbeatMs).unref();
      });
    }
  }

  return {
    holds(unit) {
      if (!units.has(unit)) {
        units.add(unit);
        wake?.(); // a new unit: look for it now rather than at the next heartbeat
      }
      const h = held.get(unit);
      // not renewed for most of its life (NATS away): it may expire and go to another instance
      const fresh = h !== undefined && Date.now() - h.renewedAt < LEASE_TTL_MS - 3 * heartbeatMs;
      return fresh && !h.handingOver && !stopping;
    },
    yielded(unit) {
      const h = held.get(unit);
      if (h?.handingOver) h.yielded = true;
    },
    async start() {
      await watchMembers();
      await beat();
      loop = run();
    },
    async stop() {
      stopping = true;
      wake?.();
      await loop;
      watcher?.stop();
      for (const [unit, h] of [...held]) await release(unit, h);
      await kv.delete(memberKey(instance)).catch(() => undefined);
    },
    stats: () => ({
      instance,
      members: [...members].sort(byName),
      held: [...held.keys()].sort(byName),
      handingOver: [...held].filter(([, h]) => h.handingOver).map(([u]) => u),
    }),
  };
}
