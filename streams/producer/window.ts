/** A counting semaphore: at most `size` operations in flight, the rest wait their turn in order. */
export class InFlightWindow {
  private active = 0;
  private readonly waiters: (() => void)[] = [];
  private readonly idleWaiters: (() => void)[] = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1)
      throw new RangeError(`window size must be a positive integer, got ${size}`);
  }

  get inFlight(): number {
    return this.active;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  async acquire(): Promise<void> {
    if (this.active < this.size) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) {
      next(); // the slot passes straight to the next waiter
      return;
    }
    this.active--;
    if (this.active === 0) this.idleWaiters.splice(0).forEach((w) => w());
  }

  /** Resolves when nothing is in flight or waiting. */
  async idle(): Promise<void> {
    if (this.active === 0 && this.waiters.length === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }
}
