// The value types of the configuration (infra/config.ts): ports, durations, sizes, shop:value pairs,
// channel targets, each a zod schema whose error says what a good value looks like.
import { z } from 'zod';
import { SHOP_ID_RE } from '../schemas/ids';

export const port = z.coerce.number().int().min(1).max(65535);
export const positiveInt = z.coerce.number().int().positive();
export const duration = z
  .string()
  .regex(/^\d+(ms|s|m|h|d)$/, 'must be a duration such as 500ms, 30s, 10m, 2h or 7d')
  .transform(parseDurationMs);

export function parseDurationMs(s: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(s);
  if (!m) throw new Error(`not a duration: ${s}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    m[2] as 'ms' | 's' | 'm' | 'h' | 'd'
  ];
  return Number(m[1]) * unit;
}

/** A size in bytes: a number, or with a binary unit (512KiB, 64MiB, 2GiB, 1TiB). */
export const byteSize = z
  .string()
  .regex(/^\d+(B|KiB|MiB|GiB|TiB)?$/, 'must be a size such as 512MiB, 2GiB or a number of bytes')
  .transform((s) => {
    const m = /^(\d+)(B|KiB|MiB|GiB|TiB)?$/.exec(s)!;
    const unit = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 }[
      (m[2] ?? 'B') as 'B' | 'KiB' | 'MiB' | 'GiB' | 'TiB'
    ];
    return Number(m[1]) * unit;
  })
  .refine((n) => n >= 1024 * 1024, 'must be at least 1MiB');

/** Comma-separated shop_id:value pairs (never printed: the variables holding them are secrets). */
function shopPairs(what: string, minLength = 1) {
  return z.string().transform((s, ctx) => {
    const pairs: [shop: string, value: string][] = [];
    for (const [i, pair] of s
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)
      .entries()) {
      const [shop, value, ...rest] = pair.split(':');
      if (!shop || !value || rest.length > 0) {
        ctx.addIssue({ code: 'custom', message: `entry ${i + 1} is not shop_id:${what}` });
        return z.NEVER;
      }
      if (!SHOP_ID_RE.test(shop)) {
        const message = `entry ${i + 1}: shop id must be 1 to 64 letters, digits, '.', '_' or '-'`;
        ctx.addIssue({ code: 'custom', message });
        return z.NEVER;
      }
      if (value.length < minLength) {
        ctx.addIssue({ code: 'custom', message: `entry ${i + 1}: ${what} shorter than ${minLength}` });
        return z.NEVER;
      }
      pairs.push([shop, value]);
    }
    return pairs;
  });
}
/** write key -> shop id */
export const writeKeys = shopPairs('write_key').transform((pairs) =>
  Object.fromEntries(pairs.map(([shop, key]) => [key, shop])),
);
/** shop id -> user-token secret */
export const shopSecrets = shopPairs('secret', 32).transform((pairs) => Object.fromEntries(pairs));

/** A message channel: the log channel, not configured, or a relay URL (see activities/channels). */
export type ChannelTarget = { kind: 'log' } | { kind: 'off' } | { kind: 'http'; url: string };
export const channelTarget = z.string().transform((s, ctx): ChannelTarget => {
  if (s === 'log' || s === 'off') return { kind: s };
  if (/^https?:\/\/[^/\s]+/.test(s) && URL.canParse(s)) return { kind: 'http', url: s };
  ctx.addIssue({ code: 'custom', message: 'must be log, off or an http(s):// relay URL' });
  return z.NEVER;
});
