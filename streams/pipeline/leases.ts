// The leases component: with several pipeline instances on one prefix, which of them consumes each
// ordered consumer (interest and chat partitions, the triggers, the order view), so one user's events
// stay with one process and the partitions spread over the instances and move when one stops
// (streams/consumer/leases.ts). Started first and stopped last; later components get it with
// ctx.get('leases') and hand it to their runners.
import { hostname } from 'node:os';
import { createLeases } from '../consumer/leases';
import { names } from '../topology';
import type { Component } from './component';

export const leases: Component = {
  name: 'leases',
  async start(ctx) {
    const { nc, config, logger } = ctx;
    // one instance (the default): it consumes every consumer, no lease needed
    if (config.admin.leases === 'off') return { stop: () => Promise.resolve() };
    const kv = await nc.jetstream().views.kv(names(config.nats.prefix).leasesBucket, { bindOnly: true });
    // the admin port is this host's only one of its kind: the name holds across restarts
    const instance = config.admin.instance || `${hostname()}:${config.admin.port}`;
    const l = createLeases({ kv, instance, logger: logger.child({ component: 'leases' }) });
    await l.start();
    ctx.provide('leases', l);
    logger.info({ instance }, 'leases: consuming the partitions this instance holds');
    return { stop: () => l.stop(), stats: () => l.stats() };
  },
};
