/**
 * A least-recently-used map for immutable objects (snapshots, lists, index bytes), bounded by
 * entry count and, when a weight function is given, by total weight (bytes).
 */
export class Lru<K, V> {
  private readonly map = new Map<K, V>();
  private total = 0;

  constructor(
    private readonly capacity: number,
    private readonly weight: (value: V) => number = () => 0,
    private readonly maxWeight = Infinity,
  ) {}

  get(key: K): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    const previous = this.map.get(key);
    if (previous !== undefined) {
      this.total -= this.weight(previous);
      this.map.delete(key);
    }
    this.map.set(key, value);
    this.total += this.weight(value);
    while (this.map.size > this.capacity || (this.total > this.maxWeight && this.map.size > 1)) {
      const [oldestKey, oldest] = this.map.entries().next().value as [K, V];
      this.map.delete(oldestKey);
      this.total -= this.weight(oldest);
    }
  }

  delete(key: K): void {
    const value = this.map.get(key);
    if (value === undefined) return;
    this.map.delete(key);
    this.total -= this.weight(value);
  }

  clear(): void {
    this.map.clear();
    this.total = 0;
  }
}
