// Who may send what. Two kinds of write key:
//   public (COLLECTOR_WRITE_KEYS): shipped in browsers and apps, so anyone can read it. It may send what
//     a visitor does: browse, search, cart, checkout started, page / screen views, identify, a handoff
//     request, and the user's own chat turns (role user).
//   server (COLLECTOR_SERVER_KEYS): kept on the shop's servers. Everything a client may send, including
//     orders, payments, shipments, deliveries, refunds, desk events (agent_accepted,
//     conversation_closed) and chat turns of any role.
// Keys are compared in constant time over their SHA-256 digests, so neither a key's length nor its
// first differing byte shows in the response time.
import { createHash, timingSafeEqual } from 'node:crypto';
import { CLIENT_EVENT_TYPES, chatRoleValue, type EnvelopeInit, type EventType } from '../../schemas/events';

export type Trust = 'public' | 'server';

export interface KeyOwner {
  shopId: string;
  trust: Trust;
  /** Names the key (never the key itself): rate-limit buckets, logs. */
  id: string;
}

/** Event types the public key may send (chat_turn only with role user). */
export const PUBLIC_EVENT_TYPES = [
  // what the visitor sees and who they say they are
  'page_viewed',
  'screen_viewed',
  'product_viewed',
  'products_searched',
  'product_list_filtered',
  // the recommendations the page showed and the one clicked
  'recommendation_shown',
  'recommendation_clicked',
  'user_identified',
  'group_joined',
  'user_aliased',
  // their cart, up to the checkout (the order itself comes from the shop's server)
  'cart_item_added',
  'cart_item_quantity_changed',
  'cart_item_removed',
  'checkout_started',
  // their own side of a support conversation
  'chat_turn',
  'handoff_requested',
] as const satisfies readonly (typeof CLIENT_EVENT_TYPES)[number][];

/** Client event types only a server key may send. */
export const SERVER_EVENT_TYPES: readonly EventType[] = CLIENT_EVENT_TYPES.filter(
  (t) => !(PUBLIC_EVENT_TYPES as readonly string[]).includes(t),
);

const PUBLIC = new Set<string>(PUBLIC_EVENT_TYPES);
const USER_ROLE: number = chatRoleValue('user');

/** Why a public key may not send this event; undefined when it may. */
export function publicKeyRefusal(type: EventType, envelope: EnvelopeInit): string | undefined {
  if (!PUBLIC.has(type))
    return `${type} events need a server key (COLLECTOR_SERVER_KEYS); a public write key may send ${PUBLIC_EVENT_TYPES.join(', ')}`;
  if (type === 'chat_turn' && Number(envelope.chatTurn?.role) !== USER_ROLE)
    return 'a public write key may send only the user’s own chat turns (role user); bot and agent turns need a server key';
  return undefined;
}

const digest = (key: string): Buffer => createHash('sha256').update(key, 'utf8').digest();

/** The configured keys, looked up in constant time. */
export class KeyTable {
  private readonly entries: { hash: Buffer; owner: KeyOwner }[];

  constructor(publicKeys: Record<string, string>, serverKeys: Record<string, string>) {
    const both = Object.keys(publicKeys).filter((k) => Object.hasOwn(serverKeys, k));
    if (both.length > 0)
      throw new Error('a key is both a public write key and a server key: give the server a key of its own');
    this.entries = [
      ...Object.entries(publicKeys).map(([k, shopId], i) => ({
        hash: digest(k),
        owner: { shopId, trust: 'public' as const, id: `public-${i}` },
      })),
      ...Object.entries(serverKeys).map(([k, shopId], i) => ({
        hash: digest(k),
        owner: { shopId, trust: 'server' as const, id: `server-${i}` },
      })),
    ];
  }

  get size(): number {
    return this.entries.length;
  }

  /** The key's shop and trust level; every entry is compared, whatever matches. */
  lookup(key: string | undefined): KeyOwner | undefined {
    if (key === undefined || key === '') return undefined;
    const h = digest(key);
    let found: KeyOwner | undefined;
    for (const e of this.entries) if (timingSafeEqual(e.hash, h)) found = e.owner;
    return found;
  }
}
