// Stand-in for mnemonist/lru-cache inside Lambda bundles only. Its one user is
// @aws-sdk/endpoint-cache (DynamoDB endpoint discovery), which calls the
// constructor, get, set, has, peek and clear; mnemonist's typed-array LRU and
// the iterator helpers it drags in cost 7 KB in every DynamoDB function. The
// same semantics on a Map (insertion order = recency order).
export default class LRUCache {
  constructor(capacity) {
    if (typeof capacity !== 'number' || capacity <= 0) throw new Error('mnemonist/lru-cache: capacity should be positive number.');
    this.capacity = capacity;
    this.items = new Map();
  }
  get size() {
    return this.items.size;
  }
  clear() {
    this.items.clear();
  }
  /** Stores the value as the most recent; evicts the least recent when full. */
  set(key, value) {
    if (this.items.has(key)) this.items.delete(key);
    else if (this.items.size >= this.capacity) this.items.delete(this.items.keys().next().value);
    this.items.set(key, value);
  }
  has(key) {
    return this.items.has(key);
  }
  /** The value, now the most recent. */
  get(key) {
    if (!this.items.has(key)) return undefined;
    const value = this.items.get(key);
    this.items.delete(key);
    this.items.set(key, value);
    return value;
  }
  /** The value, recency unchanged. */
  peek(key) {
    return this.items.get(key);
  }
}
