// FNV-1a, 32 bit, over UTF-16 code units: stable across processes, languages and replays. Pure (no
// Node built-ins), so workflow code may use it: the topology's partitions and the flows' holdout
// buckets are both taken from it.

/** FNV-1a, 32 bit: stable across processes and languages. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
