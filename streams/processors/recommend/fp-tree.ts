// The FP-tree the rule miner (rules.ts) grows itemsets from: item ids (0 = most frequent), nodes in
// typed arrays. Pure.

/**
 * Nodes live in typed arrays (node 0 is the root); a child is found through one numeric map keyed
 * by parent * itemCount + item. Items of the tree are listed in first-insertion order.
 */
export class FpTree {
  item = new Int32Array(64);
  parent = new Int32Array(64);
  count = new Float64Array(64);
  /** next node with the same item (the header's node-link list), -1 at the end */
  next = new Int32Array(64);
  size = 1;
  readonly child = new Map<number, number>();
  /** item -> first node of its node-link list, -1 when absent */
  readonly heads: Int32Array;
  /** item -> total count in this tree */
  readonly totals: Float64Array;
  readonly items: number[] = [];

  constructor(readonly itemCount: number) {
    this.heads = new Int32Array(itemCount).fill(-1);
    this.totals = new Float64Array(itemCount);
    this.item[0] = -1;
    this.parent[0] = -1;
  }

  private grow(): void {
    const cap = this.item.length * 2;
    const copy = <A extends Int32Array | Float64Array>(a: A, make: (n: number) => A): A => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    this.item = copy(this.item, (n) => new Int32Array(n));
    this.parent = copy(this.parent, (n) => new Int32Array(n));
    this.count = copy(this.count, (n) => new Float64Array(n));
    this.next = copy(this.next, (n) => new Int32Array(n));
  }

  /** Inserts the first `length` ids of `path` (ascending; descending when `reversed`) with a count. */
  insert(path: readonly number[], length: number, count: number, reversed = false): void {
    let node = 0;
    for (let i = 0; i < length; i++) {
      const it = path[reversed ? length - 1 - i : i]!;
      const key = node * this.itemCount + it;
      let c = this.child.get(key);
      if (c === undefined) {
        if (this.size === this.item.length) this.grow();
        c = this.size++;
        this.item[c] = it;
        this.parent[c] = node;
        this.count[c] = 0;
        this.next[c] = this.heads[it]!;
        if (this.heads[it] === -1) this.items.push(it);
        this.heads[it] = c;
        this.child.set(key, c);
      }
      this.count[c]! += count;
      this.totals[it]! += count;
      node = c;
    }
  }
}
