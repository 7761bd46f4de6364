// The bot's ports over the running system: the catalog, the recommendation service (NATS
// request-reply: interest vectors and association rules), the coupon ledger (a user's coupons are
// found by their deterministic codes, one per campaign and tier of the running flows), the order view
// and the knowledge base (given by the component).
import type { BotPorts, CouponView, KbHit, OrderSummary, ProductPick } from '../../../bot/dialogue/ports';
import type { Lang } from '../../../bot/dialogue/state';
import type { Catalog, CatalogProduct } from '../../../catalog/types';
import { couponCode } from '../../../coupons/coupon-ledger';
import type { KvCouponLedger } from '../../../coupons/kv-coupon-ledger';
import type { NatsConnection } from 'nats';
import type { Tier } from '../../../schemas/tiers';
import type { Flow } from '../../../workflows/dsl';
import { requestRecommendations } from '../recommend/client';

/** A coupon campaign a running flow issues, and its tiers. */
export interface CouponCampaign {
  campaign: string;
  tiers: Tier[];
}

export interface PortDeps {
  catalog: Catalog;
  nc: NatsConnection;
  prefix: string;
  /** None without COUPON_SECRET: the bot then knows of no coupons. */
  ledger?: KvCouponLedger;
  couponSecret: string;
  campaigns: CouponCampaign[];
  orders(shopId: string, userId: string): Promise<OrderSummary[]>;
  kbSearch(text: string, opts: { intent?: string; lang: Lang }): KbHit[];
  kbVersion(): string;
  /** Per recommendation request. Default 300 ms: a reply without picks beats a late one. */
  recommendTimeoutMs?: number;
}

const SKU_RE = /\b[A-Z]{2,5}-\d{3,5}\b/gi;

const FEATURE_ZH: Record<string, string> = {
  apparel: '服装',
  shoes: '鞋',
  phones: '手机',
  phone_accessories: '手机配件',
  coffee_machines: '咖啡机',
  coffee_beans: '咖啡豆',
  beauty: '美妆护肤',
  home: '家居',
};

/** A recommender reason in a shopper's words ("interest: category:coffee_beans" -> "matches your interest in coffee beans"). */
export function shopperReason(reason: string, lang: Lang, catalog: Catalog): string {
  const zh = lang === 'zh';
  if (reason.startsWith('interest:')) {
    const words = reason
      .slice('interest:'.length)
      .split(',')
      .map((f) => f.trim().split(':').pop() ?? '')
      .filter(Boolean)
      .slice(0, 2)
      .map((w) => (zh ? (FEATURE_ZH[w] ?? w) : w.replace(/_/g, ' ')));
    return zh ? `符合您对${words.join('、')}的兴趣` : `matches your interest in ${words.join(', ')}`;
  }
  if (reason.startsWith('bought together with')) {
    const what = reason.slice('bought together with '.length).split(' (')[0]!;
    const names = what
      .split(' + ')
      .map((x) => catalog.bySku.get(x.trim()))
      .map((p, i) => (p ? (zh ? p.nameZh : p.nameEn) : what.split(' + ')[i]!.replace(/_/g, ' ')));
    return zh ? `常与${names.join('、')}一起购买` : `often bought with ${names.join(' + ')}`;
  }
  if (reason === 'new arrival') return zh ? '新品' : 'new arrival';
  if (reason.startsWith('popular')) return zh ? '热销' : 'popular';
  return '';
}

export function createBotPorts(deps: PortDeps): BotPorts {
  const { catalog } = deps;
  const timeout = deps.recommendTimeoutMs ?? 300;
  const namesLower = catalog.products.map((p) => ({ p, en: p.nameEn.toLowerCase(), zh: p.nameZh }));

  async function picks(
    shopId: string,
    userId: string,
    context: { text?: string; viewingSkus?: string[] },
    lang: Lang,
    k: number,
  ): Promise<{ product: CatalogProduct; reasons: string[] }[]> {
    try {
      const r = await requestRecommendations(deps.nc, deps.prefix, { shopId, userId, context, k }, timeout);
      return r.items.flatMap((i) => {
        const product = catalog.bySku.get(i.sku);
        return product ? [{ product, reasons: i.reasons }] : [];
      });
    } catch {
      return []; // the service is away or slow: the answer goes without picks
    }
  }

  const pick = (x: { product: CatalogProduct; reasons: string[] }, lang: Lang): ProductPick => ({
    product: x.product,
    reason: shopperReason(x.reasons[0] ?? '', lang, catalog),
  });

  return {
    orders: (shopId, userId) => deps.orders(shopId, userId),
    kbSearch: (text, opts) => deps.kbSearch(text, opts),
    kbVersion: () => deps.kbVersion(),
    product: (sku) => catalog.bySku.get(sku.toUpperCase()),
    productsIn(text) {
      const bySku = [...text.matchAll(SKU_RE)].flatMap((m) => catalog.bySku.get(m[0].toUpperCase()) ?? []);
      if (bySku.length > 0) return bySku;
      const lower = text.toLowerCase();
      return namesLower.filter((n) => lower.includes(n.en) || text.includes(n.zh)).map((n) => n.p);
    },
    async recommend(shopId, userId, opts) {
      const text = [opts.text, opts.category ?? ''].join(' ').trim();
      const found = await picks(
        shopId,
        userId,
        { text, ...(opts.viewingSku ? { viewingSkus: [opts.viewingSku] } : {}) },
        opts.lang,
        20,
      );
      const inBudget = found.filter((x) => !opts.budgetMinor || x.product.priceMinor <= opts.budgetMinor);
      const inCategory = inBudget.filter((x) => !opts.category || x.product.category === opts.category);
      return (inCategory.length > 0 ? inCategory : inBudget).slice(0, 5).map((x) => pick(x, opts.lang));
    },
    async complements(shopId, sku, lang) {
      const found = await picks(shopId, '', { viewingSkus: [sku] }, lang, 10);
      return found
        .filter((x) => x.reasons.some((r) => r.startsWith('bought together')))
        .map((x) => pick(x, lang));
    },
    async coupons(shopId, userId) {
      const out: CouponView[] = [];
      let tier = '';
      const ledger = deps.ledger;
      if (!ledger) return { tier, coupons: out };
      for (const c of deps.campaigns)
        for (const t of c.tiers) {
          const code = couponCode(deps.couponSecret, { shopId, userId, campaign: c.campaign, tier: t });
          const stored = await ledger.get(code);
          if (!stored || stored.redeemed) continue;
          tier = t;
          out.push({
            code,
            campaign: c.campaign,
            currency: stored.currency ?? 'USD',
            expiresAt: stored.expiresAt ?? 0,
            amountMinor: stored.amountMinor,
          });
        }
      return { tier, coupons: out.sort((a, b) => a.expiresAt - b.expiresAt) };
    },
  };
}

/** The coupon campaigns (and their tiers) of the flows the triggers run. */
export function campaignsOf(flows: readonly Flow[]): CouponCampaign[] {
  const out = new Map<string, Set<Tier>>();
  for (const f of flows)
    for (const s of f.steps)
      if (s.kind === 'send_with_coupon') {
        const tiers = out.get(s.coupon.campaign) ?? new Set<Tier>();
        for (const t of Object.keys(s.coupon.byTier) as Tier[]) tiers.add(t);
        out.set(s.coupon.campaign, tiers);
      }
  return [...out].map(([campaign, tiers]) => ({ campaign, tiers: [...tiers] }));
}
