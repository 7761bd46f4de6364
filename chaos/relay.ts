// The shop's message relay for the chaos scenarios: every flow channel points at it (CHANNEL_* = its
// URL), so each reminder that leaves shopstream arrives here, signed, with its Idempotency-Key. It
// counts what a shopper would receive: messages (distinct keys), attempts (a worker killed between the
// POST and the activity's completion retries with the same key, which a receiver drops), and messages
// doubled: one step of one flow delivered under two different keys (a second run of the same flow).
import Fastify, { type FastifyInstance } from 'fastify';
import { IDEMPOTENCY_HEADER, SIGNATURE_HEADER, verifySignature } from '../activities/channels/webhook';

export interface RelayFigures {
  messages: number;
  attempts: number;
  /** Requests with a missing or wrong signature (none expected). */
  badSignatures: number;
  /** Flow steps (workflow id + step) delivered under more than one key. */
  doubled: number;
}

export interface Relay {
  url: string;
  /** The HMAC secret the channels sign with (CHANNEL_SECRET). */
  secret: string;
  figures(): RelayFigures;
  close(): Promise<void>;
}

export async function startRelay(secret: string): Promise<Relay> {
  const keys = new Map<string, number>(); // key -> attempts
  let badSignatures = 0;
  const app: FastifyInstance = Fastify({ logger: false, bodyLimit: 64 * 1024 });
  // the raw body: the signature covers the exact bytes
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  app.post('/relay', (req, reply) => {
    const signature = req.headers[SIGNATURE_HEADER.toLowerCase()];
    const key = req.headers[IDEMPOTENCY_HEADER.toLowerCase()];
    const body = typeof req.body === 'string' ? req.body : '';
    if (
      typeof signature !== 'string' ||
      typeof key !== 'string' ||
      !verifySignature(secret, signature, body, 300).ok
    ) {
      badSignatures++;
      return reply.code(401).send({ error: 'bad signature' });
    }
    keys.set(key, (keys.get(key) ?? 0) + 1);
    return reply.code(200).send({ id: key });
  });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url: `${address}/relay`,
    secret,
    figures() {
      // a message key is <workflow id>/<first run id>/<step>: one step under two run ids was sent twice
      const runs = new Map<string, Set<string>>();
      for (const key of keys.keys()) {
        const parts = key.split('/');
        const step = `${parts.slice(0, -2).join('/')}/${parts.at(-1)}`;
        const set = runs.get(step) ?? new Set<string>();
        set.add(parts.at(-2) ?? '');
        runs.set(step, set);
      }
      return {
        messages: keys.size,
        attempts: [...keys.values()].reduce((a, b) => a + b, 0),
        badSignatures,
        doubled: [...runs.values()].filter((s) => s.size > 1).length,
      };
    },
    close: () => app.close(),
  };
}
