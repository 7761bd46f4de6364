// The frequency cap across flows: message slots per user and user-local day. Reserving is
// idempotent per message key, so a retried reservation does not use a second slot.

export interface SlotReservation {
  shopId: string;
  userId: string;
  localDay: string;
  cap: number;
  key: string;
}

export interface MessageSlots {
  reserve(req: SlotReservation): Promise<{ granted: boolean; used: number }>;
}

export function createMemoryMessageSlots(): MessageSlots & {
  used(shopId: string, userId: string, day: string): number;
} {
  const days = new Map<string, Set<string>>();
  const dayKey = (shopId: string, userId: string, day: string): string => `${shopId}/${userId}/${day}`;
  return {
    reserve(req) {
      const k = dayKey(req.shopId, req.userId, req.localDay);
      const keys = days.get(k) ?? new Set<string>();
      days.set(k, keys);
      if (keys.has(req.key)) return Promise.resolve({ granted: true, used: keys.size });
      if (keys.size >= req.cap) return Promise.resolve({ granted: false, used: keys.size });
      keys.add(req.key);
      return Promise.resolve({ granted: true, used: keys.size });
    },
    used: (shopId, userId, day) => days.get(dayKey(shopId, userId, day))?.size ?? 0,
  };
}
