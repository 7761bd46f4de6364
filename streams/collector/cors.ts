// CORS for the collector: browsers post from the shop's pages; the write key is public, no cookies are
// read. COLLECTOR_CORS_ORIGINS is '*' or a comma-separated list of origins.
import type { FastifyInstance } from 'fastify';

export function registerCors(app: FastifyInstance, origins: string): void {
  const corsOrigins =
    origins.trim() === '*'
      ? '*'
      : new Set(
          origins
            .split(',')
            .map((o) => o.trim())
            .filter(Boolean),
        );
  app.addHook('onRequest', async (req, reply) => {
    const origin = req.headers.origin;
    if (origin === undefined) return;
    if (corsOrigins === '*') reply.header('access-control-allow-origin', '*');
    else if (corsOrigins.has(origin))
      reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
    else return;
    reply.header('access-control-expose-headers', 'Retry-After');
  });
  app.options('/v1/*', async (_req, reply) => {
    reply
      .code(204)
      .header('access-control-allow-methods', 'POST, OPTIONS')
      .header(
        'access-control-allow-headers',
        'Authorization, Content-Type, Content-Encoding, X-Write-Key, X-User-Token',
      )
      .header('access-control-max-age', '86400');
    return reply.send();
  });
}
