// A configuration for one test file: a random prefix (streams, subjects, consumers) on a test NATS,
// small batches and short waits.
import { loadConfig, type Config } from '../../infra/config';
import { uniqueName } from './clickhouse';

export function testConfig(natsUrl: string, overrides: Record<string, string> = {}): Config {
  return loadConfig({
    NATS_URL: natsUrl,
    SHOPSTREAM_PREFIX: uniqueName('t').toLowerCase(),
    NATS_PARTITIONS: '4',
    SINK_BATCH_SIZE: '500',
    SINK_FLUSH_INTERVAL: '1s',
    SINK_ACK_WAIT: '2s',
    LOG_LEVEL: 'silent',
    // nothing listens there: a service started in a test runs without cart triggers unless a test
    // passes its own Temporal (never the local stack's)
    TEMPORAL_ADDRESS: '127.0.0.1:1',
    // tests pass their own coupon secret (never defaulted outside the demo)
    COUPON_SECRET: 'test-only-coupon-secret-0123456789abcdef',
    ...overrides,
  });
}
