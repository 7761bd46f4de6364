// What the demo's shoppers say to the bot: a scenario per conversation (track an order, return, size,
// product, recommendation, coupon, shipping, payment, account, small talk, asking for a human, an
// angry complaint), in the shopper's language (English, Chinese or both mixed), sometimes moving from
// one channel to another mid-conversation. Only the user's turns: the bot answers on the stream, and
// the desk (agent accepted, agent turns, closed) follows the conversations that ask for a human.
// Demo lines, written for the demo; the bot's training data is bot/nlu/data.
import type { ChannelName } from '../schemas/events';
import { pick } from './random';

type Rng = () => number;

export type ChatLang = 'en' | 'zh' | 'mixed';

export interface ScriptTurn {
  text: string;
  channel: ChannelName;
}

export interface ChatScript {
  scenario: string;
  turns: ScriptTurn[];
  /** The conversation asks for a human (explicitly or angrily): the desk picks it up. */
  wantsHuman: boolean;
}

type Lines = Record<ChatLang, string[]>;

const OPENERS: Lines = {
  en: ['hi', 'hello there', 'hey, anyone around?'],
  zh: ['你好', '在吗', '亲 在不在'],
  mixed: ['hi 在吗', 'hello 亲', '你好 hi'],
};

/** {order} is one of the user's order ids, {p} a product phrase, {size} a body size. */
const SCENARIOS: Record<string, Lines> = {
  order_tracking: {
    en: ['where is my order {order}?', 'has my package shipped yet', 'can you check my order {order} please'],
    zh: ['我的订单{order}到哪了', '我买的东西发货了吗', '帮我查下物流 {order}'],
    mixed: ['我的order {order} 到哪了', '帮我check一下物流', 'package什么时候到'],
  },
  return_refund: {
    en: [
      'how do I return something?',
      'i want a refund for my order',
      'can i exchange it for another colour',
    ],
    zh: ['怎么退货', '我想申请退款', '收到的东西不喜欢能退吗'],
    mixed: ['想return一下怎么弄', 'refund多久到账', '可以退货吗 不想要了'],
  },
  size_fit: {
    en: ['which size should I get? I am {size}', 'does this run small? {size}', 'what size fits {size}'],
    zh: ['我{size}穿什么码', '{size}选哪个尺码', '这个偏大还是偏小 我{size}'],
    mixed: ['{size} 选M还是L', 'size怎么选 {size}', '我{size} 穿XL会大吗'],
  },
  product_info: {
    en: ['what is this {p} made of?', 'tell me more about the {p}', 'is the {p} good for travel?'],
    zh: ['这个{p}是什么材质的', '{p}适合什么场合', '介绍一下这个{p}'],
    mixed: ['这个{p}的material是什么', '{p}质量好吗 worth it?', '{p}有什么features'],
  },
  recommendation: {
    en: ['can you recommend a {p}?', 'looking for a gift, any ideas?', 'what {p} should I buy'],
    zh: ['推荐一款{p}', '有什么好的{p}推荐吗', '送礼物买什么好'],
    mixed: ['推荐个{p} budget 200以内', 'any recommendation 买什么好', '求推荐{p}'],
  },
  coupon_promotion: {
    en: ['do i have any coupons?', 'any discount codes right now?', 'can I use a coupon on this'],
    zh: ['我有优惠券吗', '现在有什么活动', '有满减吗'],
    mixed: ['有coupon吗', '现在有什么discount', '优惠券怎么用 coupon code在哪'],
  },
  shipping_info: {
    en: ['how long does shipping take?', 'do you ship to Hong Kong', 'is shipping free?'],
    zh: ['一般几天能到', '包邮吗', '发什么快递'],
    mixed: ['shipping要几天', '包邮吗 free shipping?', '发货用什么courier'],
  },
  payment_invoice: {
    en: ['can i pay with alipay?', 'i need an invoice for my order', 'my payment failed'],
    zh: ['可以开发票吗', '支持花呗分期吗', '付款失败了怎么办'],
    mixed: ['能开invoice吗', 'payment失败了', '可以用credit card付款吗'],
  },
  account_address: {
    en: ['how do i change my shipping address', 'i forgot my password', 'how to change my phone number'],
    zh: ['怎么修改收货地址', '密码忘了怎么办', '怎么换绑手机号'],
    mixed: ['address填错了怎么改', '忘记password了', '怎么改account的手机号'],
  },
};

const HUMAN: Lines = {
  en: ['can I talk to a real person', 'human agent please', 'i want to speak to customer service'],
  zh: ['转人工', '我要人工客服', '找真人客服'],
  mixed: ['转人工 please', '我要找human agent', 'real person 人工客服'],
};

const ANGRY: Lines = {
  en: [
    'this is ridiculous, my order is a week late!!!',
    'worst service ever, I want a refund NOW',
    'are you kidding me??? still not shipped',
  ],
  zh: ['太慢了！！！我要投诉', '什么垃圾服务，气死了', '一周了还没发货，差评！'],
  mixed: ['太慢了 this is ridiculous!!!', '垃圾服务 worst ever', '投诉！！order一周了还没到'],
};

const THANKS: Lines = {
  en: ['thanks!', 'ok thank you', 'great, bye'],
  zh: ['谢谢', '好的谢谢', '好的 没事了'],
  mixed: ['ok 谢谢', 'thanks 亲', '好的 thank you'],
};

const SIZES = ['175cm 70kg', '160cm 50kg', '182cm 80kg', '168 58kg', '155cm 45kg'];

/** Weights of the scenarios: most questions are about orders, returns and sizes. */
const WEIGHTS: [string, number][] = [
  ['order_tracking', 22],
  ['return_refund', 14],
  ['size_fit', 12],
  ['product_info', 10],
  ['recommendation', 10],
  ['coupon_promotion', 9],
  ['shipping_info', 8],
  ['payment_invoice', 6],
  ['account_address', 4],
  ['human', 3],
  ['angry', 2],
];

function weighted(rnd: Rng): string {
  const total = WEIGHTS.reduce((s, [, w]) => s + w, 0);
  let r = rnd() * total;
  for (const [name, w] of WEIGHTS) if ((r -= w) < 0) return name;
  return WEIGHTS[0]![0];
}

/**
 * A conversation: maybe a greeting, the question (with the user's order id or body size where it
 * needs one), maybe a follow-up on another channel, maybe thanks.
 */
export function chatScript(
  rnd: Rng,
  opts: { lang: ChatLang; channel: ChannelName; productPhrase: string; orderId?: string },
): ChatScript {
  const { lang } = opts;
  const fill = (s: string): string =>
    s
      .replace('{order}', opts.orderId ?? '')
      .replace('{p}', opts.productPhrase)
      .replace('{size}', pick(rnd, SIZES))
      .replace(/\s+/g, ' ')
      .trim();
  const scenario = weighted(rnd);
  const turns: ScriptTurn[] = [];
  let channel = opts.channel;
  if (rnd() < 0.3) turns.push({ text: pick(rnd, OPENERS[lang]), channel });
  let wantsHuman = false;
  if (scenario === 'human' || scenario === 'angry') {
    wantsHuman = true;
    if (scenario === 'human')
      turns.push({ text: fill(pick(rnd, SCENARIOS['order_tracking']![lang])), channel });
    turns.push({ text: pick(rnd, scenario === 'human' ? HUMAN[lang] : ANGRY[lang]), channel });
    return { scenario, turns, wantsHuman };
  }
  turns.push({ text: fill(pick(rnd, SCENARIOS[scenario]![lang])), channel });
  // a third continue on the mini program (or the app): the bot keeps the conversation and its slots
  if (rnd() < 0.3) {
    channel = channel === 'mini_program' ? 'app' : 'mini_program';
    const follow = pick(rnd, Object.keys(SCENARIOS));
    turns.push({ text: fill(pick(rnd, SCENARIOS[follow]![lang])), channel });
  }
  if (rnd() < 0.5) turns.push({ text: pick(rnd, THANKS[lang]), channel });
  return { scenario, turns, wantsHuman };
}
