// Who is chatting, by the collector's own rules (streams/collector/auth.ts, trust.ts, user-token.ts):
// the write key names the shop (a public key may send the user's own chat turns); a user id needs the
// shop's signed user token when the shop has a user-token secret; without a user id, an anonymous id.
// Browsers cannot set headers on a WebSocket or an EventSource, so the key and the token may also come
// in the query (`key`, `userToken`); headers win.
import type { IncomingHttpHeaders } from 'node:http';
import type { Config } from '../../infra/config';
import { chatRoleValue, type EnvelopeInit } from '../../schemas/events';
import { USER_ID_RE, USER_ID_RULE } from '../../schemas/ids';
import { eventRefusal, UNAUTHORIZED_MESSAGE, writeKeyFrom } from '../collector/auth';
import type { KeyTable } from '../collector/trust';
import type { Checked, Identity } from './hub';

export interface Credentials {
  headers: IncomingHttpHeaders;
  /** Query or body fields: key, userId, userToken, anonymousId. */
  fields: Record<string, unknown>;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

export function identify(
  keys: KeyTable,
  secrets: Config['collector']['userTokenSecrets'],
  { headers, fields }: Credentials,
  nowMs: number,
): Checked<Identity> {
  const owner = keys.lookup(writeKeyFrom(headers) ?? str(fields['key']) ?? str(fields['writeKey']));
  if (!owner)
    return { ok: false, error: { status: 401, code: 'unauthorized', message: UNAUTHORIZED_MESSAGE } };
  const userId = str(fields['userId']);
  const anonymousId = str(fields['anonymousId']);
  for (const [name, id] of [
    ['userId', userId],
    ['anonymousId', anonymousId],
  ] as const)
    if (id !== undefined && !USER_ID_RE.test(id))
      return { ok: false, error: { status: 400, code: 'invalid_user', message: `${name} ${USER_ID_RULE}` } };
  if (!userId && !anonymousId)
    return {
      ok: false,
      error: {
        status: 400,
        code: 'missing_user',
        message: 'a userId (with its userToken) or an anonymousId is required',
      },
    };
  // the collector's check of a user turn from this key, token included
  const envelope: EnvelopeInit = {
    shopId: owner.shopId,
    ...(userId ? { userId } : { anonymousId: anonymousId! }),
    chatTurn: { role: chatRoleValue('user') },
  };
  const token = str(fields['userToken']);
  const refused = eventRefusal(owner, envelope, { context: { userToken: token } }, headers, secrets, nowMs);
  if (refused) return { ok: false, error: { status: 401, code: refused.reason, message: refused.message } };
  return {
    ok: true,
    value: { shopId: owner.shopId, ...(userId ? { userId } : { anonymousId: anonymousId! }) },
  };
}
