// What the dialogue asks of the rest of the system, as interfaces: the chat processor implements them
// over KV, the knowledge base, the catalog and the recommender (streams/processors/chat/ports.ts);
// unit tests implement them over plain arrays. The dialogue itself does no I/O.
import type { CatalogProduct } from '../../catalog/types';
import type { Lang } from './state';

/** What the bot understood of one user turn (bot/nlu's output, as the dialogue reads it). */
export interface Understood {
  /** One of the 12 intents, or 'fallback' below the confidence threshold. */
  intent: string;
  confidence: number;
  slots: {
    orderId?: string;
    size?: string;
    shoeSize?: string;
    heightCm?: number;
    weightKg?: number;
    budgetMinor?: number;
    /** Catalog category ids the text mentions. */
    category?: string;
  };
  sentiment: { label: 'neutral' | 'negative' | 'angry'; score: number };
  lang: 'zh' | 'en' | 'mixed';
}

export interface OrderSummary {
  orderId: string;
  trackingNumber?: string;
  status: string;
  /** Epoch ms the order was placed. */
  placedAt: number;
  /** One sentence on where it is, in the user's language. */
  describe(lang: Lang): string;
}

export interface KbHit {
  id: string;
  version: string | number;
  /** The answer in the asked language. */
  answer: string;
  title?: string;
  score: number;
  /** Above the knowledge base's confidence threshold. */
  confident: boolean;
}

export interface ProductPick {
  product: CatalogProduct;
  /** Why, in words a shopper reads ("matches your interest in coffee"), in the user's language. */
  reason: string;
}

export interface CouponView {
  code: string;
  campaign: string;
  amountMinor?: number;
  percentOff?: number;
  minCartMinor?: number;
  currency: string;
  /** Epoch ms. */
  expiresAt: number;
}

export interface BotPorts {
  orders(shopId: string, userId: string): Promise<OrderSummary[]>;
  kbSearch(text: string, opts: { intent?: string; lang: Lang }): KbHit[];
  kbVersion(): string;
  product(sku: string): CatalogProduct | undefined;
  /** Products the text names (name or sku), best first. */
  productsIn(text: string): CatalogProduct[];
  recommend(
    shopId: string,
    userId: string,
    opts: { text: string; category?: string; budgetMinor?: number; viewingSku?: string; lang: Lang },
  ): Promise<ProductPick[]>;
  /** Products bought with this one (association rules), best first. */
  complements(shopId: string, sku: string, lang: Lang): Promise<ProductPick[]>;
  /** The user's valid coupons, and their value tier. */
  coupons(shopId: string, userId: string): Promise<{ tier: string; coupons: CouponView[] }>;
}
