/**
 * Collects events as they arrive and hands them on in batches, at most one batch per
 * interval, so a burst of a thousand events costs one render, not a thousand.
 */
export class EventCoalescer<T> {
  private buffer: T[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly onFlush: (batch: T[]) => void,
    private readonly intervalMs: number = 100,
  ) {}

  /** Queues an event; the first one of a quiet period starts the flush timer. */
  push(event: T): void {
    this.buffer.push(event);
    this.timer ??= setTimeout(() => this.flush(), this.intervalMs);
  }

  /** Hands over whatever is buffered now. */
  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    this.onFlush(batch);
  }

  /** Drops what is buffered (a resync makes it stale) and stops the timer. */
  clear(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.buffer = [];
  }

  get pending(): number {
    return this.buffer.length;
  }
}
