// Pure: an Envelope becomes one row of the events table. Common payload fields get typed columns for
// fast analytics; the whole payload is kept as JSON in `properties`. Total: no decodable envelope
// makes these functions throw (the validator keeps bad values out; these never trust it to).
import {
  camelToSnake,
  channelName,
  chatRoleName,
  payloadField,
  type Envelope,
  type EventType,
  type Product,
} from '../../../schemas/events';
import { userKey } from '../../topology';

export interface EventRow {
  event_id: string;
  event_type: EventType;
  schema_version: number;
  shop_id: string;
  user_key: string;
  user_id: string;
  anonymous_id: string;
  session_id: string;
  channel: string;
  occurred_at: string;
  sequence: number;
  producer_id: string;
  time_zone: string;
  sku: string;
  product_id: string;
  category: string;
  brand: string;
  price_minor: number;
  quantity: number;
  cart_id: string;
  cart_total_minor: number;
  order_id: string;
  total_minor: number;
  discount_minor: number;
  coupon_code: string;
  currency: string;
  search_query: string;
  result_count: number;
  conversation_id: string;
  chat_role: string;
  chat_text: string;
  flow: string;
  workflow_id: string;
  campaign_id: string;
  tier: string;
  properties: string;
  stream_seq: number;
}

/** What a DateTime64(3) column holds: 1900-01-01 to 2299-12-31. */
const CH_TIME_MIN_MS = Date.UTC(1900, 0, 1);
const CH_TIME_MAX_MS = Date.UTC(2299, 11, 31, 23, 59, 59, 999);

/**
 * '2026-11-24 05:13:25.123', the unambiguous DateTime64(3, 'UTC') text form. Never throws: a time
 * outside the column's range is clamped to it, and one that is not a number is the epoch.
 */
export function toClickHouseTime(ms: number): string {
  const t = Number.isFinite(ms) ? Math.min(CH_TIME_MAX_MS, Math.max(CH_TIME_MIN_MS, ms)) : 0;
  return new Date(t).toISOString().replace('T', ' ').replace('Z', '');
}

const ENUM_NAMES: Record<string, (v: number) => string> = { role: chatRoleName, channel: channelName };

/**
 * The fields a decoded message carries (its own properties: defaults live on the prototype), with
 * snake_case names and enum names, for the `properties` JSON column.
 */
function present(v: unknown, key = ''): unknown {
  if (Array.isArray(v)) return v.map((x) => present(x));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (k.startsWith('$') || x === null || x === undefined) continue;
      out[camelToSnake(k)] = present(x, k);
    }
    return out;
  }
  if (typeof v === 'number' && ENUM_NAMES[key]) return ENUM_NAMES[key](v);
  return v;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** How a coupon code in an event becomes what analysts may see. */
export type CouponCodeView = (code: string) => string;

/** Without the coupon secret: the code masked, as in logs ('K7QF***'). */
export const maskCouponCode: CouponCodeView = (code) => (code === '' ? '' : `${code.slice(0, 4)}***`);

/** Flows' events already carry a ref ('cr_...', coupons/coupon-ledger.ts couponRef): kept as is. */
const COUPON_REF = /^cr_[0-9a-z]{20}$/;

/**
 * The payload with its coupon code (an order's, or any event's that is not already a ref) replaced by
 * what analysts may see: codes work like cash and never reach the events table in plain text.
 */
function withCouponView(p: Record<string, unknown>, view: CouponCodeView): Record<string, unknown> {
  const code = p['couponCode'];
  if (typeof code !== 'string' || code === '' || COUPON_REF.test(code)) return p;
  return { ...p, couponCode: view(code) }; // the row reads own fields only: defaults read as absent
}

export function toEventRow(
  e: Envelope,
  type: EventType,
  streamSeq: number,
  couponView: CouponCodeView = maskCouponCode,
): EventRow {
  const field = payloadField(type);
  const p = withCouponView((e[field] ?? {}) as Record<string, unknown>, couponView);
  const product = (p['product'] ?? {}) as Product;
  const row: EventRow = {
    event_id: e.eventId,
    event_type: type,
    schema_version: e.schemaVersion,
    shop_id: e.shopId,
    user_key: userKey(e),
    user_id: e.userId,
    anonymous_id: e.anonymousId,
    session_id: e.sessionId,
    channel: channelName(e.channel),
    occurred_at: toClickHouseTime(e.occurredAt),
    sequence: e.sequence,
    producer_id: e.producerId,
    time_zone: e.timeZone,
    sku: str(product.sku),
    product_id: str(product.productId),
    category: str(product.category) || str(p['category']),
    brand: str(product.brand),
    price_minor: num(product.priceMinor),
    quantity: num(product.quantity),
    cart_id: str(p['cartId']),
    cart_total_minor: num(p['cartTotalMinor']),
    order_id: str(p['orderId']),
    total_minor: num(p['totalMinor']),
    discount_minor: num(p['discountMinor']) || num(p['amountMinor']),
    coupon_code: str(p['couponCode']),
    currency: str(p['currency']),
    search_query: str(p['query']),
    result_count: num(p['resultCount']),
    conversation_id: str(p['conversationId']),
    chat_role: type === 'chat_turn' ? chatRoleName(p['role'] as number) : '',
    chat_text: str(p['text']),
    flow: str(p['flow']),
    workflow_id: str(p['workflowId']),
    campaign_id: str(p['campaignId']),
    tier: str(p['tier']),
    properties: JSON.stringify(present(p)),
    stream_seq: streamSeq,
  };
  return row;
}
