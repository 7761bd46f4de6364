// Domain concepts: the words shoppers use for the same thing ("退款", "退钱", "money back", "refund"),
// each mapped to one concept feature. The n-grams of features.ts learn the words of the training
// phrasings; a concept carries what the model learnt to its synonyms that no phrasing used, which is
// how a shopper's own words are read. Written from the domain (policies, couriers, payment
// methods), not from any evaluation set. Chinese terms match as substrings; English terms as whole
// words or phrases, a trailing `*` allowing any ending ("refund*": refunds, refunded).

// prettier-ignore
const CONCEPTS: Record<string, readonly string[]> = {
  dispatch: [
    '发货', '发出', '寄出', '出库', '发了', '发没发', '揽收', '揽件', '打包',
    'dispatch*', 'ship', 'shipped', 'send out', 'sent out', 'sent it', 'left the warehouse',
  ],
  courier: [
    '快递', '物流', '包裹', '运单', '派件', '派送', '配送', '顺丰', '中通', '圆通', '韵达', '申通', '邮政', '京东物流', '快递员', '驿站',
    'courier*', 'parcel*', 'package*', 'tracking', 'track', 'deliver*', 'dhl', 'ups', 'fedex', 'usps', 'logistic*', 'shipment*',
  ],
  arrive: [
    '到货', '收到', '送到', '到了', '签收', '到哪', '还没到', '没收到', '送达', '到达',
    'arriv*', 'receiv*', 'get it', 'got it yet', 'not here', 'where is',
  ],
  freight: [
    '运费', '邮费', '包邮', '免邮', '快递费', '配送费', '到付',
    'shipping fee*', 'shipping cost*', 'postage', 'free shipping', 'delivery fee*', 'delivery charge*', 'shipping charge*',
  ],
  ret: [
    '退货', '退回', '寄回', '退换', '换货', '退款', '退钱', '退了', '退掉', '退吗', '无理由', '售后', '换一个', '换个', '换大', '换小',
    'return*', 'refund*', 'exchang*', 'swap', 'money back', 'send it back', 'send back',
  ],
  defect: [
    '坏了', '坏的', '破损', '碎了', '划痕', '污渍', '开胶', '瑕疵', '质量问题', '发错', '少发', '漏发', '少了', '不能用', '用不了', '有问题', '掉色', '裂',
    'broken', 'damag*', 'defect*', 'scratch*', 'stain*', 'missing', 'wrong item', 'stopped working', 'faulty', 'cracked', 'not working', "doesn't work", 'torn',
  ],
  size: [
    '尺码', '码数', '尺寸', '大码', '小码', '偏大', '偏小', '身高', '体重', '胸围', '腰围', '衣长', '裤长', '鞋码', '欧码', '几码', '什么码', '哪个码', '码子', '紧', '宽松', '修身',
    'size*', 'fit', 'fits', 'tight', 'loose', 'small', 'large', 'medium', 'xl', 'xxl', 'waist', 'length', 'runs big', 'runs small',
  ],
  attribute: [
    '材质', '面料', '成分', '纯棉', '保质期', '说明书', '正品', '产地', '颜色', '色差', '功能', '兼容', '配件', '重量', '容量', '电池', '续航', '防水', '质量怎么样', '味道', '过敏', '适合什么', '场合', '怎么用', '使用方法', '清洗', '洗', '有货', '库存', '补货',
    'material', 'fabric', 'cotton', 'genuine', 'authentic', 'original', 'waterproof', 'compatible', 'manual', 'battery', 'warranty', 'ingredient*', 'weight', 'capacity', 'in stock', 'restock', 'how to use', 'how do i use', 'wash*', 'colou*r', 'quality', 'made of', 'made in', 'specs', 'specification*',
  ],
  recommend: [
    '推荐', '建议', '买什么', '送什么', '礼物', '送人', '搭配', '类似', '同款', '别的', '热门', '爆款', '好用', '哪款', '哪个好', '选哪', '适合我', '有什么好',
    'recommend*', 'suggest*', 'gift', 'present', 'similar', 'alternative*', 'popular', 'best seller*', 'bestseller*', 'should i buy', 'what to buy', 'top rated', 'something like',
  ],
  discount: [
    '优惠', '券', '折扣', '打折', '几折', '满减', '红包', '活动', '促销', '降价', '便宜', '大促', '秒杀', '双十一', '双11', '618', '赠品', '返现', '价保', '福利', '拼团', '团购', '立减', '减价', '特价', '积分抵',
    'coupon*', 'voucher*', 'discount*', 'promo*', 'code', 'sale', 'deal', 'deals', 'cheaper', 'cashback', 'bogo', 'free gift', 'offer*', 'price match', 'lowest price', '% off', 'off',
  ],
  pay: [
    '付款', '支付', '付钱', '扣款', '扣钱', '扣了', '花呗', '白条', '分期', '信用卡', '银行卡', '微信支付', '支付宝', '余额', '代付', '付不了', '没付', '已付', '转账', '云闪付',
    'pay', 'paid', 'paying', 'payment*', 'charg*', 'card', 'visa', 'mastercard', 'amex', 'paypal', 'apple pay', 'alipay', 'installment*', 'cash on delivery', 'cod', 'klarna', 'checkout',
  ],
  invoice: [
    '发票', '开票', '收据', '抬头', '税号', '增值税', '专票', '普票', '电子票',
    'invoice*', 'receipt*', 'vat', 'tax', 'billing',
  ],
  account: [
    '账号', '账户', '登录', '登陆', '密码', '注册', '注销', '手机号', '绑定', '解绑', '验证码', '会员', '积分', '昵称', '头像', '个人信息', '实名', '退出登录',
    'account*', 'login', 'log in', 'logged', 'password*', 'sign in', 'sign up', 'register*', 'verification', 'sms', 'otp', 'profile', 'member*', 'points', 'email', 'username',
  ],
  address: ['地址', '收货人', '收件人', '改地址', '写错了', 'address*', 'recipient', 'postcode', 'zip code'],
  human: [
    '人工', '真人', '客服', '转人工', '活人', '人类', '投诉', '经理', '主管', '机器人', '找人', '负责人',
    'human', 'agent', 'real person', 'representative', 'operator', 'manager', 'supervisor', 'bot', 'robot', 'someone', 'a person', 'complain*', 'escalat*',
  ],
  greet: [
    '你好', '您好', '在吗', '在不在', '哈喽', '嗨', '早上好', '下午好', '晚上好', '早安', '亲在', '有人吗',
    'hi', 'hello', 'hey', 'hallo', 'hiya', 'good morning', 'good afternoon', 'good evening', 'greetings', 'yo', 'anyone there',
  ],
  thanks: [
    '谢谢', '感谢', '多谢', '谢了', '辛苦', '麻烦了', '麻烦你', '好的', '好滴', '好哒', '知道了', '明白了', '收到', '再见', '拜拜', '没问题了', '没事了', '解决了',
    'thanks', 'thank*', 'thx', 'ty', 'tysm', 'appreciate*', 'bye', 'goodbye', 'cheers', 'got it', 'ok', 'okay', 'see you', 'have a nice day', 'great', 'perfect', 'sounds good', 'no more questions', "that's all",
  ],
  when: ['多久', '几天', '什么时候', '啥时候', '何时', '多长时间', '几号', 'how long', 'when', 'how many days', 'how soon', 'by friday', 'by monday'],
  where: ['在哪', '到哪', '哪里', '哪儿', 'where'],
  order: ['订单', '下单', '买的', '单号', '我的货', '我买', 'order*', 'purchase*', 'bought'],
  price: ['价格', '多少钱', '价钱', '贵', 'price*', 'cost*', 'expensive'],
};

interface Matcher {
  concept: string;
  zh: string[];
  en: RegExp | undefined;
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const MATCHERS: Matcher[] = Object.entries(CONCEPTS).map(([concept, terms]) => {
  const zh = terms.filter((t) => /\p{Script=Han}|^\d+$/u.test(t));
  const en = terms
    .filter((t) => !zh.includes(t))
    .map((t) => {
      const stem = t.endsWith('*') ? t.slice(0, -1) : t;
      return `${escape(stem).replace(/ /g, '\\s+')}${t.endsWith('*') ? '[a-z]*' : ''}`;
    });
  return {
    concept,
    zh,
    en: en.length ? new RegExp(`(?<![a-z])(?:${en.join('|')})(?![a-z])`, 'u') : undefined,
  };
});

/** The concepts a normalized (lower-case) text mentions, in a fixed order. */
export function conceptsOf(text: string): string[] {
  const out: string[] = [];
  for (const m of MATCHERS)
    if (m.zh.some((t) => text.includes(t)) || (m.en !== undefined && m.en.test(text))) out.push(m.concept);
  return out;
}
