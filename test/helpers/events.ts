// Builders for test events: valid by default, override what a test is about.
import {
  SCHEMA_VERSION,
  channelValue,
  payloadField,
  type EnvelopeInit,
  type EventType,
  type PayloadMap,
} from '../../schemas/events';
import { newEventId } from '../../schemas/ulid';

export const sampleProduct = {
  sku: 'PHO-0001',
  productId: 'PHO-0001',
  name: 'Orbit phone 12',
  category: 'phones',
  brand: 'Orbit',
  priceMinor: 49999,
  quantity: 1,
};

export const samplePayloads: { [T in EventType]: PayloadMap[T] } = {
  product_viewed: { product: sampleProduct, currency: 'USD' },
  product_list_filtered: {
    category: 'phones',
    filters: [{ type: 'price', value: '0-500' }],
    sorts: [{ type: 'price', value: 'asc' }],
    resultCount: 12,
  },
  products_searched: { query: 'large power bank', resultCount: 7 },
  cart_item_added: { cartId: 'c1', product: sampleProduct, cartTotalMinor: 49999, currency: 'USD' },
  cart_item_removed: { cartId: 'c1', product: sampleProduct, cartTotalMinor: 0, currency: 'USD' },
  cart_item_quantity_changed: {
    cartId: 'c1',
    product: { ...sampleProduct, quantity: 2 },
    previousQuantity: 1,
    cartTotalMinor: 99998,
    currency: 'USD',
  },
  checkout_started: { cartId: 'c1', products: [sampleProduct], totalMinor: 49999, currency: 'USD' },
  order_placed: {
    orderId: 'o1',
    cartId: 'c1',
    products: [sampleProduct],
    totalMinor: 49999,
    couponCode: 'SAVE10',
    discountMinor: 1000,
    currency: 'USD',
  },
  order_refunded: { orderId: 'o1', products: [sampleProduct], totalMinor: 49999, currency: 'USD' },
  chat_turn: {
    conversationId: 'conv1',
    role: 1,
    text: 'does it have a long battery life?',
    channel: 1,
    turnIndex: 0,
  },
  handoff_requested: {
    conversationId: 'conv1',
    reason: 'low_confidence',
    confidence: 0.25,
    intent: 'order_status',
    turnIndex: 3,
  },
  agent_accepted: { conversationId: 'conv1', agentId: 'agent-7' },
  conversation_closed: { conversationId: 'conv1', reason: 'resolved', agentId: 'agent-7' },
  page_viewed: { name: 'Phones', url: 'https://shop.example/phones', path: '/phones', title: 'Phones' },
  screen_viewed: { name: 'Cart', category: 'checkout' },
  user_identified: { traits: [{ name: 'plan', value: '"gold"' }] },
  group_joined: { groupId: 'acme', traits: [{ name: 'employees', value: '42' }] },
  user_aliased: { previousId: 'anon-1' },
  reminder_sent: {
    flow: 'cart-recovery',
    workflowId: 'wf-1',
    step: 1,
    deliveryChannel: 'app_push',
    cartId: 'c1',
    template: 'first',
  },
  coupon_issued: {
    campaignId: 'spring',
    couponCode: 'SPRING-ABC',
    tier: 'repeat',
    amountMinor: 500,
    currency: 'USD',
  },
  coupon_redeemed: {
    campaignId: 'spring',
    couponCode: 'SPRING-ABC',
    orderId: 'o1',
    discountMinor: 500,
    currency: 'USD',
  },
  conversation_escalated: { conversationId: 'conv1', reason: 'explicit_request', level: 1 },
  agent_assigned: { conversationId: 'conv1', agentId: 'agent-7', waitMs: 42000 },
  recommendation_shown: {
    listId: 'list-1',
    items: [
      { sku: 'SKU-2', source: 'association_rule', position: 1 },
      { sku: 'SKU-3', source: 'interest', position: 2 },
    ],
    placement: 'product_page',
    contextSku: 'SKU-1',
  },
  recommendation_clicked: { listId: 'list-1', sku: 'SKU-2', source: 'association_rule', position: 1 },
  alert_changed: {
    alert: 'BotFirstResponseSlow',
    state: 'firing',
    severity: 'warning',
    value: 1500,
    threshold: 1000,
    summary: 'bot first response p95 1500 ms over 1000 ms',
  },
  escalation_ended: {
    conversationId: 'conv1',
    exit: 'resolved',
    level: 1,
    agentId: 'agent-7',
    firstResponseMs: 42000,
    resolutionMs: 300000,
    firstResponseSla: 'met',
    resolutionSla: 'met',
  },
  flow_entered: {
    flow: 'cart-recovery',
    workflowId: 'wf-1',
    flowVersion: 1,
    holdout: true,
    cartId: 'c1',
    tier: 'new',
  },
  tier_changed: { tier: 'repeat', previousTier: 'new', reason: '2 orders' },
  order_paid: { orderId: 'o1', totalMinor: 49999, currency: 'USD', paymentMethod: 'alipay' },
  order_shipped: {
    orderId: 'o1',
    carrier: 'SF',
    trackingNumber: 'SF1234567890',
    estimatedDeliveryAt: Date.UTC(2026, 10, 26, 18, 0, 0),
  },
  order_delivered: { orderId: 'o1' },
};

let seq = 0;

export function buildEnvelope<T extends EventType>(
  type: T,
  overrides: Partial<EnvelopeInit> = {},
  payload?: PayloadMap[T],
): EnvelopeInit {
  return {
    eventId: newEventId(),
    schemaVersion: SCHEMA_VERSION,
    shopId: 'shop-1',
    userId: 'user-1',
    sessionId: 'sess-1',
    channel: channelValue('web'),
    occurredAt: Date.UTC(2026, 10, 24, 12, 0, 0),
    sequence: ++seq,
    producerId: 'test',
    [payloadField(type)]: payload ?? samplePayloads[type],
    ...overrides,
  };
}
