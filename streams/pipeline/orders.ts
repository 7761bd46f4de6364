// The order view: order events to each user's recent orders in KV (streams/processors/orders), which
// the customer-service bot reads to answer "where is my order".
import { createOrdersProcessor } from '../processors/orders/processor';
import { fromLoop, type Component } from './component';

export const orders: Component = {
  name: 'orders',
  async start(ctx) {
    const { nc, config, logger, metrics } = ctx;
    const proc = await createOrdersProcessor({
      nc,
      config,
      logger: logger.child({ component: 'orders' }),
      metrics,
      ...(ctx.get('leases') ? { leases: ctx.get('leases')! } : {}),
    });
    logger.info({ maxInFlight: config.orders.maxInFlight }, 'order view running');
    // a loop that holds its events while it retries stays ok: they are redelivered, never lost
    return fromLoop(proc, {
      health: () => {
        const h = proc.health();
        return { ok: h.state !== 'stopped', ...h };
      },
    });
  },
};
