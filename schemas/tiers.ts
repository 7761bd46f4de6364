// A user's value tier: set by the interest processor (tier_changed events), read by the flows'
// audiences and coupon offers. Lowest first: a move to a later tier is a move up.
export const TIERS = ['new', 'repeat', 'high_value'] as const;
export type Tier = (typeof TIERS)[number];
