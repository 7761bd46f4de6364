// A configuration for one test file: a random prefix (streams, subjects, consumers) on a test NATS,
// small batches and short waits.
import { randomBytes } from 'node:crypto';
import { loadConfig, type Config } from '../config';
import { uniqueName } from './test-clickhouse';

export function testConfig(natsUrl: string, overrides: Record<string, string> = {}): Config {
  return loadConfig({
    NATS_URL: natsUrl,
    SHOPSTREAM_PREFIX: uniqueName('t').toLowerCase(),
    NATS_PARTITIONS: '4',
    SINK_BATCH_SIZE: '500',
    SINK_FLUSH_INTERVAL: '1s',
    SINK_ACK_WAIT: '2s',
    LOG_LEVEL: 'silent',
    // secrets have no defaults: each test configuration gets its own
    ADMIN_TOKEN: `admin-${randomBytes(16).toString('hex')}`,
    COUPON_SECRET: randomBytes(32).toString('hex'),
    // nothing listens there: a service started in a test runs without cart triggers unless a test
    // passes its own Temporal (never the local stack's)
    TEMPORAL_ADDRESS: '127.0.0.1:1',
    ...overrides,
  });
}
