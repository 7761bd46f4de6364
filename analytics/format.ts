// Text helpers the reports share.

/** `a` as a percentage of `b`, five characters wide; `  -  ` when b is 0. */
export const pct = (a: number, b: number): string =>
  b === 0 ? '  -  ' : `${((100 * a) / b).toFixed(1).padStart(5)}%`;

/** Minor units as dollars: `12.34 USD`. */
export const usd = (minor: number): string => `${(minor / 100).toFixed(2)} USD`;
