// The shop's size charts: apparel by height and weight, shoes between EU/CN and US/UK. Data, and the
// two lookups the size answers use. A shop with its own charts replaces the tables.
import type { Lang } from './state';

/** Apparel sizes, smallest first, with the height and weight range each fits. */
export const APPAREL_CHART: readonly {
  size: string;
  heightCm: [number, number];
  weightKg: [number, number];
}[] = [
  { size: 'S', heightCm: [150, 162], weightKg: [40, 52] },
  { size: 'M', heightCm: [160, 168], weightKg: [50, 60] },
  { size: 'L', heightCm: [166, 174], weightKg: [58, 68] },
  { size: 'XL', heightCm: [172, 180], weightKg: [66, 78] },
  { size: 'XXL', heightCm: [178, 188], weightKg: [76, 90] },
  { size: '3XL', heightCm: [185, 200], weightKg: [88, 110] },
];

/** EU/CN shoe sizes (one number in Chinese shops: 38码 = EU 38) with foot length and US/UK sizes. */
export const SHOE_CHART: readonly {
  eu: number;
  footMm: number;
  usMen: number;
  usWomen: number;
  uk: number;
}[] = [
  { eu: 35, footMm: 225, usMen: 3.5, usWomen: 5, uk: 2.5 },
  { eu: 36, footMm: 230, usMen: 4, usWomen: 5.5, uk: 3.5 },
  { eu: 37, footMm: 235, usMen: 5, usWomen: 6.5, uk: 4 },
  { eu: 38, footMm: 240, usMen: 5.5, usWomen: 7, uk: 5 },
  { eu: 39, footMm: 245, usMen: 6.5, usWomen: 8, uk: 6 },
  { eu: 40, footMm: 250, usMen: 7, usWomen: 8.5, uk: 6.5 },
  { eu: 41, footMm: 255, usMen: 8, usWomen: 9.5, uk: 7 },
  { eu: 42, footMm: 260, usMen: 8.5, usWomen: 10, uk: 8 },
  { eu: 43, footMm: 265, usMen: 9.5, usWomen: 11, uk: 9 },
  { eu: 44, footMm: 270, usMen: 10, usWomen: 11.5, uk: 9.5 },
  { eu: 45, footMm: 275, usMen: 11, usWomen: 12.5, uk: 10.5 },
  { eu: 46, footMm: 280, usMen: 12, usWomen: 13.5, uk: 11 },
];

/**
 * The apparel size for a height and weight: the size whose ranges both hold, else the larger of the
 * sizes each alone suggests (a tight fit is the common complaint). Undefined without either figure.
 */
export function apparelSizeFor(heightCm?: number, weightKg?: number): string | undefined {
  if (heightCm === undefined && weightKg === undefined) return undefined;
  const rank = (pick: (r: (typeof APPAREL_CHART)[number]) => [number, number], v?: number): number => {
    if (v === undefined) return -1;
    const i = APPAREL_CHART.findIndex((r) => v <= pick(r)[1]);
    return i < 0 ? APPAREL_CHART.length - 1 : i;
  };
  const both = APPAREL_CHART.find(
    (r) =>
      (heightCm === undefined || (heightCm >= r.heightCm[0] && heightCm <= r.heightCm[1])) &&
      (weightKg === undefined || (weightKg >= r.weightKg[0] && weightKg <= r.weightKg[1])),
  );
  const bySeparate = Math.max(
    rank((r) => r.heightCm, heightCm),
    rank((r) => r.weightKg, weightKg),
  );
  if (both && APPAREL_CHART.indexOf(both) >= bySeparate) return both.size;
  return APPAREL_CHART[Math.max(0, bySeparate)]!.size;
}

/** The chart row of an EU/CN shoe size ("42", "38码", "36.5" rounds up). */
export function shoeRow(size: string): (typeof SHOE_CHART)[number] | undefined {
  const n = Number.parseFloat(size.replace(/[^\d.]/g, ''));
  if (!Number.isFinite(n)) return undefined;
  return SHOE_CHART.find((r) => r.eu >= n);
}

export function shoeSizeLine(size: string, lang: Lang): string | undefined {
  const r = shoeRow(size);
  if (!r) return undefined;
  return lang === 'zh'
    ? `${r.eu}码约合脚长${r.footMm}mm（美码男${r.usMen}/女${r.usWomen}，英码${r.uk}）`
    : `EU ${r.eu} fits a foot of about ${r.footMm} mm (US men ${r.usMen} / women ${r.usWomen}, UK ${r.uk})`;
}
