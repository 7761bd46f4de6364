// JSON.stringify for parsed JSON values of any depth, cut at a byte limit. JSON.stringify recurses and
// throws a RangeError on a value nested some thousands deep (JSON.parse does not), and its output can
// be larger than a NATS message: the collector's dead-letter copies must never fail for either.
// Pure, iterative; the output is JSON.stringify's, byte for byte, up to the cut.

type Frame =
  | { kind: 'array'; items: unknown[]; next: number }
  | { kind: 'object'; entries: [string, unknown][]; next: number };

/** JSON.stringify(value) when it is at most maxBytes UTF-8 bytes; else its first bytes up to the limit. */
export function boundedJson(value: unknown, maxBytes: number): { text: string; truncated: boolean } {
  const parts: string[] = [];
  let bytes = 0;
  let full = false;
  const emit = (s: string): void => {
    if (full) return;
    const n = Buffer.byteLength(s, 'utf8');
    if (bytes + n <= maxBytes) {
      parts.push(s);
      bytes += n;
      return;
    }
    // keep whole characters only
    const cut = Buffer.from(s, 'utf8')
      .subarray(0, maxBytes - bytes)
      .toString('utf8')
      .replace(/\uFFFD$/, '');
    parts.push(cut);
    full = true;
  };
  const stack: Frame[] = [];
  /** Writes a scalar, or opens a container (its items are written by the loop). */
  const open = (v: unknown): void => {
    if (Array.isArray(v)) {
      emit('[');
      stack.push({ kind: 'array', items: v, next: 0 });
    } else if (typeof v === 'object' && v !== null) {
      emit('{');
      const entries = Object.entries(v).filter(([, x]) => x !== undefined && typeof x !== 'function');
      stack.push({ kind: 'object', entries, next: 0 });
    } else {
      emit(JSON.stringify(v) ?? 'null');
    }
  };
  open(value);
  while (stack.length > 0 && !full) {
    const top = stack[stack.length - 1]!;
    if (top.kind === 'array') {
      if (top.next === top.items.length) {
        emit(']');
        stack.pop();
        continue;
      }
      if (top.next > 0) emit(',');
      const item = top.items[top.next++];
      open(item === undefined || typeof item === 'function' ? null : item);
    } else {
      if (top.next === top.entries.length) {
        emit('}');
        stack.pop();
        continue;
      }
      if (top.next > 0) emit(',');
      const [k, v] = top.entries[top.next++]!;
      emit(`${JSON.stringify(k)}:`);
      open(v);
    }
  }
  return { text: parts.join(''), truncated: full };
}
