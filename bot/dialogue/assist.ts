// Agent assist: the replies an agent can send with one click, from the bot's own understanding of the
// conversation (not fixed lines): an apology when the user is upset, the order's status, the best
// knowledge-base answers, related products, the coupons the user can use. In the user's language.
import type { AnswerInput } from './answers';
import { money, productLine } from './product-text';

export const MAX_SUGGESTIONS = 4;

const ORDER_INTENTS = new Set(['order_tracking', 'shipping_info', 'return_refund']);
const PRODUCT_INTENTS = new Set(['product_info', 'recommendation', 'size_fit']);

export async function suggestionsFor(
  a: AnswerInput,
  sentiment: 'neutral' | 'negative' | 'angry',
): Promise<string[]> {
  const zh = a.lang === 'zh';
  const out: string[] = [];
  if (sentiment !== 'neutral')
    out.push(
      zh
        ? '非常抱歉给您带来不便，我是人工客服，马上为您处理。'
        : 'I am very sorry for the trouble. I am a member of the support team and will sort this out now.',
    );
  if (ORDER_INTENTS.has(a.intent) || a.conv.slots.orderId) {
    const orders = await a.ports.orders(a.shopId, a.userId);
    const wanted = a.conv.slots.orderId?.value.toLowerCase();
    const o =
      orders.find((x) => x.orderId.toLowerCase() === wanted || x.trackingNumber?.toLowerCase() === wanted) ??
      orders[0];
    if (o) out.push(o.describe(a.lang));
  }
  for (const hit of a.ports.kbSearch(a.text, { lang: a.lang }).slice(0, 2))
    if (hit.score > 0) out.push(hit.answer);
  if (PRODUCT_INTENTS.has(a.intent) || a.conv.slots.sku) {
    const sku = a.conv.slots.sku?.value;
    const picks = sku
      ? await a.ports.complements(a.shopId, sku, a.lang)
      : await a.ports.recommend(a.shopId, a.userId, { text: a.text, lang: a.lang });
    if (picks[0])
      out.push(
        zh
          ? `推荐您看看：${productLine(picks[0].product, a.lang)}`
          : `You may like: ${productLine(picks[0].product, a.lang)}`,
      );
  }
  const { coupons } = await a.ports.coupons(a.shopId, a.userId);
  const c = coupons.find((x) => x.expiresAt > a.now);
  if (c) {
    const value = c.percentOff ? `${c.percentOff}%` : money(c.amountMinor ?? 0, c.currency, a.lang);
    out.push(
      zh
        ? `您有一张可用的优惠券 ${c.code}（${value}），下单时可以直接使用。`
        : `You have a coupon you can use: ${c.code} (${value} off) at checkout.`,
    );
  }
  return [...new Set(out)].slice(0, MAX_SUGGESTIONS);
}
