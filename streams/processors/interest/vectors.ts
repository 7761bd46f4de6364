// Time-decayed vectors: s_t = s_prev * 2^(-dt / half_life) + weight * x, updated in O(1) per event
// and read at any time without amplifying (ml-matrix rows).
import { Matrix } from 'ml-matrix';
import type { DecayedVector } from './state';

export const decayFactor = (dtMs: number, halfLifeMs: number): number => Math.pow(2, -dtMs / halfLifeMs);

/** Adds `weight * x` at time `t` to a decayed vector, in place. */
export function addAt(v: DecayedVector, x: Matrix, weight: number, t: number, halfLifeMs: number): void {
  if (v.at === 0) v.at = t;
  if (t >= v.at) {
    v.row.mul(decayFactor(t - v.at, halfLifeMs));
    v.at = t;
    v.row.add(Matrix.mul(x, weight));
  } else {
    v.row.add(Matrix.mul(x, weight * decayFactor(v.at - t, halfLifeMs)));
  }
}

/** The vector's value at time `t` (never amplified: a time before `at` reads as `at`). */
export function valueAt(v: DecayedVector, t: number, halfLifeMs: number): Matrix {
  return Matrix.mul(v.row, decayFactor(Math.max(0, t - v.at), halfLifeMs));
}
