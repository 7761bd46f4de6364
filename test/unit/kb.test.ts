// The knowledge base: the shipped entries load and answer each policy area in both languages; bad
// files are refused with the file and entry named; a folder edited while open is reloaded, a broken
// edit keeps the last good base; unanswered questions group into gaps with a draft entry.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parse } from 'yaml';
import { groupGaps } from '../../bot/kb/gaps';
import { loadEntries, openKnowledgeBase, parseEntries, type KnowledgeBase } from '../../bot/kb';
import { eventually } from '../../infra/stack/test-clickhouse';

const kb = openKnowledgeBase({});
afterAll(() => kb.close());

const ENTRY = (id: string, q = 'can i bring a llama') => `- id: ${id}
  version: 1
  intent: product_info
  title: { zh: 标题, en: Title }
  questions: { zh: [可以带羊驼吗], en: [${q}] }
  answer: { zh: 可以。, en: Yes. }
`;

it('loads the shipped entries: every policy area, both languages', () => {
  const areas = new Set(kb.entries().map((e) => e.id.split('.')[0]));
  expect([...areas].sort()).toEqual(['account', 'coupons', 'payment', 'refunds', 'returns', 'shipping']);
  expect(kb.version()).toMatch(/^[0-9a-f]{12}$/);
});

// held-out questions, phrased unlike any entry's own questions, with the intent the model gives them
const HELD_OUT = [
  ['我上周买的衣服不合适，想退掉怎么操作', 'zh', 'return_refund', /^returns\./],
  ['what if the parcel shows up broken', 'en', 'return_refund', /^returns\.damaged/],
  ['钱退到信用卡上要等几天', 'zh', 'return_refund', /^refunds\.timing/],
  ['is delivery free if i spend over 100', 'en', 'shipping_info', /^shipping\.fees/],
  ['你们一般用哪家快递公司发货', 'zh', 'shipping_info', /^shipping\.couriers/],
  ['公司报销要专票怎么弄', 'zh', 'payment_invoice', /^payment\.invoice/],
  ['can i split the payment into monthly installments', 'en', 'payment_invoice', /^payment\.installments/],
  ['两张优惠券可以一起用吗', 'zh', 'coupon_promotion', /^coupons\.stacking/],
  ['i typed the wrong street on my order, can i fix it', 'en', 'account_address', /^account\.change-address/],
  ['forgot my login password', 'en', 'account_address', /^account\.password/],
] as const;

it('ranks the right entry first for held-out questions, and is confident for most', () => {
  let confident = 0;
  for (const [q, lang, intent, id] of HELD_OUT) {
    expect({ q, id: kb.search(q, { lang })[0]?.id }).toEqual({ q, id: expect.stringMatching(id) as string });
    const [best] = kb.search(q, { lang, intent });
    expect({ q, id: best?.id }).toEqual({ q, id: expect.stringMatching(id) as string });
    expect(best!.answer).toMatch(lang === 'zh' ? /\p{Script=Han}/u : /^[^\u4e00-\u9fff]+$/u);
    if (best!.confident) confident++;
  }
  // measured: 7 of 10 confident (the others share one word with their entry: the bot asks again)
  expect(confident).toBeGreaterThanOrEqual(7);
});

it('is not confident about what it does not know', () => {
  for (const q of ['can i bring my llama to the store', '今天天气怎么样', 'hello', '你好'])
    expect(kb.search(q, { lang: 'en' })[0]?.confident ?? false).toBe(false);
});

it('refuses bad files, naming the file and the entry', () => {
  expect(() => parseEntries('- id: [', 'x.yaml')).toThrow(/x\.yaml: not valid YAML/);
  expect(() => parseEntries('id: a.b', 'x.yaml')).toThrow(/must be a list/);
  expect(() => parseEntries(ENTRY('Bad Id'), 'x.yaml')).toThrow(/entry Bad Id: id must look like area\.name/);
  expect(() => parseEntries(ENTRY('a.b').replace('en: Yes.', 'fr: Oui.'), 'x.yaml')).toThrow(
    /entry a\.b answer\.en must be non-empty/,
  );
  expect(() => parseEntries(ENTRY('a.b').replace('version: 1', 'version: 0'), 'x.yaml')).toThrow(/version/);
  expect(() =>
    parseEntries(ENTRY('a.b').replace('intent: product_info', 'intent: chit_chat'), 'x.yaml'),
  ).toThrow(/intent must be one of/);
  expect(() => parseEntries(`${ENTRY('a.b')}  extra: 1\n`, 'x.yaml')).toThrow(/unknown field extra/);
  const dir = mkdtempSync(path.join(tmpdir(), 'kb-'));
  try {
    writeFileSync(path.join(dir, 'a.yaml'), ENTRY('store.llama'));
    writeFileSync(path.join(dir, 'b.yaml'), ENTRY('store.llama'));
    expect(() => loadEntries(dir)).toThrow(/b\.yaml: entry store\.llama: id already used in a\.yaml/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('live reload', () => {
  let dir: string;
  let live: KnowledgeBase;
  const errors: Error[] = [];
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'kb-live-'));
    writeFileSync(path.join(dir, 'a.yaml'), ENTRY('store.hours', 'what are your opening hours'));
    live = openKnowledgeBase({ dir, watch: true, onError: (e) => errors.push(e) });
  });
  afterAll(() => {
    live.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds an entry added while open, and keeps the last good base on a broken edit', async () => {
    const v1 = live.version();
    writeFileSync(path.join(dir, 'b.yaml'), ENTRY('store.llamas', 'can i bring my llama to the store'));
    await eventually(
      () => Promise.resolve(live.search('bring my llama to the store', { lang: 'en' })[0]?.id),
      (id) => id === 'store.llamas',
      5000,
    );
    const v2 = live.version();
    expect(v2).not.toBe(v1);
    writeFileSync(path.join(dir, 'c.yaml'), '- id: [broken');
    await eventually(
      () => Promise.resolve(errors.length),
      (n) => n > 0,
      5000,
    );
    expect(errors[0]!.message).toMatch(/c\.yaml/);
    expect(live.version()).toBe(v2);
    expect(live.search('bring my llama to the store', { lang: 'en' })[0]?.id).toBe('store.llamas');
  });
});

it('groups unanswered questions by similarity, biggest first, with a valid draft entry', () => {
  const gaps = groupGaps([
    { text: 'do you sell gift cards', intent: 'fallback', n: 3 },
    { text: 'can i buy a gift card', intent: 'product_info', n: 2 },
    { text: '有礼品卡吗', intent: 'fallback', n: 4 },
    { text: '礼品卡怎么买', intent: 'fallback', n: 1 },
    { text: 'what is the meaning of life', intent: 'fallback', n: 1 },
  ]);
  expect(gaps.map((g) => g.asked)).toEqual([5, 5, 1]);
  expect(gaps[0]!.examples).toEqual(['有礼品卡吗', '礼品卡怎么买']);
  const draft = parse(gaps[1]!.draft) as { id: string }[];
  expect(() => parseEntries(gaps[1]!.draft, 'draft.yaml')).not.toThrow();
  expect(draft[0]!.id).toMatch(/^draft\./);
});
