/**
 * A first-in first-out queue with a moving head. `Array.shift()` moves every element, so a queue
 * that grows to hundreds of thousands of frames (a join burst on a big server) would make each
 * dequeue O(n); here it is O(1), and the consumed prefix is cut off once it is half the array.
 * @module
 */

/** A FIFO queue with O(1) push and shift. */
export class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  /** Items queued. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** The oldest item, without removing it. */
  peek(): T | undefined {
    return this.#items[this.#head];
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** Removes and returns the oldest item. */
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined; // let it be collected
    if (this.#head === this.#items.length) {
      // Empty: drop the array, which keeps the capacity of the largest burst (thousands of
      // idle links each holding one would cost kilobytes apiece).
      this.clear();
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Empties the queue. */
  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}
