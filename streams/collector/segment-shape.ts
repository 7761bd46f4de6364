// The collector's Segment input shape: track calls with Segment e-commerce v2 events, and the page,
// screen, identify, group and alias calls, mapped to our events (amounts through Reader.money, money.ts). Pure.
import type { ValidationIssue } from '../../schemas/validate';
import type { EventType, Product } from '../../schemas/events';
import {
  clockSkew,
  compact,
  eventIdFor,
  isObject,
  issue,
  parseChannel,
  parseTime,
  parseTimeZone,
  Reader,
  type Draft,
  type MappingContext,
  type Obj,
} from './fields';

/** Segment e-commerce v2 event names we collect (matched case-insensitively), and what they become. */
export const SEGMENT_EVENTS = {
  'Product Viewed': 'product_viewed',
  'Product List Filtered': 'product_list_filtered',
  'Products Searched': 'products_searched',
  'Product Added': 'cart_item_added',
  'Product Removed': 'cart_item_removed',
  'Checkout Started': 'checkout_started',
  'Order Completed': 'order_placed',
  'Order Refunded': 'order_refunded',
} as const satisfies Record<string, EventType>;

export type SegmentEventType = (typeof SEGMENT_EVENTS)[keyof typeof SEGMENT_EVENTS];
export const SEGMENT_BY_NAME = new Map(
  Object.entries(SEGMENT_EVENTS).map(([name, type]) => [name.toLowerCase(), type]),
);
/** Segment calls other than track, and the event each becomes. */
export const SEGMENT_CALLS = {
  page: 'page_viewed',
  screen: 'screen_viewed',
  identify: 'user_identified',
  group: 'group_joined',
  alias: 'user_aliased',
} as const satisfies Record<string, EventType>;
export type SegmentCallType = (typeof SEGMENT_CALLS)[keyof typeof SEGMENT_CALLS];
export const MAX_TRAITS = 64;
/** Segment's own channel values; anything else must be one of ours. Missing: web (browser SDKs). */
const SEGMENT_CHANNEL_ALIASES: Record<string, string> = { browser: 'web', mobile: 'app', server: 'server' };
const SEGMENT_DEFAULT_CHANNEL = 'web';

/** Segment's product properties are all optional: without a sku, the product_id stands in for it. */
function segmentProduct(r: Reader, currency: string | undefined): Product {
  const productId = r.str('product_id');
  return compact({
    sku: r.str('sku') ?? productId,
    productId,
    name: r.str('name'),
    category: r.str('category'),
    brand: r.str('brand'),
    variant: r.str('variant'),
    priceMinor: r.money('price', currency),
    quantity: r.num('quantity'),
  });
}

const typeValue = (r: Reader): Obj => compact({ type: r.str('type'), value: r.str('value') });
const products = (r: Reader, c: string | undefined): Product[] | undefined =>
  r.list('products')?.map((p) => segmentProduct(p, c));
/** The first of several Segment names for one amount that is present. */
const firstMoney = (r: Reader, keys: string[], c: string | undefined): number | undefined =>
  r.money(keys.find((k) => r.obj[k] !== undefined && r.obj[k] !== null) ?? keys[0]!, c);

const SEGMENT_PAYLOADS: Record<SegmentEventType, (r: Reader, currency: string | undefined) => Obj> = {
  product_viewed: (r, c) => ({ product: segmentProduct(r, c), currency: c }),
  product_list_filtered: (r) => ({
    listId: r.str('list_id'),
    category: r.str('category'),
    filters: r.list('filters')?.map(typeValue),
    sorts: r.list('sorts')?.map(typeValue),
    resultCount: r.num('result_count'),
  }),
  products_searched: (r) => ({ query: r.str('query'), resultCount: r.num('result_count') }),
  cart_item_added: (r, c) => ({ cartId: r.str('cart_id'), product: segmentProduct(r, c), currency: c }),
  cart_item_removed: (r, c) => ({ cartId: r.str('cart_id'), product: segmentProduct(r, c), currency: c }),
  checkout_started: (r, c) => ({
    cartId: r.str('cart_id'),
    products: products(r, c),
    totalMinor: firstMoney(r, ['total', 'value', 'revenue'], c),
    currency: c,
  }),
  order_placed: (r, c) => ({
    orderId: r.str('order_id'),
    cartId: r.str('cart_id'),
    products: products(r, c),
    totalMinor: firstMoney(r, ['total', 'revenue'], c),
    discountMinor: r.money('discount', c),
    couponCode: r.str('coupon'),
    currency: c,
  }),
  order_refunded: (r, c) => ({
    orderId: r.str('order_id'),
    products: products(r, c),
    totalMinor: firstMoney(r, ['total', 'revenue'], c),
    currency: c,
  }),
};

/** Traits as name + JSON text, in the order sent; more than MAX_TRAITS is an issue. */
function traits(r: Reader, key: string): Obj[] | undefined {
  const v = r.obj[key];
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) return void r.issues.push(issue(key, 'type', `${key} must be an object`));
  const entries = Object.entries(v).filter(([, value]) => value !== undefined);
  if (entries.length > MAX_TRAITS)
    r.issues.push(issue(key, 'max_len', `at most ${MAX_TRAITS} ${key}, got ${entries.length}`));
  return entries.slice(0, MAX_TRAITS).map(([name, value]) => ({ name, value: JSON.stringify(value) }));
}

/** A page call's field: from properties (Segment's spec), else context.page (analytics.js). */
const pageField = (props: Reader, page: Reader, key: string): string | undefined =>
  props.str(key) ?? page.str(key);

export const SEGMENT_CALL_PAYLOADS: Record<SegmentCallType, (raw: Reader) => Obj> = {
  page_viewed: (r) => {
    const props = r.child('properties');
    const page = r.child('context').child('page');
    return {
      name: r.str('name'),
      category: r.str('category') ?? props.str('category'),
      url: pageField(props, page, 'url'),
      path: pageField(props, page, 'path'),
      referrer: pageField(props, page, 'referrer'),
      title: pageField(props, page, 'title'),
      search: pageField(props, page, 'search'),
    };
  },
  screen_viewed: (r) => ({
    name: r.str('name'),
    category: r.str('category') ?? r.child('properties').str('category'),
  }),
  user_identified: (r) => ({
    traits: traits(r, 'traits') ?? traits(new Reader(r.child('context').obj, 'context', r.issues), 'traits'),
  }),
  group_joined: (r) => ({ groupId: r.str('groupId', 'group_joined.group_id'), traits: traits(r, 'traits') }),
  user_aliased: (r) => ({ previousId: r.str('previousId', 'user_aliased.previous_id') }),
};

export function mapSegment(
  raw: Obj,
  type: SegmentEventType | SegmentCallType,
  ctx: MappingContext,
  payload: (r: Reader) => Obj,
): Draft {
  const issues: ValidationIssue[] = [];
  const r = new Reader(raw, '', issues);
  const context = r.child('context');
  const skew = clockSkew(raw['sentAt'] ?? ctx.sentAt, ctx.receivedAt, issues);
  const clientTime = parseTime(raw['timestamp'] ?? raw['originalTimestamp'], 'timestamp', issues);
  const occurredAt = clientTime === undefined ? ctx.receivedAt : clientTime + skew;
  const channel = context.obj['channel'] ?? raw['channel'] ?? SEGMENT_DEFAULT_CHANNEL;
  const draft = {
    type,
    eventId: eventIdFor(r.str('messageId', 'event_id'), ctx.shopId),
    userId: r.str('userId', 'user_id') ?? '',
    anonymousId: r.str('anonymousId', 'anonymous_id') ?? '',
    sessionId: context.str('sessionId', 'session_id') ?? context.str('session_id', 'session_id') ?? '',
    channel: parseChannel(channel, 'context.channel', issues, SEGMENT_CHANNEL_ALIASES),
    occurredAt,
    timeZone: parseTimeZone(context, 'timezone', 'context.timezone'),
    issues,
  };
  return { ...draft, payload: compact(payload(r)) };
}

export function segmentTrack(r: Reader, type: SegmentEventType): Obj {
  const props = r.child('properties');
  return SEGMENT_PAYLOADS[type](props, props.str('currency')?.toUpperCase());
}
