// Runnable example of the producer SDK: `npx tsx examples/producer.ts` with the stack up (make up).
// NATS_URL, SHOPSTREAM_PREFIX and the NATS credentials (NATS_USER / NATS_PASSWORD: a shop's server
// connects as the `producer` role, RELIABILITY.md) are read from the environment like everywhere
// else; on the local stack, without them, the producer role's password from .data/local.env.
import { loadConfig } from '../infra/config';
import { loadEnvFiles } from '../infra/stack/local-env';
import { roleCredentials } from '../streams/permissions';
import { createProducer } from '../streams/producer/producer';
import { EventValidationError } from '../schemas/validate';

export async function main(): Promise<void> {
  loadEnvFiles();
  const config = loadConfig({ ...process.env, ...roleCredentials('producer', process.env) });
  const producer = await createProducer({ nats: config.nats, shopId: 'demo-shop', maxInFlight: 500 });
  try {
    // Typed per event type: the properties are checked by the compiler, then by the schema rules.
    const viewed = await producer.track('product_viewed', {
      userId: 'u-42',
      sessionId: 's-1',
      channel: 'web',
      properties: {
        product: { sku: 'PHO-0001', name: 'Orbit phone 12', category: 'phones', priceMinor: 49999 },
        currency: 'USD',
      },
    });
    console.log(`product_viewed stored as ${viewed.stream}#${viewed.seq} (event ${viewed.eventId})`);

    // Give your own event id to make a retried call idempotent: the second one is a duplicate.
    const eventId = viewed.eventId.replace(/.$/, (c) => (c === 'Z' ? 'Y' : 'Z'));
    const order = {
      orderId: 'o-1',
      products: [{ sku: 'PHO-0001', priceMinor: 49999, quantity: 1 }],
      totalMinor: 49999,
      currency: 'USD',
    };
    await producer.track('order_placed', { userId: 'u-42', channel: 'web', eventId, properties: order });
    const again = await producer.track('order_placed', {
      userId: 'u-42',
      channel: 'web',
      eventId,
      properties: order,
    });
    console.log(`same event_id again: duplicate=${again.duplicate}`);

    // Invalid events never leave the process: the error says which field is wrong.
    try {
      await producer.track('cart_item_added', {
        userId: 'u-42',
        channel: 'web',
        properties: { cartId: 'c-1', product: { sku: '' } },
      });
    } catch (err) {
      if (!(err instanceof EventValidationError)) throw err;
      console.log(`rejected: ${err.issues.map((i) => `${i.path} ${i.message}`).join(', ')}`);
    }
  } finally {
    await producer.close(); // waits for every publish to be acked
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
