// What the bot answers for each intent, in the user's language, from what the system knows: the
// order view, the knowledge base, the catalog, the recommender and association rules, the coupon
// ledger. Each answer says whether it answered, and which knowledge entry it cites.
import type { BotPorts, KbHit, ProductPick } from './ports';
import { isSized, money, productLine, productName } from './product-text';
import { apparelSizeFor, shoeSizeLine } from './size-chart';
import type { ConversationState, Lang, UserSlots } from './state';

export interface Answer {
  text: string;
  answered: boolean;
  kbEntry?: string;
  kbVersion?: string;
  asked?: 'order_id' | 'size' | 'product';
}

export interface AnswerInput {
  shopId: string;
  userId: string;
  text: string;
  intent: string;
  lang: Lang;
  user: UserSlots;
  conv: ConversationState;
  ports: BotPorts;
  now: number;
}

const t = (lang: Lang, zh: string, en: string): string => (lang === 'zh' ? zh : en);

function fromKb(hit: KbHit, kbVersion: string, prefix = ''): Answer {
  return { text: prefix + hit.answer, answered: true, kbEntry: `${hit.id}@${hit.version}`, kbVersion };
}

/** The best confident knowledge-base answer for the text, limited to the intent's entries if given. */
export function kbAnswer(input: AnswerInput, intent?: string): Answer | undefined {
  const hits = input.ports.kbSearch(input.text, { ...(intent ? { intent } : {}), lang: input.lang });
  const best = hits[0];
  return best?.confident ? fromKb(best, input.ports.kbVersion()) : undefined;
}

function picksLine(picks: ProductPick[], lang: Lang): string {
  return picks
    .map(
      (p, i) =>
        `${i + 1}. ${productLine(p.product, lang)}${p.reason ? t(lang, `（${p.reason}）`, ` (${p.reason})`) : ''}`,
    )
    .join('\n');
}

async function orderTracking(a: AnswerInput): Promise<Answer> {
  const { lang } = a;
  const orders = await a.ports.orders(a.shopId, a.userId);
  const wanted = a.conv.slots.orderId?.value;
  if (wanted) {
    const key = wanted.replace(/\s+/g, '').toLowerCase();
    const hit = orders.find(
      (o) => o.orderId.toLowerCase() === key || o.trackingNumber?.toLowerCase() === key,
    );
    if (hit) return { text: hit.describe(lang), answered: true };
    return {
      text: t(
        lang,
        `没有查到订单 ${wanted}，麻烦核对一下订单号（在“我的订单”里可以复制）。`,
        `I could not find order ${wanted}. Could you check the number? You can copy it from "My orders".`,
      ),
      answered: false,
      asked: 'order_id',
    };
  }
  if (orders.length === 1) return { text: orders[0]!.describe(lang), answered: true };
  if (orders.length > 1) {
    const ids = orders
      .slice(0, 3)
      .map((o) => o.orderId)
      .join(lang === 'zh' ? '、' : ', ');
    return {
      text: t(
        lang,
        `您有${orders.length}个订单（${ids}…），想查哪一个？发我订单号或运单号就行。`,
        `You have ${orders.length} orders (${ids}...). Which one? Send me the order or tracking number.`,
      ),
      answered: false,
      asked: 'order_id',
    };
  }
  const kb = kbAnswer(a, 'order_tracking');
  const none = t(lang, '这个账号下还没有查到订单。', 'I cannot see any order on this account yet. ');
  return kb
    ? { ...kb, text: `${none}${kb.text}` }
    : {
        text: t(
          lang,
          `${none}如果是用其他账号下的单，发我订单号我来查。`,
          `${none}If you ordered with another account, send me the order number.`,
        ),
        answered: false,
        asked: 'order_id',
      };
}

function productInFocus(a: AnswerInput) {
  const named = a.ports.productsIn(a.text)[0];
  if (named) return named;
  const sku = a.conv.slots.sku?.value;
  return sku ? a.ports.product(sku) : undefined;
}

function sizeFit(a: AnswerInput): Answer {
  const { lang, user } = a;
  const p = productInFocus(a);
  const name = p ? productName(p, lang) : undefined;
  if (p?.category === 'shoes' || (!p && user.shoeSize && !user.heightCm)) {
    const size = user.shoeSize?.value;
    if (size) {
      const line = shoeSizeLine(size, lang);
      return {
        text: t(
          lang,
          `${name ? `${name}` : '这双鞋'}按正常码数选就好，您平时穿${size}码，建议选${size}码${line ? `：${line}` : ''}。脚背高或脚宽可以大半码。`,
          `${name ?? 'These shoes'} run true to size: you usually wear ${size}, so take ${size}${line ? ` (${line})` : ''}. Go half a size up for wide feet.`,
        ),
        answered: true,
      };
    }
    return {
      text: t(
        lang,
        '您平时穿多大码的鞋？告诉我码数（比如42）我帮您对照。',
        'What shoe size do you usually wear (e.g. EU 42)? I will check the chart for you.',
      ),
      answered: false,
      asked: 'size',
    };
  }
  const fit = apparelSizeFor(user.heightCm?.value, user.weightKg?.value);
  if (fit) {
    const body = [
      user.heightCm ? `${user.heightCm.value}cm` : '',
      user.weightKg ? `${user.weightKg.value}kg` : '',
    ]
      .filter(Boolean)
      .join(' ');
    const past = user.size && user.size.value !== fit ? user.size.value : undefined;
    return {
      text: t(
        lang,
        `按${body}，${name ?? '这款'}建议选${fit}码${past ? `（您之前买的是${past}码，喜欢宽松可以选大一码）` : ''}。`,
        `For ${body}, take ${fit}${name ? ` in the ${name}` : ''}${past ? ` (you bought ${past} before; size up for a looser fit)` : ''}.`,
      ),
      answered: true,
    };
  }
  if (user.size) {
    return {
      text: t(
        lang,
        `您之前常穿${user.size.value}码，${name ?? '这款'}版型标准，选${user.size.value}码就好。`,
        `You usually take ${user.size.value}; ${name ?? 'this one'} fits true to size, so ${user.size.value} it is.`,
      ),
      answered: true,
    };
  }
  if (p && !isSized(p)) {
    return kbAnswer(a, 'size_fit') ?? { text: productLine(p, lang), answered: true };
  }
  return {
    text: t(
      lang,
      '方便告诉我您的身高体重吗？比如“175cm 70kg”，我帮您对照尺码表。',
      'Could you tell me your height and weight, e.g. "175cm 70kg"? I will check the size chart.',
    ),
    answered: false,
    asked: 'size',
  };
}

async function productInfo(a: AnswerInput): Promise<Answer> {
  const { lang } = a;
  const p = productInFocus(a);
  if (!p) {
    return (
      kbAnswer(a, 'product_info') ?? {
        text: t(
          lang,
          '您问的是哪件商品？发我商品名称或链接就行。',
          'Which product do you mean? Send me its name or link.',
        ),
        answered: false,
        asked: 'product',
      }
    );
  }
  const complements = await a.ports.complements(a.shopId, p.sku, lang);
  const extra = complements[0]
    ? t(
        lang,
        `\n常和它一起买的：${productLine(complements[0].product, lang)}`,
        `\nOften bought with it: ${productLine(complements[0].product, lang)}`,
      )
    : '';
  return { text: productLine(p, lang) + extra, answered: true };
}

async function recommendation(a: AnswerInput): Promise<Answer> {
  const { lang } = a;
  const focus = productInFocus(a);
  const picks = await a.ports.recommend(a.shopId, a.userId, {
    text: a.text,
    lang,
    ...(a.conv.slots.category ? { category: a.conv.slots.category.value } : {}),
    ...(a.user.budgetMinor ? { budgetMinor: a.user.budgetMinor.value } : {}),
    ...(focus ? { viewingSku: focus.sku } : {}),
  });
  if (picks.length === 0)
    return {
      text: t(
        lang,
        '您想买哪一类的？预算大概多少？我帮您挑。',
        'What kind of product, and what budget? I will pick a few for you.',
      ),
      answered: false,
      asked: 'product',
    };
  const head = t(lang, '给您挑了几款：', 'A few picks for you:');
  return { text: `${head}\n${picksLine(picks.slice(0, 3), lang)}`, answered: true };
}

async function couponPromotion(a: AnswerInput): Promise<Answer> {
  const { lang } = a;
  const { coupons } = await a.ports.coupons(a.shopId, a.userId);
  const live = coupons.filter((c) => c.expiresAt > a.now);
  const policy = kbAnswer(a, 'coupon_promotion');
  if (live.length === 0)
    return (
      policy ?? {
        text: t(lang, '您目前没有可用的优惠券。', 'You have no coupon to use right now.'),
        answered: true,
      }
    );
  const lines = live.slice(0, 3).map((c) => {
    const value = c.percentOff
      ? t(lang, `${100 - c.percentOff}折`.replace(/(\d)0折/, '$1折'), `${c.percentOff}% off`)
      : money(c.amountMinor ?? 0, c.currency, lang);
    const min = c.minCartMinor
      ? t(
          lang,
          `满${money(c.minCartMinor, c.currency, lang)}可用`,
          ` on orders over ${money(c.minCartMinor, c.currency, lang)}`,
        )
      : '';
    const until = new Date(c.expiresAt).toISOString().slice(0, 10);
    return t(
      lang,
      `${c.code}：${value}${min ? `，${min}` : ''}，${until}前有效`,
      `${c.code}: ${value}${min}, valid until ${until}`,
    );
  });
  const head = t(lang, '您可以用的优惠券：', 'Coupons you can use:');
  return {
    text: `${head}\n${lines.join('\n')}${policy ? `\n${policy.text}` : ''}`,
    answered: true,
    ...(policy ? { kbEntry: policy.kbEntry!, kbVersion: policy.kbVersion! } : {}),
  };
}

function greeting(a: AnswerInput): Answer {
  return {
    text: t(
      a.lang,
      '您好，我是智能客服～可以帮您查订单物流、退换货、尺码、优惠券等，请问有什么可以帮您？',
      'Hi! I am the shop assistant. I can track orders, help with returns, sizes and coupons. What can I do for you?',
    ),
    answered: true,
  };
}

function thanksBye(a: AnswerInput): Answer {
  return {
    text: t(
      a.lang,
      '不客气，祝您购物愉快！有问题随时找我～',
      'You are welcome. Happy shopping, and ask me any time!',
    ),
    answered: true,
  };
}

/** Intents answered from the knowledge base alone. */
const POLICY_INTENTS = new Set(['shipping_info', 'return_refund', 'payment_invoice', 'account_address']);

/** The answer for an understood intent; `undefined` for the intents the caller handles (handoff, fallback). */
export async function answerFor(a: AnswerInput): Promise<Answer | undefined> {
  switch (a.intent) {
    case 'order_tracking':
      return orderTracking(a);
    case 'size_fit':
      return sizeFit(a);
    case 'product_info':
      return productInfo(a);
    case 'recommendation':
      return recommendation(a);
    case 'coupon_promotion':
      return couponPromotion(a);
    case 'greeting':
      return greeting(a);
    case 'thanks_bye':
      return thanksBye(a);
    default:
      if (POLICY_INTENTS.has(a.intent)) return kbAnswer(a, a.intent) ?? kbAnswer(a);
      return undefined;
  }
}
