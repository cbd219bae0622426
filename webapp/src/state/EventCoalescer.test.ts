import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { EventCoalescer } from "./EventCoalescer";

describe("EventCoalescer", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("hands a burst of a thousand events over as one batch after the interval", () => {
    const batches: number[][] = [];
    const coalescer = new EventCoalescer<number>((batch) => batches.push(batch), 100);
    for (let i = 0; i < 1000; i += 1) coalescer.push(i);
    expect(batches).toHaveLength(0);
    vi.advanceTimersByTime(99);
    expect(batches).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(batches).toHaveLength(1);
    expect(batches[0]).toHaveLength(1000);
    expect(batches[0]?.[0]).toBe(0);
    expect(batches[0]?.[999]).toBe(999);
  });

  it("flushes at most ten times a second under a steady stream of events", () => {
    let flushes = 0;
    let delivered = 0;
    const coalescer = new EventCoalescer<number>((batch) => {
      flushes += 1;
      delivered += batch.length;
    }, 100);
    // One event every 5 ms for a second: 200 events.
    for (let ms = 0; ms < 1000; ms += 5) {
      coalescer.push(ms);
      vi.advanceTimersByTime(5);
    }
    vi.advanceTimersByTime(100);
    expect(delivered).toBe(200);
    expect(flushes).toBeLessThanOrEqual(11);
  });

  it("keeps events in arrival order across batches", () => {
    const seen: string[] = [];
    const coalescer = new EventCoalescer<string>((batch) => seen.push(...batch), 100);
    coalescer.push("a");
    coalescer.push("b");
    vi.advanceTimersByTime(100);
    coalescer.push("c");
    vi.advanceTimersByTime(100);
    expect(seen).toEqual(["a", "b", "c"]);
  });

  it("does not call back when nothing arrived", () => {
    const onFlush = vi.fn();
    const coalescer = new EventCoalescer<number>(onFlush, 100);
    coalescer.flush();
    vi.advanceTimersByTime(1000);
    expect(onFlush).not.toHaveBeenCalled();
  });

  it("drops buffered events on clear, as after a resync", () => {
    const onFlush = vi.fn();
    const coalescer = new EventCoalescer<number>(onFlush, 100);
    coalescer.push(1);
    coalescer.push(2);
    coalescer.clear();
    vi.advanceTimersByTime(1000);
    expect(onFlush).not.toHaveBeenCalled();
    expect(coalescer.pending).toBe(0);
  });
});
