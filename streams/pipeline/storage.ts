// Components that keep events: the max-deliveries catcher (nothing a consumer gives up on is lost),
// the ClickHouse database (migrated, shared with later components) and the ClickHouse sink.
import { couponRef } from '../../coupons/coupon-ledger';
import { createClickHouse } from '../../infra/clickhouse/client';
import { migrate } from '../../analytics/migrate';
import { loadCatalogProducts } from '../../analytics/model';
import { loadCatalog } from '../../catalog';
import { startMaxDeliveriesCatcher } from '../advisories';
import { createClickHouseSink } from '../sinks/clickhouse/sink';
import { fromLoop, type Component } from './component';

export const maxDeliveriesCatcher: Component = {
  name: 'max-deliveries',
  async start({ nc, config, logger, metrics }) {
    const catcher = await startMaxDeliveriesCatcher({
      nc,
      config,
      logger: logger.child({ component: 'max-deliveries' }),
      metrics,
    });
    return { stop: () => catcher.stop() };
  },
};

/** The ClickHouse database, migrated; later components get it with ctx.get('clickhouse'). */
export const clickhouse: Component = {
  name: 'clickhouse',
  async start(ctx) {
    const { config, logger } = ctx;
    const ch = createClickHouse(config.clickhouse);
    try {
      const applied = await migrate(ch, config.clickhouse.database);
      // the catalog for the model's order items (category and brand when an event lacks them)
      const products = await loadCatalogProducts(
        ch,
        config.clickhouse.database,
        loadCatalog(config.interest.catalogFile || undefined).products,
      );
      logger.info(
        { applied, products, database: config.clickhouse.database, embedded: config.clickhouse.url === '' },
        'clickhouse ready',
      );
    } catch (err) {
      await ch.close();
      throw err;
    }
    ctx.provide('clickhouse', ch);
    return { stop: () => ch.close() };
  },
};

export const sink: Component = {
  name: 'sink',
  async start(ctx) {
    const { nc, config, logger, metrics } = ctx;
    const ch = ctx.get('clickhouse');
    if (!ch) throw new Error('the sink needs the clickhouse component before it');
    const { afterInsertMs, fromBatch } = config.failpoints;
    if (afterInsertMs > 0)
      logger.warn({ afterInsertMs }, 'failpoint set: the sink pauses between insert and ack (tests only)');
    // coupon codes reach the events table as their keyed ref when the secret is here, else masked
    const secret = config.coupons.secret;
    const s = await createClickHouseSink({
      nc,
      ch,
      config,
      ...(Buffer.byteLength(secret) >= 32 ? { couponView: (code: string) => couponRef(secret, code) } : {}),
      logger: logger.child({ component: 'sink' }),
      metrics,
      failpoints: { afterInsertMs, fromBatch },
    });
    // healthy when it keeps up: not stalled with events waiting, not lagging too far; logged when that
    // changes, not at every probe
    let problem: string | undefined;
    return fromLoop(s, {
      health: async () => {
        const h = await s.health();
        const now = h.ok ? undefined : h.problem;
        if (now !== problem) {
          if (now) logger.warn({ ...h }, `sink ${now}`);
          else logger.info({ ...h }, `sink no longer ${problem ?? ''}`.trim());
        }
        problem = now;
        return { ...h };
      },
    });
  },
};
