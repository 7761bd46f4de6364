// Who may send what: the write key of a request, the user token of an event, and why an event may not
// come from a key (its trust level, the shop's user tokens; the rules themselves live in trust.ts and
// user-token.ts).
import type { IncomingHttpHeaders } from 'node:http';
import type { Config } from '../../infra/config';
import { payloadTypeOf, type EnvelopeInit } from '../../schemas/events';
import type { RejectReason } from './outcome';
import { isObject } from './request';
import { publicKeyRefusal, type KeyOwner } from './trust';
import { verifyUserToken } from './user-token';

/** The write key from `Authorization: Basic base64(key:)` (Segment), `Bearer <key>` or `X-Write-Key`. */
export function writeKeyFrom(headers: IncomingHttpHeaders): string | undefined {
  const [scheme = '', value = ''] = (headers.authorization ?? '').trim().split(/\s+/, 2);
  if (/^basic$/i.test(scheme))
    return Buffer.from(value, 'base64').toString('utf8').split(':')[0] || undefined;
  if (/^bearer$/i.test(scheme)) return value || undefined;
  const header = headers['x-write-key'];
  return typeof header === 'string' && header !== '' ? header : undefined;
}

export const UNAUTHORIZED_MESSAGE =
  'a valid write key is required: Authorization: Basic base64(<write key>:), Bearer <write key>, X-Write-Key, or "writeKey" in the body';
export const NO_KEYS_MESSAGE =
  'this collector has no write keys configured: set COLLECTOR_WRITE_KEYS (public) or COLLECTOR_SERVER_KEYS (server) as shop_id:key pairs';

/** The user token of an event: its context.userToken, else the request's X-User-Token header. */
function userTokenOf(raw: unknown, headers: IncomingHttpHeaders): string | undefined {
  const context = isObject(raw) ? raw['context'] : undefined;
  const inEvent = isObject(context) ? (context['userToken'] ?? context['user_token']) : undefined;
  if (typeof inEvent === 'string' && inEvent !== '') return inEvent;
  const header = headers['x-user-token'];
  return typeof header === 'string' && header !== '' ? header : undefined;
}

/** Why this event may not come from this key (trust level, user token); undefined when it may. */
export function eventRefusal(
  owner: KeyOwner,
  envelope: EnvelopeInit,
  raw: unknown,
  headers: IncomingHttpHeaders,
  userTokenSecrets: Config['collector']['userTokenSecrets'],
  nowMs: number,
): { reason: RejectReason; message: string } | undefined {
  if (owner.trust === 'server') return undefined;
  const forbidden = publicKeyRefusal(payloadTypeOf(envelope)!, envelope);
  if (forbidden) return { reason: 'forbidden_event', message: forbidden };
  const secret = userTokenSecrets[owner.shopId];
  if (secret === undefined || !envelope.userId) return undefined;
  const check = verifyUserToken(secret, userTokenOf(raw, headers), owner.shopId, envelope.userId, nowMs);
  return check.ok ? undefined : { reason: 'unauthenticated_user', message: check.message };
}
