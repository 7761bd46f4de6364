// The customer-service bot: chat turns to replies (streams/processors/chat). It understands with
// bot/nlu (trained at start from the shipped data, or the cached model), answers from the knowledge
// base (bot/kb, reloaded when its files change), the order view, the catalog, the recommendation
// service and the coupon ledger, and hands over to a human through the escalation flow.
import type { KV } from 'nats';
import type { OrderSummary } from '../../bot/dialogue/ports';
import { createKvCouponLedger } from '../../coupons/kv-coupon-ledger';
import { shippedFlows, timingFrom } from '../../workflows/flows';
import { createChatProcessor } from '../processors/chat/processor';
import { campaignsOf, createBotPorts } from '../processors/chat/ports';
import { describeOrder, recentOrders } from '../processors/orders/lookup';
import { names } from '../topology';
import { openBrain } from '../processors/chat/brain';
import { fromLoop, type Component } from './component';
import { needed } from './profiles';

function ordersOf(kv: KV) {
  return async (shopId: string, userId: string): Promise<OrderSummary[]> =>
    (await recentOrders(kv, shopId, userId)).map((o) => ({
      orderId: o.orderId,
      status: o.status,
      placedAt: o.at.placed ?? 0,
      ...(o.shipment?.trackingNumber ? { trackingNumber: o.shipment.trackingNumber } : {}),
      describe: (lang) => describeOrder(o, lang),
    }));
}

export const bot: Component = {
  name: 'bot',
  async start(ctx) {
    const { nc, config, logger, metrics } = ctx;
    const log = logger.child({ component: 'bot' });
    const catalog = needed(ctx, 'catalog', 'the bot');
    const n = names(config.nats.prefix);
    const js = nc.jetstream();
    const brain = openBrain({ config, logger: log, catalog });
    const ordersKv = await js.views.kv(n.ordersBucket, { bindOnly: true });
    const couponsKv = await js.views.kv(n.couponsBucket, { bindOnly: true });
    const flows = shippedFlows(timingFrom(config.flows));
    const ports = createBotPorts({
      catalog,
      nc,
      prefix: config.nats.prefix,
      ...(config.coupons.secret
        ? { ledger: createKvCouponLedger(couponsKv, { secret: config.coupons.secret }) }
        : {}),
      couponSecret: config.coupons.secret,
      campaigns: config.coupons.secret ? campaignsOf([flows.cartRecovery, ...flows.tierCoupons]) : [],
      orders: ordersOf(ordersKv),
      kbSearch: (text, opts) => brain.kbSearch(text, opts),
      kbVersion: () => brain.kbVersion(),
    });
    const proc = await createChatProcessor({
      nc,
      config,
      logger: log,
      metrics,
      understand: (text) => brain.understand(text),
      ports,
      ...(ctx.get('leases') ? { leases: ctx.get('leases')! } : {}),
    });
    log.info({ kbVersion: brain.kbVersion() }, 'chat bot running');
    return fromLoop(
      {
        run: () => proc.run(),
        stop: async () => {
          await proc.stop();
          brain.close();
        },
        stats: () => proc.stats(),
      },
      {
        health: () => {
          const h = proc.health();
          return { ok: h.state === 'running', kbVersion: brain.kbVersion(), ...h };
        },
      },
    );
  },
};
