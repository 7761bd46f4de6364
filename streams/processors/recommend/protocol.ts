// The recommendation service's wire contract: the request and reply shapes, their bounds, and the
// parsing that turns a request's bytes into a checked RecommendRequest or one clear error. Pure.
import { z } from 'zod';
import { MAX_K, type RecommendContext, type Recommendation } from './recommend';

export const MAX_SKUS_IN_CONTEXT = 100;
export const MAX_TEXT_LENGTH = 2_000;

export interface RecommendRequest {
  shopId: string;
  /** The customer; or `anonymousId` before login; neither: recommendations from context and rules only. */
  userId?: string;
  anonymousId?: string;
  context?: RecommendContext;
  /** 1..100, default 10. */
  k?: number;
}

export interface RecommendReply {
  items: Recommendation[];
  /** Time the service spent on the request (ms). */
  tookMs: number;
}

export type RecommendErrorCode = 'BAD_REQUEST' | 'INTERNAL';

export interface RecommendErrorReply {
  error: string;
  code: RecommendErrorCode;
}

const skuList = z
  .array(z.string().min(1, 'must not contain empty skus'), { error: 'must be an array of sku strings' })
  .max(MAX_SKUS_IN_CONTEXT, `must list at most ${MAX_SKUS_IN_CONTEXT} skus`);

const requestSchema = z.strictObject(
  {
    shopId: z
      .string({ error: 'is required: the shop to recommend for (a non-empty string)' })
      .trim()
      .min(1, 'is required: the shop to recommend for (a non-empty string)'),
    userId: z.string({ error: 'must be a string' }).optional(),
    anonymousId: z.string({ error: 'must be a string' }).optional(),
    context: z
      .strictObject(
        {
          cartSkus: skuList.optional(),
          viewingSkus: skuList.optional(),
          text: z
            .string({ error: 'must be a string' })
            .max(MAX_TEXT_LENGTH, `must be at most ${MAX_TEXT_LENGTH} characters`)
            .optional(),
        },
        { error: 'must be an object with cartSkus, viewingSkus and text (all optional)' },
      )
      .optional(),
    k: z
      .number({ error: `must be an integer from 1 to ${MAX_K}` })
      .int(`must be an integer from 1 to ${MAX_K}`)
      .min(1, `must be an integer from 1 to ${MAX_K}`)
      .max(MAX_K, `must be an integer from 1 to ${MAX_K}`)
      .optional(),
  },
  { error: 'the request must be a JSON object such as {"shopId":"demo-shop","userId":"u1","k":10}' },
);

export class RecommendRequestError extends Error {
  override readonly name = 'RecommendRequestError';
  readonly code = 'BAD_REQUEST';
}

/**
 * Parses and checks a request (bytes or an already parsed value); throws RecommendRequestError
 * with one message listing every problem by field, e.g. `k: must be an integer from 1 to 100`.
 */
export function parseRecommendRequest(raw: unknown): RecommendRequest {
  let value: unknown = raw;
  if (raw instanceof Uint8Array) {
    const text = Buffer.from(raw).toString('utf8');
    if (!text.trim())
      throw new RecommendRequestError('empty request: send a JSON object with at least shopId');
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new RecommendRequestError(`the request is not valid JSON: ${(err as Error).message}`);
    }
  }
  const parsed = requestSchema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      if (i.code === 'unrecognized_keys')
        return `${[...i.path, ''].join('.')}unknown field(s) ${i.keys.join(', ')} (expected shopId, userId, anonymousId, context{cartSkus, viewingSkus, text}, k)`;
      return i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message;
    });
    throw new RecommendRequestError(problems.join('; '));
  }
  const r = parsed.data;
  const out: RecommendRequest = { shopId: r.shopId };
  if (r.userId) out.userId = r.userId;
  if (r.anonymousId) out.anonymousId = r.anonymousId;
  if (r.context) out.context = r.context;
  if (r.k !== undefined) out.k = r.k;
  return out;
}
