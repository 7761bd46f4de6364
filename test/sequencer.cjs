// Slowest test files first, also on a fresh clone (no timing cache yet: jest would order by file size
// and could start a two-minute file last, leaving one worker idle). Seconds each took in a CI run on
// 2 cores; jest's own cached timings win once it has them. Files not listed count as 1 s.
const path = require('node:path');
const Sequencer = require('@jest/test-sequencer').default;

const KNOWN_SECONDS = {
  'chaos.int': 119,
  'nats-cluster.int': 103,
  'demo.e2e': 89,
  'temporal-restart.int': 60,
  'worker-restart.int': 46,
  'sink-crash.int': 40,
  'interest.int': 38,
  'clickhouse-outage.int': 35,
  'triggers.int': 27,
  'dlq.int': 23,
  'cart-recovery': 20,
  nlu: 20,
  'recommend.int': 18,
  escalation: 17,
  'worker-health.int': 15,
};

class SlowFirst extends Sequencer {
  time(test) {
    const cached = super.time(test);
    if (cached != null) return cached;
    const name = path.basename(test.path).replace(/\.test\.ts$/, '');
    return (KNOWN_SECONDS[name] ?? 1) * 1000;
  }
}

module.exports = SlowFirst;
