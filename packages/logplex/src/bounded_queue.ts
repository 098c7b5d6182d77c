// A FIFO with a fixed capacity that drops its oldest item to take a new one, counting what it
// dropped and since when: what every buffer of the log router (and its senders) is built on, so
// no consumer, however slow, grows memory.
export class BoundedQueue<T> {
  private items: T[] = [];
  private head = 0;
  /** Items dropped since the last `takeDropped`, and the time of the first of them. */
  private dropped = 0;
  private droppedSince = 0;

  constructor(readonly capacity: number) {
    if (!(capacity >= 1)) throw new Error(`a bounded queue needs a capacity of at least 1 (got ${capacity})`);
  }

  get length(): number {
    return this.items.length - this.head;
  }

  /** Adds `item`; when full the oldest goes, counted (`when` is the dropped item's time, for the L10 notice). */
  push(item: T, when: (dropped: T) => number = () => Date.now()): void {
    if (this.length >= this.capacity) {
      const old = this.shift()!;
      if (this.dropped++ === 0) this.droppedSince = when(old);
    }
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined as T;
    // Compacts once the consumed prefix is the larger half, so shifting stays O(1) amortised.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Up to `n` items from the front, removed. */
  take(n: number): T[] {
    const out = this.items.slice(this.head, this.head + n);
    for (let i = 0; i < out.length; i++) this.shift();
    return out;
  }

  peek(): T | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  toArray(): T[] {
    return this.items.slice(this.head);
  }

  /** How many were dropped since the last call and the first one's time; resets the count. */
  takeDropped(): { count: number; since: number } | undefined {
    if (this.dropped === 0) return undefined;
    const d = { count: this.dropped, since: this.droppedSince };
    this.dropped = 0;
    return d;
  }

  /** Counts items dropped outside the queue (a frame given up after its retries) with the same notice. */
  countDropped(count: number, since: number): void {
    if (count <= 0) return;
    if (this.dropped === 0 || since < this.droppedSince) this.droppedSince = since;
    this.dropped += count;
  }
}
