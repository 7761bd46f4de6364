// Generates the shipped demo catalog, catalog/products.json, deterministically (fixed seed, fixed
// reference date): `npx tsx catalog/generate.ts` rewrites the file; commit the result. The JSON file
// is the artifact the code loads (loadCatalog in catalog/index.ts); this script only produces it, and
// a unit test checks that the committed file equals what the script generates.
//
// Products are product lines (what the item is, its attributes, a base price) made by some of the
// category's brands, sometimes in variants (storage, pack size) that change the price. Brands carry a
// price factor (budget to premium), so the price tertiles within a category (budget / mid / premium
// bands) mix brands and lines the way a real shop does.
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { CatalogProduct } from './types';
import { mulberry32 as prng } from '../demo/random';

/** Reference date: addedAt is spread over the two years before it. */
const REFERENCE_DATE = Date.UTC(2026, 10, 20);
const DAY_MS = 86_400_000;
const SEED = 20261120;

interface Line {
  en: string;
  zh: string;
  attrs: Record<string, string>;
  /** Base price in whole dollars, before brand and variant factors. */
  base: number;
  brands: string[];
  /** Variants: a suffix for both names and a price factor. */
  variants?: { en: string; zh: string; factor: number }[];
}

interface CategorySpec {
  sku: string;
  /** Brand -> price factor. */
  brands: Record<string, number>;
  lines: Line[];
}

const storage = (...sizes: number[]): { en: string; zh: string; factor: number }[] =>
  sizes.map((gb) => ({
    en: `${gb}GB`,
    zh: `${gb}GB`,
    factor: { 64: 0.88, 128: 1, 256: 1.14, 512: 1.32 }[gb] ?? 1,
  }));

const BEAN_SIZES = [
  { en: '250g', zh: '250克', factor: 1 },
  { en: '1kg', zh: '1公斤', factor: 3.3 },
];

const l = (
  en: string,
  zh: string,
  attrs: Record<string, string>,
  base: number,
  brands: string[],
  variants?: Line['variants'],
): Line => (variants ? { en, zh, attrs, base, brands, variants } : { en, zh, attrs, base, brands });

const wear = (material: string, style: string, occasion: string): Record<string, string> => ({
  material,
  style,
  occasion,
});

const phone = (battery: string, durability: string, screen: string): Record<string, string> => ({
  battery,
  durability,
  screen,
});

export const CATEGORY_SPECS: Record<string, CategorySpec> = {
  apparel: {
    sku: 'APP',
    brands: { Northwind: 1, Lumen: 1.3, Peak: 0.9, Ardent: 0.72 },
    lines: [
      l('Oxford Shirt', '牛津纺衬衫', wear('cotton', 'formal', 'office'), 49, [
        'Northwind',
        'Lumen',
        'Ardent',
      ]),
      l('Linen Shirt', '亚麻衬衫', wear('linen', 'casual', 'everyday'), 59, ['Northwind', 'Lumen']),
      l('Merino Wool Sweater', '美利奴羊毛衫', wear('wool', 'casual', 'everyday'), 89, [
        'Northwind',
        'Lumen',
      ]),
      l('Wool Blazer', '羊毛西装外套', wear('wool', 'formal', 'office'), 189, ['Lumen', 'Northwind']),
      l('Leather Biker Jacket', '真皮机车夹克', wear('leather', 'casual', 'party'), 299, ['Lumen', 'Ardent']),
      l('Waterproof Rain Jacket', '防水冲锋衣', wear('synthetic', 'sport', 'outdoor'), 129, [
        'Peak',
        'Northwind',
      ]),
      l('Running T-Shirt', '速干跑步T恤', wear('synthetic', 'sport', 'outdoor'), 29, ['Peak', 'Ardent']),
      l('Cocktail Dress', '鸡尾酒会礼服裙', wear('synthetic', 'formal', 'party'), 139, ['Lumen', 'Ardent']),
      l('Cotton Summer Dress', '纯棉夏日连衣裙', wear('cotton', 'casual', 'everyday'), 59, [
        'Northwind',
        'Ardent',
      ]),
      l('Slim Chinos', '修身卡其裤', wear('cotton', 'casual', 'office'), 55, ['Northwind', 'Ardent']),
      l('Yoga Leggings', '瑜伽紧身裤', wear('synthetic', 'sport', 'everyday'), 45, ['Peak', 'Lumen']),
      l('Down Puffer Jacket', '羽绒服', wear('synthetic', 'casual', 'outdoor'), 179, ['Peak', 'Northwind']),
      l('Cotton Hoodie', '纯棉连帽卫衣', wear('cotton', 'casual', 'everyday'), 49, ['Peak', 'Ardent']),
      l('Tailored Trousers', '羊毛西裤', wear('wool', 'formal', 'office'), 99, ['Lumen', 'Northwind']),
      l('Wool Overcoat', '羊毛大衣', wear('wool', 'formal', 'office'), 259, ['Lumen', 'Northwind']),
      l('Linen Wide-Leg Trousers', '亚麻阔腿裤', wear('linen', 'casual', 'everyday'), 69, [
        'Lumen',
        'Ardent',
      ]),
      l('Sports Bra', '运动内衣', wear('synthetic', 'sport', 'everyday'), 35, ['Peak']),
      l('Leather Belt', '真皮腰带', wear('leather', 'formal', 'office'), 45, ['Northwind', 'Lumen']),
    ],
  },
  shoes: {
    sku: 'SHO',
    brands: { Stride: 1, Peak: 0.92, Northwind: 1.15, Ardent: 0.7 },
    lines: [
      l('Road Running Shoe', '公路跑鞋', wear('synthetic', 'sport', 'outdoor'), 119, ['Stride', 'Peak']),
      l('Trail Running Shoe', '越野跑鞋', wear('synthetic', 'sport', 'outdoor'), 139, ['Peak', 'Stride']),
      l('Leather Oxford Shoe', '真皮牛津鞋', wear('leather', 'formal', 'office'), 159, [
        'Northwind',
        'Stride',
      ]),
      l('Chelsea Boot', '切尔西靴', wear('leather', 'casual', 'everyday'), 179, ['Northwind', 'Stride']),
      l('Canvas Sneaker', '帆布鞋', wear('cotton', 'casual', 'everyday'), 49, ['Ardent', 'Stride']),
      l('Penny Loafer', '真皮乐福鞋', wear('leather', 'formal', 'office'), 139, ['Northwind', 'Ardent']),
      l('Hiking Boot', '登山靴', wear('leather', 'sport', 'outdoor'), 169, ['Peak', 'Northwind']),
      l('Block Heel Pump', '粗跟高跟鞋', wear('leather', 'formal', 'party'), 109, ['Stride', 'Ardent']),
      l('Wool Runner', '羊毛休闲运动鞋', wear('wool', 'casual', 'everyday'), 95, ['Stride', 'Peak']),
      l('Slip-On Sneaker', '一脚蹬休闲鞋', wear('synthetic', 'casual', 'everyday'), 59, ['Ardent', 'Peak']),
      l('Leather Court Sneaker', '真皮小白鞋', wear('leather', 'casual', 'everyday'), 89, [
        'Stride',
        'Northwind',
      ]),
      l('Training Shoe', '综合训练鞋', wear('synthetic', 'sport', 'everyday'), 89, ['Peak', 'Ardent']),
      l('Sport Sandal', '运动凉鞋', wear('synthetic', 'sport', 'outdoor'), 49, ['Peak', 'Ardent']),
      l('Sequin Party Flat', '亮片派对平底鞋', wear('synthetic', 'formal', 'party'), 69, ['Ardent']),
      l('Suede Desert Boot', '麂皮沙漠靴', wear('leather', 'casual', 'everyday'), 129, [
        'Northwind',
        'Stride',
      ]),
      l('Leather Derby Shoe', '真皮德比鞋', wear('leather', 'formal', 'office'), 149, [
        'Northwind',
        'Stride',
      ]),
      l('Waterproof Snow Boot', '防水雪地靴', wear('synthetic', 'casual', 'outdoor'), 119, [
        'Peak',
        'Northwind',
      ]),
      l('Linen Espadrille', '亚麻草编鞋', wear('linen', 'casual', 'everyday'), 45, ['Ardent', 'Stride']),
    ],
  },
  phones: {
    sku: 'PHO',
    brands: { Orbit: 1, Nova: 1, Kestrel: 1 },
    lines: [
      l(
        'Orbit 12',
        'Orbit 12 智能手机',
        phone('standard', 'standard', 'compact'),
        799,
        ['Orbit'],
        storage(128, 256),
      ),
      l(
        'Orbit 12 Pro',
        'Orbit 12 Pro 智能手机',
        phone('long', 'standard', 'large'),
        999,
        ['Orbit'],
        storage(256, 512),
      ),
      l(
        'Orbit 12 Pro Max',
        'Orbit 12 Pro Max 大屏智能手机',
        phone('long', 'standard', 'large'),
        1199,
        ['Orbit'],
        storage(256, 512),
      ),
      l(
        'Orbit 12 Mini',
        'Orbit 12 Mini 小屏智能手机',
        phone('standard', 'standard', 'compact'),
        649,
        ['Orbit'],
        storage(128),
      ),
      l(
        'Orbit Fold',
        'Orbit Fold 折叠屏手机',
        phone('standard', 'standard', 'large'),
        1299,
        ['Orbit'],
        storage(512),
      ),
      l(
        'Orbit 11',
        'Orbit 11 智能手机',
        phone('standard', 'standard', 'compact'),
        599,
        ['Orbit'],
        storage(128, 256),
      ),
      l(
        'Orbit SE',
        'Orbit SE 智能手机',
        phone('standard', 'standard', 'compact'),
        429,
        ['Orbit'],
        storage(64, 128),
      ),
      l(
        'Nova 8',
        'Nova 8 智能手机',
        phone('standard', 'standard', 'compact'),
        449,
        ['Nova'],
        storage(128, 256),
      ),
      l(
        'Nova 8 Note',
        'Nova 8 Note 大屏长续航手机',
        phone('long', 'standard', 'large'),
        549,
        ['Nova'],
        storage(128, 256),
      ),
      l(
        'Nova 8 Pro',
        'Nova 8 Pro 智能手机',
        phone('long', 'standard', 'large'),
        599,
        ['Nova'],
        storage(256, 512),
      ),
      l('Nova Max', 'Nova Max 大屏智能手机', phone('long', 'standard', 'large'), 649, ['Nova'], storage(256)),
      l(
        'Nova Lite',
        'Nova Lite 智能手机',
        phone('standard', 'standard', 'compact'),
        299,
        ['Nova'],
        storage(64, 128),
      ),
      l(
        'Nova Active',
        'Nova Active 防摔长续航手机',
        phone('long', 'rugged', 'large'),
        499,
        ['Nova'],
        storage(128),
      ),
      l(
        'Nova Flip',
        'Nova Flip 翻盖折叠手机',
        phone('standard', 'standard', 'compact'),
        899,
        ['Nova'],
        storage(256),
      ),
      l(
        'Kestrel X Rugged',
        'Kestrel X 三防手机',
        phone('long', 'rugged', 'large'),
        399,
        ['Kestrel'],
        storage(64, 128),
      ),
      l(
        'Kestrel X2 Rugged',
        'Kestrel X2 三防手机',
        phone('long', 'rugged', 'large'),
        549,
        ['Kestrel'],
        storage(128, 256),
      ),
      l(
        'Kestrel Power 6000',
        'Kestrel Power 6000毫安 超长续航手机',
        phone('long', 'standard', 'large'),
        249,
        ['Kestrel'],
        storage(64, 128),
      ),
      l(
        'Kestrel Power 7000 Max',
        'Kestrel Power 7000 Max 超长续航手机',
        phone('long', 'standard', 'large'),
        299,
        ['Kestrel'],
        storage(128, 256),
      ),
      l(
        'Kestrel Go',
        'Kestrel Go 智能手机',
        phone('standard', 'standard', 'compact'),
        179,
        ['Kestrel'],
        storage(64, 128),
      ),
      l(
        'Kestrel Outdoor Pro',
        'Kestrel Outdoor Pro 户外三防手机',
        phone('long', 'rugged', 'compact'),
        449,
        ['Kestrel'],
        storage(128, 256),
      ),
      l(
        'Kestrel One',
        'Kestrel One 耐摔手机',
        phone('standard', 'rugged', 'compact'),
        219,
        ['Kestrel'],
        storage(64),
      ),
    ],
  },
  phone_accessories: {
    sku: 'ACC',
    brands: { Orbit: 1.3, Volt: 1, Armorly: 0.9 },
    lines: [
      l('Drop-Proof Case', '防摔手机壳', { type: 'case', durability: 'rugged' }, 29, [
        'Armorly',
        'Orbit',
        'Volt',
      ]),
      l(
        'Armor Rugged Case with Kickstand',
        '带支架军规防摔手机壳',
        { type: 'case', durability: 'rugged' },
        39,
        ['Armorly'],
      ),
      l('Slim Clear Case', '超薄透明手机壳', { type: 'case', durability: 'standard' }, 15, [
        'Volt',
        'Armorly',
      ]),
      l(
        'Leather Folio Case',
        '真皮翻盖手机壳',
        { type: 'case', durability: 'standard', material: 'leather' },
        49,
        ['Orbit', 'Armorly'],
      ),
      l('Silicone Case', '液态硅胶手机壳', { type: 'case', durability: 'standard' }, 25, ['Orbit', 'Volt']),
      l(
        'Battery Case 5000mAh',
        '背夹电池手机壳 5000毫安',
        { type: 'case', battery: 'long', durability: 'standard' },
        59,
        ['Volt'],
      ),
      l(
        'Power Bank 10000mAh',
        '充电宝 10000毫安',
        { type: 'power_bank', battery: 'long', charging: 'standard' },
        25,
        ['Volt', 'Armorly', 'Orbit'],
      ),
      l(
        'Fast-Charge Power Bank 20000mAh',
        '快充充电宝 20000毫安',
        { type: 'power_bank', battery: 'long', charging: 'fast' },
        45,
        ['Volt', 'Armorly', 'Orbit'],
      ),
      l(
        'Magnetic Wireless Power Bank',
        '磁吸无线充电宝',
        { type: 'power_bank', battery: 'long', charging: 'standard' },
        55,
        ['Orbit', 'Volt'],
      ),
      l(
        'Rugged Outdoor Power Bank 26800mAh',
        '三防户外移动电源 26800毫安',
        { type: 'power_bank', battery: 'long', durability: 'rugged' },
        79,
        ['Armorly', 'Volt'],
      ),
      l(
        'Mini Power Bank 5000mAh',
        '迷你充电宝 5000毫安',
        { type: 'power_bank', battery: 'long', charging: 'standard' },
        19,
        ['Volt'],
      ),
      l('20W USB-C Fast Charger', '20W USB-C 快充充电器', { type: 'charger', charging: 'fast' }, 19, [
        'Orbit',
        'Volt',
        'Armorly',
      ]),
      l('65W GaN Charger', '65W 氮化镓快充充电器', { type: 'charger', charging: 'fast' }, 45, [
        'Volt',
        'Orbit',
      ]),
      l('Wireless Charging Pad', '无线充电板', { type: 'charger', charging: 'standard' }, 29, [
        'Orbit',
        'Volt',
      ]),
      l('Dual-Port Car Charger', '双口车载充电器', { type: 'charger', charging: 'fast' }, 19, [
        'Volt',
        'Armorly',
      ]),
      l('USB-C Cable 1m', 'USB-C 数据线 1米', { type: 'cable', durability: 'standard' }, 9, [
        'Volt',
        'Orbit',
        'Armorly',
      ]),
      l(
        'Braided Fast-Charge Cable 2m',
        '编织耐用快充数据线 2米',
        { type: 'cable', durability: 'rugged', charging: 'fast' },
        19,
        ['Armorly', 'Volt'],
      ),
      l('3-in-1 Charging Cable', '三合一充电线', { type: 'cable', durability: 'standard' }, 15, ['Volt']),
      l(
        'Tempered Glass Screen Protector',
        '钢化玻璃手机膜',
        { type: 'screen_protector', durability: 'rugged' },
        12,
        ['Armorly', 'Orbit'],
      ),
    ],
  },
  coffee_machines: {
    sku: 'CMA',
    brands: { Caffio: 1.3, Crema: 1, Nest: 0.8 },
    lines: [
      l(
        'Semi-Automatic Espresso Machine',
        '半自动意式咖啡机',
        { type: 'espresso', automation: 'manual' },
        399,
        ['Caffio', 'Crema', 'Nest'],
      ),
      l(
        'Bean-to-Cup Espresso Machine',
        '全自动研磨一体意式咖啡机',
        { type: 'espresso', automation: 'automatic' },
        899,
        ['Caffio', 'Crema'],
      ),
      l('Compact Espresso Maker', '迷你意式咖啡机', { type: 'espresso', automation: 'manual' }, 149, [
        'Nest',
        'Crema',
      ]),
      l(
        'Dual Boiler Espresso Machine',
        '双锅炉意式咖啡机',
        { type: 'espresso', automation: 'manual' },
        1599,
        ['Caffio'],
      ),
      l('Capsule Espresso Machine', '胶囊咖啡机', { type: 'espresso', automation: 'automatic' }, 129, [
        'Nest',
        'Crema',
      ]),
      l(
        'Espresso Machine with Grinder',
        '带磨豆器意式咖啡机',
        { type: 'espresso', automation: 'manual' },
        649,
        ['Caffio', 'Crema'],
      ),
      l('Travel Espresso Maker', '便携式意式咖啡机', { type: 'espresso', automation: 'manual' }, 79, [
        'Nest',
        'Crema',
      ]),
      l('Stovetop Moka Pot', '摩卡壶', { type: 'espresso', automation: 'manual' }, 39, ['Crema', 'Nest']),
      l('Programmable Drip Coffee Maker', '可预约滴滤咖啡机', { type: 'drip', automation: 'automatic' }, 89, [
        'Crema',
        'Nest',
      ]),
      l('Thermal Carafe Drip Brewer', '保温壶滴滤咖啡机', { type: 'drip', automation: 'automatic' }, 149, [
        'Caffio',
        'Crema',
      ]),
      l('Automatic Pour-Over Brewer', '自动手冲咖啡机', { type: 'drip', automation: 'automatic' }, 219, [
        'Caffio',
      ]),
      l('Single-Serve Drip Brewer', '单杯滴滤咖啡机', { type: 'drip', automation: 'automatic' }, 59, [
        'Nest',
        'Crema',
      ]),
      l(
        'Grind-and-Brew Drip Coffee Maker',
        '研磨一体滴滤咖啡机',
        { type: 'drip', automation: 'automatic' },
        179,
        ['Crema', 'Nest'],
      ),
      l('Conical Burr Grinder', '锥刀电动磨豆机', { type: 'grinder', automation: 'automatic' }, 129, [
        'Caffio',
        'Crema',
      ]),
      l('Flat Burr Grinder', '平刀电动磨豆机', { type: 'grinder', automation: 'automatic' }, 249, ['Caffio']),
      l('Hand Coffee Grinder', '手摇磨豆机', { type: 'grinder', automation: 'manual' }, 49, [
        'Crema',
        'Nest',
      ]),
      l('Blade Coffee Grinder', '刀片式电动磨豆机', { type: 'grinder', automation: 'automatic' }, 29, [
        'Nest',
      ]),
      l('Electric Milk Frother', '电动奶泡机', { type: 'frother', automation: 'automatic' }, 59, [
        'Caffio',
        'Crema',
        'Nest',
      ]),
      l('Handheld Milk Frother', '手持奶泡器', { type: 'frother', automation: 'manual' }, 15, [
        'Nest',
        'Crema',
      ]),
    ],
  },
  coffee_beans: {
    sku: 'CBE',
    brands: { 'Ember Roasters': 1.2, Highland: 1, Crema: 0.9 },
    lines: [
      l(
        'Ethiopia Yirgacheffe Light Roast',
        '埃塞俄比亚耶加雪菲浅烘咖啡豆',
        { roast: 'light', origin: 'ethiopia' },
        16,
        ['Ember Roasters', 'Highland'],
        BEAN_SIZES,
      ),
      l(
        'Kenya AA Light Roast',
        '肯尼亚AA浅烘咖啡豆',
        { roast: 'light', origin: 'kenya' },
        18,
        ['Ember Roasters', 'Highland'],
        BEAN_SIZES,
      ),
      l(
        'Colombia Supremo Medium Roast',
        '哥伦比亚特选中烘咖啡豆',
        { roast: 'medium', origin: 'colombia' },
        14,
        ['Highland', 'Crema'],
        BEAN_SIZES,
      ),
      l(
        'Guatemala Antigua Medium Roast',
        '危地马拉安提瓜中烘咖啡豆',
        { roast: 'medium', origin: 'guatemala' },
        15,
        ['Highland', 'Ember Roasters'],
        BEAN_SIZES,
      ),
      l(
        'Brazil Santos Medium Roast',
        '巴西山多士中烘咖啡豆',
        { roast: 'medium', origin: 'brazil' },
        12,
        ['Crema', 'Highland'],
        BEAN_SIZES,
      ),
      l(
        'Sumatra Mandheling Dark Roast',
        '苏门答腊曼特宁深烘咖啡豆',
        { roast: 'dark', origin: 'sumatra' },
        15,
        ['Ember Roasters', 'Highland'],
        BEAN_SIZES,
      ),
      l(
        'Italian Espresso Blend Dark Roast',
        '意式拼配深烘咖啡豆',
        { roast: 'dark', origin: 'blend' },
        13,
        ['Crema', 'Highland', 'Ember Roasters'],
        BEAN_SIZES,
      ),
      l(
        'House Blend Medium Roast',
        '招牌拼配中烘咖啡豆',
        { roast: 'medium', origin: 'blend' },
        11,
        ['Crema'],
        BEAN_SIZES,
      ),
      l(
        'Decaf Colombia Medium Roast',
        '低因哥伦比亚中烘咖啡豆',
        { roast: 'medium', origin: 'colombia', caffeine: 'decaf' },
        15,
        ['Highland', 'Crema'],
        BEAN_SIZES,
      ),
      l(
        'French Roast Dark Blend',
        '法式深烘拼配咖啡豆',
        { roast: 'dark', origin: 'blend' },
        12,
        ['Crema'],
        BEAN_SIZES,
      ),
      l(
        'Panama Geisha Light Roast',
        '巴拿马瑰夏浅烘咖啡豆',
        { roast: 'light', origin: 'panama' },
        39,
        ['Ember Roasters'],
        [BEAN_SIZES[0]!],
      ),
    ],
  },
  beauty: {
    sku: 'BEA',
    brands: { Bloom: 1, Verdant: 0.85, Lumen: 1.4 },
    lines: [
      l('Hyaluronic Acid Hydrating Serum', '玻尿酸补水精华液', { type: 'serum', skin_type: 'dry' }, 32, [
        'Bloom',
        'Lumen',
        'Verdant',
      ]),
      l('Niacinamide Oil-Control Serum', '烟酰胺控油精华液', { type: 'serum', skin_type: 'oily' }, 28, [
        'Verdant',
        'Bloom',
      ]),
      l('Vitamin C Brightening Serum', '维C亮肤精华液', { type: 'serum', skin_type: 'oily' }, 39, [
        'Lumen',
        'Bloom',
      ]),
      l('Retinol Night Serum', '视黄醇抗老晚安精华', { type: 'serum', skin_type: 'dry' }, 58, ['Lumen']),
      l('Rich Repair Moisturizer', '滋润修护面霜', { type: 'moisturizer', skin_type: 'dry' }, 36, [
        'Bloom',
        'Lumen',
      ]),
      l('Oil-Free Gel Moisturizer', '清爽无油保湿凝露', { type: 'moisturizer', skin_type: 'oily' }, 24, [
        'Verdant',
        'Bloom',
      ]),
      l('Calming Barrier Cream', '舒缓修护屏障霜', { type: 'moisturizer', skin_type: 'sensitive' }, 34, [
        'Verdant',
        'Lumen',
      ]),
      l('Luxury Renewal Cream', '奢华焕颜面霜', { type: 'moisturizer', skin_type: 'dry' }, 129, ['Lumen']),
      l('Hydrating Eye Cream', '保湿眼霜', { type: 'moisturizer', skin_type: 'dry' }, 45, ['Lumen', 'Bloom']),
      l('Shea Body Lotion', '乳木果身体乳', { type: 'moisturizer', skin_type: 'dry' }, 18, [
        'Bloom',
        'Verdant',
      ]),
      l('Mineral Sunscreen SPF 50', '物理防晒霜 SPF50', { type: 'sunscreen', skin_type: 'sensitive' }, 22, [
        'Verdant',
        'Bloom',
      ]),
      l(
        'Lightweight Sunscreen Fluid SPF 50+',
        '清透防晒乳 SPF50+',
        { type: 'sunscreen', skin_type: 'oily' },
        26,
        ['Lumen', 'Bloom'],
      ),
      l(
        'Tinted Moisturizing Sunscreen SPF 30',
        '保湿隔离防晒霜 SPF30',
        { type: 'sunscreen', skin_type: 'dry' },
        29,
        ['Lumen'],
      ),
      l('Gentle Amino Acid Cleanser', '温和氨基酸洁面乳', { type: 'cleanser', skin_type: 'sensitive' }, 16, [
        'Verdant',
        'Bloom',
      ]),
      l('Clay Purifying Cleanser', '净肤泥洁面乳', { type: 'cleanser', skin_type: 'oily' }, 18, ['Bloom']),
      l('Nourishing Cream Cleanser', '滋润洁面霜', { type: 'cleanser', skin_type: 'dry' }, 19, ['Lumen']),
      l('Hydrating Sheet Mask 10-Pack', '补水面膜 10片装', { type: 'mask', skin_type: 'dry' }, 25, [
        'Bloom',
        'Verdant',
      ]),
      l('Clarifying Clay Mask', '清洁泥膜', { type: 'mask', skin_type: 'oily' }, 27, ['Verdant', 'Bloom']),
      l('Soothing Toner', '舒缓爽肤水', { type: 'toner', skin_type: 'sensitive' }, 19, ['Verdant', 'Bloom']),
      l('Oil-Control Toner', '控油爽肤水', { type: 'toner', skin_type: 'oily' }, 17, ['Verdant']),
      l('Nourishing Lip Balm', '滋润润唇膏', { type: 'lip_balm', skin_type: 'dry' }, 8, ['Bloom', 'Verdant']),
    ],
  },
  home: {
    sku: 'HOM',
    brands: { Nest: 0.9, Oakline: 1.2, Lumen: 1.3 },
    lines: [
      l('Wool Throw Blanket', '羊毛盖毯', { room: 'living', style: 'classic', material: 'wool' }, 79, [
        'Oakline',
        'Lumen',
      ]),
      l('Cotton Knit Throw', '针织棉盖毯', { room: 'living', style: 'modern', material: 'cotton' }, 49, [
        'Nest',
        'Lumen',
      ]),
      l('Ceramic Table Lamp', '陶瓷台灯', { room: 'living', style: 'classic' }, 89, ['Oakline', 'Lumen']),
      l('LED Floor Lamp', 'LED 落地灯', { room: 'living', style: 'modern' }, 119, ['Nest', 'Lumen']),
      l('Ceramic Vase', '陶瓷花瓶', { room: 'living', style: 'modern' }, 39, ['Nest', 'Lumen']),
      l('Woven Storage Basket', '编织收纳篮', { room: 'living', style: 'classic' }, 29, ['Nest', 'Oakline']),
      l('Leather Armchair', '真皮单人沙发', { room: 'living', style: 'classic', material: 'leather' }, 599, [
        'Oakline',
      ]),
      l('Modern Three-Seat Sofa', '现代布艺三人沙发', { room: 'living', style: 'modern' }, 899, [
        'Lumen',
        'Oakline',
      ]),
      l('Round Wall Mirror', '圆形挂镜', { room: 'living', style: 'modern' }, 79, ['Lumen', 'Nest']),
      l('Wool Area Rug', '羊毛地毯', { room: 'living', style: 'classic', material: 'wool' }, 249, [
        'Oakline',
        'Lumen',
      ]),
      l('Linen Bedding Set', '亚麻床品四件套', { room: 'bedroom', style: 'modern', material: 'linen' }, 159, [
        'Lumen',
        'Nest',
      ]),
      l(
        'Cotton Sateen Duvet Cover',
        '纯棉贡缎被套',
        { room: 'bedroom', style: 'classic', material: 'cotton' },
        99,
        ['Oakline', 'Nest'],
      ),
      l('Memory Foam Pillow', '记忆棉枕头', { room: 'bedroom', style: 'modern' }, 45, ['Nest', 'Oakline']),
      l('Blackout Curtains', '遮光窗帘', { room: 'bedroom', style: 'modern' }, 59, ['Nest']),
      l('Oak Bedside Table', '橡木床头柜', { room: 'bedroom', style: 'classic' }, 199, ['Oakline']),
      l('Scented Soy Candle', '大豆香薰蜡烛', { room: 'bedroom', style: 'modern' }, 24, ['Lumen', 'Nest']),
      l('Cast Iron Skillet', '铸铁煎锅', { room: 'kitchen', style: 'classic' }, 49, ['Oakline', 'Nest']),
      l("Chef's Knife", '主厨刀', { room: 'kitchen', style: 'modern' }, 69, ['Oakline', 'Lumen']),
      l('Stoneware Mug Set', '粗陶马克杯套装', { room: 'kitchen', style: 'classic' }, 35, [
        'Nest',
        'Oakline',
      ]),
      l('Glass Storage Jars', '玻璃密封罐', { room: 'kitchen', style: 'modern' }, 25, ['Nest']),
      l('Oak Dining Table', '橡木餐桌', { room: 'kitchen', style: 'classic' }, 549, ['Oakline']),
    ],
  },
};

/** The shipped catalog's products, in a stable order (category, line, brand, variant). */
export function generateProducts(): CatalogProduct[] {
  const rnd = prng(SEED);
  const out: CatalogProduct[] = [];
  for (const [category, spec] of Object.entries(CATEGORY_SPECS)) {
    let n = 0;
    for (const line of spec.lines) {
      for (const brand of line.brands) {
        for (const variant of line.variants ?? [{ en: '', zh: '', factor: 1 }]) {
          n++;
          // phone models carry the brand in the line name already
          const prefix = line.en.startsWith(brand) ? '' : `${brand} `;
          const suffix = (s: string): string => (s ? ` ${s}` : '');
          const jitter = 0.92 + rnd() * 0.16;
          const dollars = Math.max(
            1,
            Math.round(line.base * (spec.brands[brand] ?? 1) * variant.factor * jitter),
          );
          const daysAgo = Math.floor(rnd() * 730);
          out.push({
            sku: `${spec.sku}-${String(n).padStart(4, '0')}`,
            nameEn: `${prefix}${line.en}${suffix(variant.en)}`,
            nameZh: `${line.zh.startsWith(brand) ? '' : `${brand} `}${line.zh}${suffix(variant.zh)}`,
            category,
            brand,
            priceMinor: dollars * 100 - 1,
            currency: 'USD',
            attributes: { ...line.attrs },
            addedAt: new Date(REFERENCE_DATE - daysAgo * DAY_MS).toISOString().slice(0, 10),
          });
        }
      }
    }
  }
  return out;
}

/** The file as committed: prettier-formatted JSON, so `prettier --check .` passes on it. */
export async function formatProducts(products: readonly CatalogProduct[], file: string): Promise<string> {
  // loaded here, not at the top: prettier is a dev tool, and the tests import this module
  const { format, resolveConfig } = await import('prettier');
  const options = (await resolveConfig(file)) ?? {};
  return format(JSON.stringify(products), { ...options, filepath: file });
}

if (require.main === module) {
  const file = path.join(__dirname, 'products.json');
  const products = generateProducts();
  formatProducts(products, file)
    .then((text) => {
      writeFileSync(file, text);
      console.log(`wrote ${products.length} products to ${path.relative(process.cwd(), file)}`);
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
