// Signed user tokens: a shop's own backend vouches that a browser session belongs to a user, so a
// public write key cannot send events as somebody else. Pure: no I/O; the caller passes the clock.
//
// Format (documented in the README):   v1.<expires>.<signature>
//   expires    Unix time in seconds after which the token is refused
//   signature  base64url (no padding) of HMAC-SHA256(secret, "v1\n<shop_id>\n<user_id>\n<expires>")
// The user id is not in the token: the event's user_id is, and the signature binds the two.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const USER_TOKEN_VERSION = 'v1';
const TOKEN_RE = /^v1\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/;

export interface UserTokenClaims {
  shopId: string;
  userId: string;
  /** Unix seconds. */
  expiresAt: number;
}

function signature(secret: string, c: UserTokenClaims): Buffer {
  return createHmac('sha256', secret)
    .update(`${USER_TOKEN_VERSION}\n${c.shopId}\n${c.userId}\n${c.expiresAt}`)
    .digest();
}

/** A token for the shop's backend to hand to a logged-in user's browser or app. */
export function signUserToken(secret: string, claims: UserTokenClaims): string {
  return `${USER_TOKEN_VERSION}.${claims.expiresAt}.${signature(secret, claims).toString('base64url')}`;
}

export type UserTokenCheck = { ok: true } | { ok: false; message: string };

/** Whether `token` binds `userId` to `shopId` and has not expired at `nowMs`. Constant-time compare. */
export function verifyUserToken(
  secret: string,
  token: string | undefined,
  shopId: string,
  userId: string,
  nowMs: number,
): UserTokenCheck {
  if (!token) return { ok: false, message: 'a signed user token is required for user_id (X-User-Token)' };
  const m = TOKEN_RE.exec(token);
  if (!m) return { ok: false, message: 'the user token is not v1.<expires>.<signature>' };
  const expiresAt = Number(m[1]);
  const given = Buffer.from(m[2]!, 'base64url');
  const expected = signature(secret, { shopId, userId, expiresAt });
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, message: 'the user token was not signed for this user_id' };
  if (expiresAt * 1000 <= nowMs) return { ok: false, message: 'the user token has expired' };
  return { ok: true };
}
