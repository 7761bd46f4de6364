// The frequency cap on a JetStream KV bucket: one key per user and user-local day listing the message
// keys that used a slot, written with compare-and-set on the revision, so flows on any worker process
// count against the same cap. Reserving is idempotent per message key (a retried reservation is granted
// without using a second slot), like the in-memory MessageSlots.
//
// Key: slots.<shop>.<user>.<YYYY-MM-DD>  value: {keys: [<message key>, ...]}
// Day keys are not read again after the day: give the bucket a TTL (max age) of a few days.
import type { KV, KvEntry } from 'nats';
import { isKvConflict } from '../infra/nats';
import { kvKey } from '../schemas/kv-keys';
import type { MessageSlots, SlotReservation } from './message-slots';

export interface SlotDay {
  keys: string[];
}

export interface KvMessageSlots extends MessageSlots {
  used(shopId: string, userId: string, localDay: string): Promise<number>;
}

export const slotKey = (shopId: string, userId: string, localDay: string): string =>
  kvKey('slots', shopId, userId, localDay);

/** A value to read: deleted and purged keys keep a revision (to update on) but have no value. */
const live = (e: KvEntry): boolean => e.operation === 'PUT' && e.value.length > 0;

async function read(kv: KV, key: string): Promise<{ day: SlotDay; revision: number }> {
  const e = await kv.get(key);
  if (!e || !live(e)) return { day: { keys: [] }, revision: e?.revision ?? 0 };
  return { day: JSON.parse(Buffer.from(e.value).toString('utf8')) as SlotDay, revision: e.revision };
}

export function createKvMessageSlots(kv: KV, options: { maxAttempts?: number } = {}): KvMessageSlots {
  const maxAttempts = options.maxAttempts ?? 500;
  return {
    async reserve(req: SlotReservation) {
      const key = slotKey(req.shopId, req.userId, req.localDay);
      for (let attempt = 0; attempt < maxAttempts; attempt++) {
        const { day, revision } = await read(kv, key);
        if (day.keys.includes(req.key)) return { granted: true, used: day.keys.length };
        if (day.keys.length >= req.cap) return { granted: false, used: day.keys.length };
        const next: SlotDay = { keys: [...day.keys, req.key] };
        const value = Buffer.from(JSON.stringify(next), 'utf8');
        try {
          if (revision === 0) await kv.create(key, value);
          else await kv.update(key, value, revision);
          return { granted: true, used: next.keys.length };
        } catch (err) {
          if (!isKvConflict(err)) throw err;
        }
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(2 + attempt, 25)));
      }
      throw new Error(`message slots: ${key} still contended after ${maxAttempts} attempts`);
    },
    used: async (shopId, userId, localDay) =>
      (await read(kv, slotKey(shopId, userId, localDay))).day.keys.length,
  };
}
