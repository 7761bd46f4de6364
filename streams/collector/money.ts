// Money from Segment: decimals in major units (19.99) to our integer minor units, by the currency's
// ISO 4217 exponent (2 for most, 0 for JPY/KRW/..., 3 for BHD/KWD/...; 2 when no currency is given),
// rounded half away from zero. Pure.

const ZERO_DECIMAL = new Set(
  'BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF'.split(' '),
);
const THREE_DECIMAL = new Set('BHD IQD JOD KWD LYD OMR TND'.split(' '));

/** Decimal major units to integer minor units for the currency (2 decimals when unknown). */
export function toMinorUnits(amount: number, currency?: string): number {
  const c = currency?.toUpperCase() ?? '';
  const exponent = ZERO_DECIMAL.has(c) ? 0 : THREE_DECIMAL.has(c) ? 3 : 2;
  // Shift the decimal point in the string form, so 1.005 becomes 100.5 (not 100.49999...) before rounding.
  const text = String(Math.abs(amount));
  const shifted = text.includes('e') ? Math.abs(amount) * 10 ** exponent : Number(`${text}e${exponent}`);
  return Math.sign(amount) * Math.round(shifted);
}
