// Reading a profile: its strongest interests at a moment (decayed to that time), named by the
// catalog's features, and the top category.
import type { Catalog } from '../../../catalog/types';
export * from './state';
import { type DecayedVector, type HalfLives, type ProfileState } from './state';
import { valueAt } from './vectors';

export interface Interest {
  feature: string;
  weight: number;
}

/** The strongest positive interests at time `t`, by weight. */
export function topInterests(
  v: DecayedVector,
  t: number,
  halfLifeMs: number,
  catalog: Catalog,
  k = 5,
): Interest[] {
  const row = valueAt(v, t, halfLifeMs).getRow(0);
  return row
    .map((weight, i) => ({ feature: catalog.features.names[i]!, weight }))
    .filter((x) => x.weight > 1e-9)
    .sort((a, b) => b.weight - a.weight || a.feature.localeCompare(b.feature))
    .slice(0, k);
}

/** The category with the highest long-term interest at time `t`, if any. */
export function topCategory(
  s: ProfileState,
  t: number,
  halfLives: HalfLives,
  catalog: Catalog,
): string | undefined {
  const row = valueAt(s.long, t, halfLives.longMs).getRow(0);
  let best: string | undefined;
  let bestWeight = 0;
  row.forEach((weight, i) => {
    const name = catalog.features.names[i]!;
    if (name.startsWith('category:') && weight > bestWeight) {
      best = name.slice('category:'.length);
      bestWeight = weight;
    }
  });
  return best;
}
