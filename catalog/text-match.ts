// The vocabulary file's shape and the text matcher: normalisation, and longest-match scanning of a
// character trie (English words on boundaries, Chinese anywhere). Pure.

export interface VocabularyEntry {
  terms: string[];
  /** Feature name -> weight in (0, 1]. */
  features: Record<string, number>;
}

export interface VocabularyFile {
  entries: VocabularyEntry[];
}

export interface VocabularyTerm {
  /** Normalised (lower-case, hyphens as spaces). */
  term: string;
  /** 'zh' when the term contains Chinese characters. */
  lang: 'en' | 'zh';
  /** Feature name -> weight. */
  features: ReadonlyMap<string, number>;
  /** Where the term came from: the vocabulary file, or added from a category id / name or a brand. */
  origin: 'vocabulary' | 'category' | 'brand';
}

/**
 * Text as the matcher sees it: NFKC (full-width to ASCII), lower-case, hyphens, underscores and
 * dashes as spaces, curly apostrophes straight, runs of whitespace as one space.
 */
export function normalizeText(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[‘’]/g, "'")
    .replace(/[-_\u2010-\u2015]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

export const CJK = /[\u3400-\u9fff\uf900-\ufaff]/;

/** Character classes for word boundaries: Latin letter, digit, or other (space, punctuation, CJK). */
export function charClass(ch: string | undefined): 'l' | 'd' | 'o' {
  if (ch === undefined) return 'o';
  if (ch >= '0' && ch <= '9') return 'd';
  if ((ch >= 'a' && ch <= 'z') || (ch >= '\u00e0' && ch <= '\u024f')) return 'l';
  return 'o';
}

export interface TrieNode {
  next: Map<string, TrieNode>;
  /** Set where a term ends: its features as (index, weight) pairs. */
  features?: readonly (readonly [number, number])[];
}

/**
 * Dictionary matcher over a character trie. Terms are found by longest-match scanning: at each
 * position the candidates are the terms that start there ("power bank" and "power"; "手机壳" and
 * "手机"), and the text is split into the terms that cover the most characters with the fewest terms.
 * That is the longest term at each position, except where taking it would break the term after it:
 * "防摔手机壳" reads 防摔 + 手机壳 (5 characters covered), not 防摔手机 + 壳 (4). Computed right to
 * left in one pass (dynamic programming), linear in the text for a bounded term length.
 *
 * A term that starts (ends) with a Latin letter or digit must start (end) on a word boundary: the
 * neighbouring character is of another class (letter / digit / other), so "phone" does not match
 * inside "iphone" but "spf" matches in "spf50" and "mah" in "20000mah". An English term may be
 * followed by a plural "s" or "es". Chinese characters count as "other", so Chinese terms match
 * anywhere: the dictionary scan is the segmentation.
 */
export function matchTerms(trie: TrieNode, text: string, onMatch: (node: TrieNode) => void): void {
  const n = text.length;
  const endsOnBoundary = (end: number, last: string): boolean => {
    const cls = charClass(last);
    return cls === 'o' || end >= n || charClass(text[end]) !== cls;
  };
  /** Terms starting at i, as [end, node]. */
  const matchesAt = (i: number, out: [number, TrieNode][]): void => {
    out.length = 0;
    const cls = charClass(text[i]);
    if (cls !== 'o' && i > 0 && charClass(text[i - 1]) === cls) return; // inside a word or number
    let node: TrieNode | undefined = trie;
    for (let j = i; j < n; j++) {
      node = node.next.get(text[j]!);
      if (!node) return;
      if (!node.features) continue;
      const end = j + 1;
      const last = text[j]!;
      if (endsOnBoundary(end, last)) out.push([end, node]);
      else if (charClass(last) === 'l') {
        // plural: "cases", "power banks", "glasses"
        if (text[end] === 's' && endsOnBoundary(end + 1, 's')) out.push([end + 1, node]);
        else if (text.startsWith('es', end) && endsOnBoundary(end + 2, 's')) out.push([end + 2, node]);
      }
    }
  };
  // best[i]: the best split of text[i..]: characters covered, terms used, and the choice at i
  const covered = new Int32Array(n + 1);
  const count = new Int32Array(n + 1);
  const takeEnd = new Int32Array(n + 1).fill(-1);
  const takeNode: (TrieNode | undefined)[] = new Array<TrieNode | undefined>(n + 1);
  const candidates: [number, TrieNode][] = [];
  for (let i = n - 1; i >= 0; i--) {
    covered[i] = covered[i + 1]!;
    count[i] = count[i + 1]!;
    matchesAt(i, candidates);
    for (const [end, node] of candidates) {
      const c = end - i + covered[end]!;
      const k = 1 + count[end]!;
      if (c > covered[i]! || (c === covered[i]! && k < count[i]!)) {
        covered[i] = c;
        count[i] = k;
        takeEnd[i] = end;
        takeNode[i] = node;
      }
    }
  }
  for (let i = 0; i < n;) {
    const end = takeEnd[i]!;
    if (end > i) {
      onMatch(takeNode[i]!);
      i = end;
    } else i++;
  }
}
