// App push adapter: title, body and a data map (string values, as FCM and APNs custom keys want) with
// a deep link into the app: the cart when the message is about one, else the coupon, else the app.
// Device tokens are the relay's business: the payload names the recipient by shopId and userId.
import type { MessageChannel, Transport } from './channel';
import type { MessageVars, RenderedMessage } from './templates';
import { createTemplateChannel } from './webhook';

export interface AppPushPayload {
  push: { title: string; body: string; data: Record<string, string> };
}

export interface AppPushOptions {
  /** Prefix of deep links; `<base>cart/<cartId>`, `<base>coupons/<code>`. */
  deepLinkBase?: string;
}

export const DEFAULT_DEEP_LINK_BASE = 'shopstream://';

export function toAppPushPayload(
  message: RenderedMessage,
  vars: MessageVars,
  options: AppPushOptions = {},
): AppPushPayload {
  const base = options.deepLinkBase ?? DEFAULT_DEEP_LINK_BASE;
  const cartId = present(vars, 'cartId');
  const couponCode = present(vars, 'couponCode');
  const deepLink = cartId
    ? `${base}cart/${encodeURIComponent(cartId)}`
    : couponCode
      ? `${base}coupons/${encodeURIComponent(couponCode)}`
      : base;
  const data: Record<string, string> = { template: message.template, deepLink };
  if (cartId) data['cartId'] = cartId;
  if (couponCode) data['couponCode'] = couponCode;
  return { push: { title: message.title, body: message.body, data } };
}

export function createAppPushChannel(transport: Transport, options: AppPushOptions = {}): MessageChannel {
  return createTemplateChannel('app_push', transport, (message, vars) =>
    toAppPushPayload(message, vars, options),
  );
}

function present(vars: MessageVars, name: string): string | undefined {
  const v = vars[name];
  return v === undefined || v === '' ? undefined : String(v);
}
