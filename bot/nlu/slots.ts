// Slots: what a turn says beyond its intent, by rules over the normalized text (bounded input, no
// backtracking-prone patterns): an order id or courier number, a clothing size, a shoe size, height,
// weight and budget. Choices made:
//   - an order id is a courier number (SF1234567890, YT..., JD..., 1Z...), letters then 3+ digits
//     (A1001, DD20240611), or 6 to 24 digits; not a mainland mobile number (11 digits from 13-19)
//     unless the text says it is an order, not a money amount, not a measurement;
//   - single-letter sizes (S, M, L) need context ("size m", "m码", "穿M", "M号") or a capital standing
//     alone, since "m" and "l" are also English;
//   - heights 100-230 cm, weights 25-200 kg: anything else is no height or weight.
import { normalize } from './text';

export interface Slots {
  orderId?: string;
  size?: string;
  shoeSize?: string;
  heightCm?: number;
  weightKg?: number;
  budgetMinor?: number;
}

const COURIER =
  /\b(sf|yt|yto|zto|sto|jd|jdv|jdx|ems|yd|yunda|db|ups|dhl|fedex|tnt|cn|lp)\s?(\d[\d ]{7,22}\d)\b/i;
const UPS = /\b(1z[0-9a-z]{16})\b/i;
const LETTERS_DIGITS = /(?:^|[^a-z0-9])([a-z]{1,4}-?\d{3,20})(?![a-z0-9])/i;
const DIGITS = /(?:^|\D)(\d{6,24})(?!\d)/g;
const ORDER_WORD = /订单|单号|order|#|编号|运单|快递|包裹|parcel|package|tracking/i;
const MOBILE = /^1[3-9]\d{9}$/;
const NOT_AN_ID_PREFIX = /^(eu|us|uk|cn|size|xl|xxl|xs|iphone|ip|usb|type|gb|tb|mah|cm|kg|no|top)$/i;

function orderIdIn(raw: string, lower: string): string | undefined {
  const courier = COURIER.exec(raw);
  if (courier) return `${courier[1]}${courier[2]!.replace(/ /g, '')}`;
  const ups = UPS.exec(raw);
  if (ups) return ups[1];
  const ld = LETTERS_DIGITS.exec(raw);
  if (ld) {
    const letters = /^[a-z]+/i.exec(ld[1]!)![0];
    if (!NOT_AN_ID_PREFIX.test(letters) && !/^(\d+)(cm|kg|mm|ml|g)$/i.test(ld[1]!)) return ld[1];
  }
  const orderContext = ORDER_WORD.test(lower);
  for (const m of lower.matchAll(DIGITS)) {
    const digits = m[1]!;
    const after = lower.slice(m.index + m[0].length, m.index + m[0].length + 3);
    if (/^\s?(元|块|rmb|usd|dollars|円|cm|kg|斤|mah)/.test(after)) continue;
    if (MOBILE.test(digits) && !orderContext) continue;
    if (digits.length < 8 && !orderContext) continue;
    return digits;
  }
  return undefined;
}

const MULTI_SIZE = /(?:^|[^a-z0-9])(xxs|xs|xxxl|xxl|xl|[2-5]xl)(?![a-z])/i;
const SINGLE_CONTEXT =
  /(?:size|尺码|码数|穿|选|拿|要|买)\s?([sml])(?![a-z])|(?:^|[^a-z'])([sml])\s?(?:码|号|碼|size)|(?:^|[^a-z'])([sml])\s?(?:还是|or|和)\s?(?:xs|s|m|l|xl)(?![a-z])/i;
const SINGLE_CAPITAL = /(?:^|[^A-Za-z'’])([SML])(?![A-Za-z'’])/;
const ZH_SIZE: [RegExp, string][] = [
  [/加大码|特大码/, 'XL'],
  [/大码|l码/, 'L'],
  [/中码/, 'M'],
  [/小码/, 'S'],
  [/均码|one size/, 'ONE SIZE'],
];

function sizeIn(raw: string, lower: string): string | undefined {
  const multi = MULTI_SIZE.exec(lower);
  if (multi) return multi[1]!.toUpperCase();
  const single = SINGLE_CONTEXT.exec(lower);
  if (single) return (single[1] ?? single[2] ?? single[3])!.toUpperCase();
  for (const [re, size] of ZH_SIZE) if (re.test(lower)) return size;
  const capital = SINGLE_CAPITAL.exec(raw);
  // "I'M", "M&M" aside: a capital S, M or L on its own in a text that talks about fit
  if (capital && /码|size|fit|穿|大|小|small|large|tight|loose|wear/i.test(lower)) return capital[1];
  return undefined;
}

const SHOE_WORDS = /鞋|靴|shoe|sneaker|boot|trainer|sandal|heel|拖鞋|跑鞋/i;

function shoeSizeIn(lower: string): string | undefined {
  const withUnit = /(?:^|[^\d.])(3[4-9]|4[0-8])(\.5)?\s?(?:码|號|号|碼)/.exec(lower);
  if (withUnit && (SHOE_WORDS.test(lower) || !/裤|腰|jeans|pants/.test(lower)))
    return `${withUnit[1]}${withUnit[2] ?? ''}`;
  const eu = /\b(?:eu|euro|欧码|size)\s?(3[4-9]|4[0-8])(\.5)?\b/.exec(lower);
  if (eu && (SHOE_WORDS.test(lower) || /eu|euro|欧码/.test(eu[0]))) return `${eu[1]}${eu[2] ?? ''}`;
  const us = /\b(?:us|uk)\s?(1[0-5]|[4-9])(\.5)?\b/.exec(lower);
  if (us && SHOE_WORDS.test(lower)) return `${us[0].slice(0, 2).toUpperCase()} ${us[1]}${us[2] ?? ''}`;
  return undefined;
}

function heightIn(lower: string): number | undefined {
  const cm = /(?:^|[^\d.])(\d{3})\s?(?:cm|厘米|公分)/.exec(lower);
  if (cm) return within(Number(cm[1]), 100, 230);
  const metres = /(?:^|[^\d.])1(?:\.|米|m)(\d{1,2})(?:\s?(?:m|米)(?![a-z]))?/.exec(lower);
  if (metres && /米|m|身高|高|height|tall/.test(lower)) {
    const rest = metres[1]!;
    return within(100 + Number(rest.length === 1 ? `${rest}0` : rest), 100, 230);
  }
  const feet = /(\d)\s?(?:'|ft|feet|foot)\s?(\d{1,2})?\s?(?:"|in|inches)?/.exec(lower);
  if (feet && Number(feet[1]) >= 4 && Number(feet[1]) <= 7)
    return within(Math.round(Number(feet[1]) * 30.48 + Number(feet[2] ?? 0) * 2.54), 100, 230);
  const bare = /(?:身高|个子|高|height|tall|i'?m)\s?(?:是|有|:)?\s?(\d{3})(?!\d)/.exec(lower);
  if (bare) return within(Number(bare[1]), 100, 230);
  const pair = /(?:^|\D)(1[4-9]\d)\s*[/,， ]\s*(\d{2,3})(?:\s?(kg|斤))?(?!\d)/.exec(lower);
  if (pair) return within(Number(pair[1]), 100, 230);
  return undefined;
}

function weightIn(lower: string): number | undefined {
  const kg = /(?:^|[^\d.])(\d{2,3}(?:\.\d)?)\s?(?:kg|公斤|千克|kilos?)/.exec(lower);
  if (kg) return within(Number(kg[1]), 25, 200);
  const jin = /(?:^|[^\d.])(\d{2,3}(?:\.\d)?)\s?斤/.exec(lower);
  if (jin) return within(Math.round(Number(jin[1]) / 2), 25, 200);
  const lbs = /(?:^|[^\d.])(\d{2,3})\s?(?:lbs?|pounds)/.exec(lower);
  if (lbs) return within(Math.round(Number(lbs[1]) * 0.4536), 25, 200);
  const bare = /(?:体重|重|weight|weigh)\s?(?:是|有|:)?\s?(\d{2,3})(?!\d)/.exec(lower);
  if (bare) return within(Number(bare[1]), 25, 200);
  const pair = /(?:^|\D)1[4-9]\d\s*[/,， ]\s*(\d{2,3})(?!\d)/.exec(lower);
  if (pair) return within(Number(pair[1]), 25, 200);
  return undefined;
}

function budgetIn(lower: string): number | undefined {
  const amount = String.raw`(\d{1,6}(?:\.\d{1,2})?)\s?(k|千|w|万)?`;
  const patterns = [
    new RegExp(
      String.raw`(?:预算|budget|under|below|less than|within|max|不超过|不要超过|最多|around|about|大概)\s?(?:is|of|是|在)?\s?(?:\$|¥|￥|rmb|usd)?\s?${amount}`,
    ),
    new RegExp(String.raw`(?:\$|¥|￥)\s?${amount}\s?(?:以内|以下|之内|左右|上下|or less|max|budget)?`),
    new RegExp(String.raw`${amount}\s?(?:元|块|rmb|usd|dollars|bucks)?\s?(?:以内|以下|之内|左右|上下|内)`),
  ];
  for (const re of patterns) {
    const m = re.exec(lower);
    if (!m) continue;
    const mult = m[2] === 'k' || m[2] === '千' ? 1000 : m[2] === 'w' || m[2] === '万' ? 10_000 : 1;
    const v = Number(m[1]) * mult;
    if (v > 0 && v <= 1_000_000) return Math.round(v * 100);
  }
  return undefined;
}

const within = (v: number, lo: number, hi: number): number | undefined =>
  Number.isFinite(v) && v >= lo && v <= hi ? v : undefined;

/** The slots of a raw turn. */
export function extractSlots(rawText: string): Slots {
  const raw = rawText.normalize('NFKC').slice(0, 2000);
  const lower = normalize(rawText).text;
  const out: Slots = {};
  const orderId = orderIdIn(raw, lower);
  const shoeSize = shoeSizeIn(lower);
  const size = sizeIn(raw, lower);
  const heightCm = heightIn(lower);
  const weightKg = weightIn(lower);
  // a number read as a measurement or a size is not an order id
  if (orderId && !(heightCm && orderId.includes(String(heightCm)) && orderId.length < 6))
    out.orderId = orderId;
  if (size) out.size = size;
  if (shoeSize) out.shoeSize = shoeSize;
  if (heightCm) out.heightCm = heightCm;
  if (weightKg) out.weightKg = weightKg;
  const budgetMinor = budgetIn(lower);
  if (budgetMinor && !(orderId && String(budgetMinor / 100) === orderId)) out.budgetMinor = budgetMinor;
  return out;
}
