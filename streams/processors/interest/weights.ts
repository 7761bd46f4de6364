// Every event's weight in the interest vectors, in one place: stronger signals count more
// (view < filter < search < cart add < checkout < order), and signals of lost interest push down.
import type { EventType } from '../../../schemas/events';

export const EVENT_WEIGHTS: Readonly<Partial<Record<EventType, number>>> = {
  product_viewed: 1,
  product_list_filtered: 1.5,
  products_searched: 2,
  chat_turn: 2,
  cart_item_added: 4,
  /** per unit of quantity added (negative when lowered) */
  cart_item_quantity_changed: 1.5,
  checkout_started: 5,
  order_placed: 8,
  cart_item_removed: -3,
  order_refunded: -6,
};

/** Most units of one product an order or cart change counts for (a bulk order is not 50x the interest). */
export const MAX_QUANTITY_WEIGHT = 3;
