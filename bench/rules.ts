// Association-rule mining benchmark: 20,000 random baskets of 1-30 items over 300 skus (popularity
// skewed, Zipf s=1, so some pairs and triples are frequent), maxBasketSize 20, maxItemsetLength 3.
//   npx tsx bench/rules.ts
//   BASKETS=50000 MIN_SUPPORT=0.0005 MIN_CONFIDENCE=0.05 npx tsx bench/rules.ts
import { mineRules } from '../streams/processors/recommend/rules';
import { mulberry32 as prng } from '../demo/random';

function main(): void {
  const count = Number(process.env['BASKETS'] ?? 20_000);
  const skus = Number(process.env['SKUS'] ?? 300);
  const minSupport = Number(process.env['MIN_SUPPORT'] ?? 0.001);
  const minConfidence = Number(process.env['MIN_CONFIDENCE'] ?? 0.05);
  const rand = prng(Number(process.env['SEED'] ?? 1));

  // Zipf popularity: cumulative weights 1/rank, sampled by binary search
  const cdf: number[] = [];
  let total = 0;
  for (let i = 1; i <= skus; i++) cdf.push((total += 1 / i));
  const pick = (): string => {
    const u = rand() * total;
    let lo = 0;
    let hi = skus - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return `SKU-${String(lo).padStart(4, '0')}`;
  };
  const baskets: string[][] = [];
  for (let i = 0; i < count; i++) {
    const size = 1 + Math.floor(rand() * 30);
    baskets.push(Array.from({ length: size }, pick));
  }

  const heapBefore = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const rs = mineRules(baskets, { minSupport, minConfidence, maxBasketSize: 20, maxItemsetLength: 3 });
  const ms = performance.now() - t0;
  const heapMb = (process.memoryUsage().heapUsed - heapBefore) / 1e6;
  console.log(
    `mined ${rs.baskets} baskets (${rs.truncatedBaskets} cut to 20 items), ${rs.items} skus, ` +
      `minSupport ${minSupport}, minConfidence ${minConfidence}: ${rs.itemsets} frequent itemsets, ` +
      `${rs.rules.length} rules in ${ms.toFixed(0)} ms (heap +${heapMb.toFixed(0)} MB after)`,
  );
  const top = rs.rules[0];
  if (top)
    console.log(
      `top rule: ${top.antecedent.join(' + ')} -> ${top.consequent.join(' + ')} ` +
        `(support ${top.support.toFixed(4)}, confidence ${top.confidence.toFixed(3)}, lift ${top.lift.toFixed(2)})`,
    );
}

main();
