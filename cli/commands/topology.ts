import type { Config } from '../../infra/config';
import { connectNats } from '../../infra/nats';
import { names } from '../../streams/topology';
import { applyTopology, checkTopology } from '../../streams/topology-apply';

export async function apply(config: Config): Promise<void> {
  const nc = await connectNats(config.nats, 'shopstream-cli');
  try {
    const r = await applyTopology(await nc.jetstreamManager(), config);
    const n = names(config.nats.prefix);
    console.log(
      `topology applied at ${config.nats.url}: streams ${n.eventsStream}, ${n.dlqStream}; consumer ${n.eventsStream}/${n.sinkConsumer}`,
    );
    if (r.created.length) console.log(`  created: ${r.created.join(', ')}`);
    if (r.updated.length) console.log(`  updated: ${r.updated.join(', ')}`);
  } finally {
    await nc.close();
  }
}

export async function check(config: Config): Promise<void> {
  const nc = await connectNats(config.nats, 'shopstream-cli');
  try {
    const n = names(config.nats.prefix);
    await checkTopology(await nc.jetstreamManager(), config, {
      consumers: [{ stream: n.eventsStream, name: n.sinkConsumer }],
    });
    console.log('topology ok');
  } finally {
    await nc.close();
  }
}
