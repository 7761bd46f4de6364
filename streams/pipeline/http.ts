// The pipeline process's HTTP surfaces: the collector (events from web and app clients) and the admin
// endpoint (metrics, health, stats, read-only SQL), started last so it reports on every component.
import { openReadOnlyClickHouse } from '../../infra/clickhouse/readonly';
import { buildAdmin } from '../admin';
import { buildClickHouseHttp } from '../clickhouse-http';
import { startDashboard } from '../dashboard/live';
import { isEmbedded } from '../../infra/clickhouse/client';
import { createChatHub } from '../channels/hub';
import { chatChannels } from '../channels/plugin';
import { buildCollector } from '../collector/server';
import { publishDeadLetter } from '../dlq';
import { createProducer } from '../producer/producer';
import type { Component } from './component';

export const collector: Component = {
  name: 'collector',
  async start({ nc, config, logger, metrics }) {
    const producer = await createProducer({
      nats: config.nats,
      shopId: 'collector',
      producerId: 'collector',
      connection: nc,
      // answer 503 within COLLECTOR_PUBLISH_TIMEOUT while NATS is down, not hold requests for 30 s
      publishTimeoutMs: Math.min(5000, config.collector.publishTimeoutMs),
      maxPublishMs: config.collector.publishTimeoutMs,
    });
    const js = nc.jetstream();
    const app = buildCollector({
      config: config.collector,
      publish: (e) => producer.publish(e),
      deadLetter: (dl) => publishDeadLetter(js, config.nats.prefix, dl),
      logger: logger.child({ component: 'collector' }),
      metrics,
    });
    // the chat channels (streams/channels): shoppers' turns through the same producer, replies from NATS
    const chat = config.chatChannels.enabled
      ? createChatHub({
          nc,
          prefix: config.nats.prefix,
          config: config.chatChannels,
          publish: (e) => producer.publish(e),
          logger: logger.child({ component: 'chat-channels' }),
        })
      : undefined;
    try {
      if (chat)
        await app.register(chatChannels, {
          hub: chat,
          config: config.chatChannels,
          collector: config.collector,
          logger: logger.child({ component: 'chat-channels' }),
        });
      await app.listen({ host: config.collector.host, port: config.collector.port });
    } catch (err) {
      chat?.close();
      await producer.close();
      throw err;
    }
    logger.info(
      {
        url: `${config.collector.tlsCertFile ? 'https' : 'http'}://${config.collector.host}:${config.collector.port}/v1/events`,
      },
      'collector listening',
    );
    return {
      stop: async () => {
        await app.close();
        chat?.close();
        await producer.close();
      },
      stats: () => ({ ...producer.stats(), ...(chat ? { chat: chat.stats() } : {}) }),
    };
  },
};

export const admin: Component = {
  name: 'admin',
  async start(ctx) {
    const { config, logger, metrics } = ctx;
    // analysts' SQL runs on a read-only session of the same database (infra/clickhouse/readonly.ts)
    const readOnlyCh = ctx.get('clickhouse') ? await openReadOnlyClickHouse(config.clickhouse) : undefined;
    if (readOnlyCh) ctx.provide('readOnlyClickHouse', readOnlyCh);
    // the live dashboard and the alert rules, on the same read-only session
    const dashboard = readOnlyCh ? await startDashboard(ctx, readOnlyCh) : undefined;
    const app = buildAdmin({
      metrics,
      ...(readOnlyCh ? { readOnlyCh } : {}),
      token: config.admin.token,
      hosts: [config.admin.host],
      health: () => ctx.health(),
      stats: () => ctx.stats(),
      ...(dashboard ? { dashboard: dashboard.deps } : {}),
    });
    await app.listen({ host: config.admin.host, port: config.admin.port });
    logger.info(
      { url: `http://${config.admin.host}:${config.admin.port}` },
      'admin listening (metrics, health, sql, /dashboard)',
    );
    return {
      stop: async () => {
        await app.close();
        await dashboard?.stop();
        await readOnlyCh?.close();
      },
    };
  },
};

/**
 * The ClickHouse-compatible read-only endpoint (streams/clickhouse-http.ts) for analysts' own tools,
 * on the embedded database only (with a ClickHouse server they connect to it directly, as the
 * read-only user), and only with ANALYST_PASSWORD set. Started after `admin`, whose read-only session
 * it shares.
 */
export const analystSql: Component = {
  name: 'analyst-sql',
  async start(ctx) {
    const { config, logger } = ctx;
    const readOnlyCh = ctx.get('readOnlyClickHouse');
    const log = logger.child({ component: 'analyst-sql' });
    if (!readOnlyCh || !isEmbedded(config.clickhouse)) return { stop: () => Promise.resolve() };
    if (config.analyst.password === '') {
      log.info('ANALYST_PASSWORD is not set: the ClickHouse-compatible endpoint is off');
      return { stop: () => Promise.resolve() };
    }
    const app = buildClickHouseHttp({
      readOnlyCh,
      database: config.clickhouse.database,
      user: config.analyst.user,
      password: config.analyst.password,
    });
    await app.listen({ host: config.analyst.host, port: config.analyst.port });
    log.info(
      { url: `http://${config.analyst.host}:${config.analyst.port}`, user: config.analyst.user },
      'ClickHouse-compatible read-only endpoint listening',
    );
    return { stop: () => app.close() };
  },
};
