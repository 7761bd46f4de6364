import { conceptsOf } from '../../bot/nlu/lexicon';
import { normalize } from '../../bot/nlu/text';

const concepts = (text: string): string[] => conceptsOf(normalize(text).text);

describe('NLU domain concepts', () => {
  it.each([
    ['我想退钱', 'ret'],
    ['I want my money back', 'ret'],
    ['was it refunded', 'ret'],
    ['顺丰到哪了', 'courier'],
    ['has the parcel left the warehouse', 'dispatch'],
    ['能用花呗吗', 'pay'],
    ['need a VAT receipt', 'invoice'],
    ['满减券怎么用', 'discount'],
    ['转人工', 'human'],
    ['Thank you so much', 'thanks'],
  ])('%s mentions %s', (text, concept) => {
    expect(concepts(text)).toContain(concept);
  });

  it('matches English terms as whole words, not inside other words', () => {
    expect(concepts('our relationship')).not.toContain('dispatch'); // "ship" inside a word
    expect(concepts('this is it')).not.toContain('greet'); // "hi" inside "this"
    expect(concepts('a cardigan')).not.toContain('pay'); // "card" inside a word
    expect(concepts('')).toEqual([]);
  });

  it('tolerates hostile text (long, emoji, markup) without throwing', () => {
    expect(() => concepts('<script>'.repeat(500) + '😀'.repeat(1000))).not.toThrow();
  });
});
