// The event union: one name per payload of the Envelope oneof, past tense, snake_case on the wire
// and in ClickHouse, camelCase in the generated TypeScript.
import type { shopstream } from './generated/events';

type v1 = typeof shopstream.events.v1;
export type Envelope = shopstream.events.v1.Envelope;
export type EnvelopeInit = shopstream.events.v1.IEnvelope;
export type Product = shopstream.events.v1.IProduct;

export interface PayloadMap {
  product_viewed: shopstream.events.v1.IProductViewed;
  product_list_filtered: shopstream.events.v1.IProductListFiltered;
  products_searched: shopstream.events.v1.IProductsSearched;
  cart_item_added: shopstream.events.v1.ICartItemAdded;
  cart_item_removed: shopstream.events.v1.ICartItemRemoved;
  cart_item_quantity_changed: shopstream.events.v1.ICartItemQuantityChanged;
  checkout_started: shopstream.events.v1.ICheckoutStarted;
  order_placed: shopstream.events.v1.IOrderPlaced;
  order_refunded: shopstream.events.v1.IOrderRefunded;
  chat_turn: shopstream.events.v1.IChatTurn;
  handoff_requested: shopstream.events.v1.IHandoffRequested;
  agent_accepted: shopstream.events.v1.IAgentAccepted;
  conversation_closed: shopstream.events.v1.IConversationClosed;
  page_viewed: shopstream.events.v1.IPageViewed;
  screen_viewed: shopstream.events.v1.IScreenViewed;
  user_identified: shopstream.events.v1.IUserIdentified;
  group_joined: shopstream.events.v1.IGroupJoined;
  user_aliased: shopstream.events.v1.IUserAliased;
  reminder_sent: shopstream.events.v1.IReminderSent;
  coupon_issued: shopstream.events.v1.ICouponIssued;
  coupon_redeemed: shopstream.events.v1.ICouponRedeemed;
  conversation_escalated: shopstream.events.v1.IConversationEscalated;
  agent_assigned: shopstream.events.v1.IAgentAssigned;
  flow_entered: shopstream.events.v1.IFlowEntered;
  tier_changed: shopstream.events.v1.ITierChanged;
  escalation_ended: shopstream.events.v1.IEscalationEnded;
  order_paid: shopstream.events.v1.IOrderPaid;
  order_shipped: shopstream.events.v1.IOrderShipped;
  order_delivered: shopstream.events.v1.IOrderDelivered;
  alert_changed: shopstream.events.v1.IAlertChanged;
  recommendation_shown: shopstream.events.v1.IRecommendationShown;
  recommendation_clicked: shopstream.events.v1.IRecommendationClicked;
}

export type EventType = keyof PayloadMap;

/**
 * Event types a shop's clients send (which of them a public write key may send: streams/collector/trust);
 * the others are emitted only by shopstream's own flows and bot. */
export const CLIENT_EVENT_TYPES = [
  'product_viewed',
  'product_list_filtered',
  'products_searched',
  'cart_item_added',
  'cart_item_removed',
  'cart_item_quantity_changed',
  'checkout_started',
  'order_placed',
  'order_refunded',
  'chat_turn',
  'handoff_requested',
  'agent_accepted',
  'conversation_closed',
  'page_viewed',
  'screen_viewed',
  'user_identified',
  'group_joined',
  'user_aliased',
  'order_paid',
  'order_shipped',
  'order_delivered',
  'recommendation_shown',
  'recommendation_clicked',
] as const satisfies readonly EventType[];
export type PayloadField = NonNullable<Envelope['payload']>;

/** Every event type, in schema order. */
export const EVENT_TYPES: readonly EventType[] = [
  ...CLIENT_EVENT_TYPES,
  'reminder_sent',
  'coupon_issued',
  'coupon_redeemed',
  'conversation_escalated',
  'agent_assigned',
  'flow_entered',
  'tier_changed',
  'escalation_ended',
  'alert_changed',
];

const snakeToCamel = (s: string): string => s.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
const camelToSnake = (s: string): string => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

// Both directions computed once: these run for every event.
const FIELD_OF = new Map(EVENT_TYPES.map((t) => [t, snakeToCamel(t) as PayloadField]));
const TYPE_OF = new Map([...FIELD_OF].map(([t, f]) => [f, t]));

export function payloadField(type: EventType): PayloadField {
  return FIELD_OF.get(type) ?? (snakeToCamel(type) as PayloadField);
}

export function eventTypeOf(field: PayloadField): EventType {
  return TYPE_OF.get(field) ?? (camelToSnake(field) as EventType);
}

export function isEventType(s: string): s is EventType {
  return (EVENT_TYPES as readonly string[]).includes(s);
}

export const CHANNELS = ['web', 'app', 'mini_program', 'social', 'email', 'sms', 'store', 'server'] as const;
export type ChannelName = (typeof CHANNELS)[number];
export const CHAT_ROLES = ['user', 'bot', 'agent'] as const;
export type ChatRoleName = (typeof CHAT_ROLES)[number];

/** Enum value of a channel name; 0 (unspecified) for an unknown one, which validation rejects. */
export function channelValue(name: string): number {
  const i = (CHANNELS as readonly string[]).indexOf(name);
  return i < 0 ? 0 : i + 1;
}

export function channelName(value: number | null | undefined): ChannelName | 'unspecified' {
  return value && value >= 1 && value <= CHANNELS.length ? CHANNELS[value - 1]! : 'unspecified';
}

export function chatRoleValue(name: string): number {
  const i = (CHAT_ROLES as readonly string[]).indexOf(name);
  return i < 0 ? 0 : i + 1;
}

export function chatRoleName(value: number | null | undefined): ChatRoleName | 'unspecified' {
  return value && value >= 1 && value <= CHAT_ROLES.length ? CHAT_ROLES[value - 1]! : 'unspecified';
}

/** The schema version this build produces. */
export const SCHEMA_VERSION = 1;

export { camelToSnake, snakeToCamel };
export type { v1 };

/** The event type of an envelope being built (the one payload field that is set), if any. */
export function payloadTypeOf(envelope: EnvelopeInit): EventType | undefined {
  const e = envelope as Record<string, unknown>;
  for (const [t, f] of FIELD_OF) if (e[f] !== undefined && e[f] !== null) return t;
  return undefined;
}
