/** Limits the associations open at once to each node during a migration. */

class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async acquire(): Promise<void> {
    if (this.active < this.limit) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  /** Hands the slot to the next waiter, or frees it. */
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
}

export class NodeLimiter {
  private readonly semaphores = new Map<string, Semaphore>();

  /** `limit` is the number of operations that may hold a slot of one node at once. */
  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`association limit ${limit} is invalid: expected a whole number, 1 or more`);
  }

  /**
   * Runs `operation` while holding one slot of every named node. Slots are
   * taken in sorted name order, so two operations on the same nodes cannot deadlock.
   */
  async run<T>(nodeNames: string[], operation: () => Promise<T>): Promise<T> {
    const names = [...new Set(nodeNames.map((name) => name.toLowerCase()))].sort();
    const acquired: Semaphore[] = [];
    try {
      for (const name of names) {
        let semaphore = this.semaphores.get(name);
        if (!semaphore) {
          semaphore = new Semaphore(this.limit);
          this.semaphores.set(name, semaphore);
        }
        await semaphore.acquire();
        acquired.push(semaphore);
      }
      return await operation();
    } finally {
      for (const semaphore of acquired.reverse()) semaphore.release();
    }
  }
}
