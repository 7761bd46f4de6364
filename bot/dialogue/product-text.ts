// Catalog facts in a shopper's words, Chinese and English: names, prices, attributes and occasions.
import type { CatalogProduct } from '../../catalog/types';
import type { Lang } from './state';

const ATTRIBUTE_NAMES: Record<string, { zh: string; en: string }> = {
  material: { zh: '材质', en: 'material' },
  style: { zh: '风格', en: 'style' },
  occasion: { zh: '适合场合', en: 'occasion' },
  battery: { zh: '续航', en: 'battery' },
  durability: { zh: '耐用度', en: 'durability' },
  screen: { zh: '屏幕', en: 'screen' },
  type: { zh: '类型', en: 'type' },
  charging: { zh: '充电', en: 'charging' },
  automation: { zh: '操作方式', en: 'operation' },
  roast: { zh: '烘焙度', en: 'roast' },
  origin: { zh: '产地', en: 'origin' },
  caffeine: { zh: '咖啡因', en: 'caffeine' },
  skin_type: { zh: '适合肤质', en: 'skin type' },
  room: { zh: '适用空间', en: 'room' },
};

const VALUE_ZH: Record<string, string> = {
  cotton: '纯棉',
  linen: '亚麻',
  wool: '羊毛',
  leather: '皮革',
  synthetic: '合成面料',
  formal: '正式',
  casual: '休闲',
  sport: '运动',
  office: '通勤办公',
  everyday: '日常',
  party: '聚会派对',
  outdoor: '户外',
  standard: '标准',
  long: '长续航',
  rugged: '坚固耐摔',
  compact: '小屏',
  large: '大屏',
  case: '手机壳',
  power_bank: '充电宝',
  charger: '充电器',
  cable: '数据线',
  screen_protector: '钢化膜',
  fast: '快充',
  espresso: '意式',
  drip: '滴滤',
  grinder: '磨豆机',
  frother: '奶泡机',
  manual: '手动',
  automatic: '全自动',
  light: '浅烘',
  medium: '中烘',
  dark: '深烘',
  ethiopia: '埃塞俄比亚',
  kenya: '肯尼亚',
  colombia: '哥伦比亚',
  guatemala: '危地马拉',
  brazil: '巴西',
  sumatra: '苏门答腊',
  blend: '拼配',
  panama: '巴拿马',
  decaf: '低因',
  serum: '精华',
  moisturizer: '面霜',
  sunscreen: '防晒',
  cleanser: '洁面',
  mask: '面膜',
  toner: '爽肤水',
  lip_balm: '润唇膏',
  dry: '干性',
  oily: '油性',
  sensitive: '敏感肌',
  living: '客厅',
  bedroom: '卧室',
  kitchen: '厨房',
  classic: '经典',
  modern: '现代',
};

export function productName(p: CatalogProduct, lang: Lang): string {
  return lang === 'zh' ? p.nameZh || p.nameEn : p.nameEn;
}

export function money(minor: number, currency: string, lang: Lang): string {
  const amount = (minor / 100).toFixed(2);
  if (currency === 'CNY') return lang === 'zh' ? `¥${amount}` : `CNY ${amount}`;
  if (currency === 'USD') return `$${amount}`;
  return `${amount} ${currency}`;
}

/** "材质：纯棉；风格：正式；适合场合：通勤办公" / "material: cotton; style: formal; occasion: office". */
export function attributeLine(p: CatalogProduct, lang: Lang): string {
  const parts = Object.entries(p.attributes).map(([k, v]) => {
    const name = ATTRIBUTE_NAMES[k]?.[lang] ?? k.replace(/_/g, ' ');
    const value = lang === 'zh' ? (VALUE_ZH[v] ?? v) : v.replace(/_/g, ' ');
    return lang === 'zh' ? `${name}：${value}` : `${name}: ${value}`;
  });
  return parts.join(lang === 'zh' ? '；' : '; ');
}

/** One line about a product: name, price, attributes. */
export function productLine(p: CatalogProduct, lang: Lang): string {
  const attrs = attributeLine(p, lang);
  const price = money(p.priceMinor, p.currency, lang);
  return lang === 'zh'
    ? `${productName(p, lang)}（${price}）${attrs ? `，${attrs}` : ''}`
    : `${productName(p, lang)} (${price})${attrs ? `, ${attrs}` : ''}`;
}

/** Apparel and shoes come in sizes. */
export function isSized(p: CatalogProduct | undefined): boolean {
  return p?.category === 'apparel' || p?.category === 'shoes';
}
