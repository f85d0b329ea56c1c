/**
 * Idle GPU resources kept for reuse: looked up by key, evicted oldest first once their bytes pass
 * a cap. The buffer pool (keyed by size class) and the texture pool (keyed by dimensions) share it.
 */
export class IdleSet<K, T> {
  private readonly byKey = new Map<K, T[]>();
  /** Every idle entry in release order, oldest first. */
  private readonly order: { key: K; item: T; bytes: number }[] = [];
  private total = 0;

  /** Bytes held idle. */
  get bytes(): number {
    return this.total;
  }

  /** The most recently released idle item under `key`, removed from the set; undefined if none. */
  take(key: K): T | undefined {
    const item = this.byKey.get(key)?.pop();
    if (item === undefined) return undefined;
    const at = this.order.findIndex((entry) => entry.item === item);
    this.total -= this.order[at]!.bytes;
    this.order.splice(at, 1);
    return item;
  }

  put(key: K, item: T, bytes: number): void {
    let list = this.byKey.get(key);
    if (!list) this.byKey.set(key, (list = []));
    list.push(item);
    this.order.push({ key, item, bytes });
    this.total += bytes;
  }

  /** Removes the oldest items until at most `keepBytes` stay idle, handing each to `evicted`. */
  evict(keepBytes: number, evicted: (item: T, bytes: number) => void): void {
    while (this.total > keepBytes && this.order.length > 0) {
      const oldest = this.order.shift()!;
      const list = this.byKey.get(oldest.key)!;
      list.splice(list.indexOf(oldest.item), 1);
      this.total -= oldest.bytes;
      evicted(oldest.item, oldest.bytes);
    }
  }
}
