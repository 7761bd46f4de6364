// Event ids are ULIDs: 48 bits of millisecond time then 80 bits of randomness, Crockford base32.
// They sort by time as strings, which ClickHouse and JetStream dedup both rely on.
import { createHash, randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const ULID_RE = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

function encodeTime(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0 || ms > 2 ** 48 - 1)
    throw new RangeError(`ULID time out of range: ${ms}`);
  let out = '';
  let t = ms;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32]! + out;
    t = Math.floor(t / 32);
  }
  return out;
}

function encodeRandom(bytes: Uint8Array): string {
  // 80 bits -> 16 characters of 5 bits.
  let out = '';
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < 10; i++) {
    acc = (acc << 8) | bytes[i]!;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(acc >> bits) & 31]!;
    }
    acc &= (1 << bits) - 1;
  }
  return out;
}

/** Monotonic ULID generator: ids from one generator strictly increase, even within one millisecond. */
export function createUlidFactory(now: () => number = Date.now): () => string {
  let lastTime = -1;
  let last = new Uint8Array(10);
  return () => {
    const t = now();
    if (t > lastTime) {
      lastTime = t;
      last = new Uint8Array(randomBytes(10));
      last[0]! &= 0x7f; // leave room to increment within the millisecond
    } else {
      for (let i = 9; i >= 0; i--) {
        last[i] = (last[i]! + 1) & 0xff;
        if (last[i] !== 0) break;
      }
    }
    return encodeTime(lastTime) + encodeRandom(last);
  };
}

export const newEventId = createUlidFactory();

/** A ULID that is the same for the same (time, key): used when a client sends its own message id. */
export function deriveEventId(timeMs: number, key: string): string {
  const digest = createHash('sha256').update(key).digest();
  return encodeTime(Math.max(0, Math.min(timeMs, 2 ** 48 - 1))) + encodeRandom(digest.subarray(0, 10));
}

export function isUlid(s: string): boolean {
  return ULID_RE.test(s);
}

export function ulidTime(id: string): number {
  let t = 0;
  for (const ch of id.slice(0, 10)) t = t * 32 + ALPHABET.indexOf(ch);
  return t;
}
