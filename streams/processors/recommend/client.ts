// The typed client of the recommendation service: one NATS request to any instance, its errors as
// RecommendServiceError with a code.
import type { Msg, NatsConnection } from 'nats';
import { names } from '../../topology';
import type { RecommendErrorCode, RecommendErrorReply, RecommendReply, RecommendRequest } from './protocol';

export const DEFAULT_REQUEST_TIMEOUT_MS = 2_000;

export class RecommendServiceError extends Error {
  override readonly name = 'RecommendServiceError';
  constructor(
    message: string,
    readonly code: RecommendErrorCode | 'NO_SERVICE' | 'TIMEOUT',
  ) {
    super(message);
  }
}

/**
 * Asks the recommendation service (any instance) for recommendations. Throws RecommendServiceError:
 * `BAD_REQUEST` (the message says which field), `INTERNAL`, `NO_SERVICE` (nobody listens on the
 * subject), `TIMEOUT`.
 */
export async function requestRecommendations(
  nc: NatsConnection,
  prefix: string,
  req: RecommendRequest,
  timeoutMs: number = DEFAULT_REQUEST_TIMEOUT_MS,
): Promise<RecommendReply> {
  const subject = names(prefix).recommendSubject;
  let m: Msg;
  try {
    m = await nc.request(subject, Buffer.from(JSON.stringify(req)), { timeout: timeoutMs });
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (e.code === '503')
      throw new RecommendServiceError(
        `no recommendation service is listening on ${subject} (start the pipeline service: npx shopstream serve)`,
        'NO_SERVICE',
      );
    if (e.code === 'TIMEOUT')
      throw new RecommendServiceError(`no reply on ${subject} within ${timeoutMs} ms`, 'TIMEOUT');
    throw err;
  }
  const body = JSON.parse(Buffer.from(m.data).toString('utf8')) as RecommendReply | RecommendErrorReply;
  if ('error' in body) throw new RecommendServiceError(body.error, body.code);
  return body;
}
