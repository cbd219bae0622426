import { act, renderHook } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeEventSource, makeEvent, makeTask } from "../../test/fakes";
import type { TaskEvent } from "../api/types";
import { useEvents } from "./useEvents";

function setup() {
  const batches: TaskEvent[][] = [];
  const onResync = vi.fn();
  const hook = renderHook(() =>
    useEvents({
      onBatch: (batch) => batches.push(batch),
      onResync,
      createEventSource: (url) => new FakeEventSource(url) as unknown as EventSource,
    }),
  );
  act(() => vi.advanceTimersByTime(1)); // the stream opens on the next tick
  return { batches, onResync, hook };
}

describe("useEvents", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeEventSource.reset();
  });
  afterEach(() => vi.useRealTimers());

  it("opens one stream and reports live once it is open", () => {
    const { hook } = setup();
    expect(FakeEventSource.instances).toHaveLength(1);
    expect(hook.result.current).toBe("connecting");
    act(() => FakeEventSource.latest().open());
    expect(hook.result.current).toBe("live");
  });

  it("turns a burst of 2,000 events into one batch, and a second of steady events into about ten", () => {
    const { batches } = setup();
    const source = FakeEventSource.latest();
    const task = makeTask();
    act(() => {
      for (let i = 0; i < 2000; i += 1) source.emit("progress", makeEvent("progress", { ...task, progress: i / 2000 }, `e${i}`));
    });
    expect(batches).toHaveLength(0);
    act(() => vi.advanceTimersByTime(100));
    expect(batches).toHaveLength(1);
    expect(batches[0]).toHaveLength(2000);

    act(() => {
      for (let ms = 0; ms < 1000; ms += 10) {
        source.emit("progress", makeEvent("progress", task, `e${ms}`));
        vi.advanceTimersByTime(10);
      }
    });
    act(() => vi.advanceTimersByTime(100));
    expect(batches.length - 1).toBeLessThanOrEqual(11);
    expect(batches.slice(1).flat()).toHaveLength(100);
  });

  it("ignores a message it cannot read instead of breaking", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const { batches } = setup();
    const source = FakeEventSource.latest();
    act(() => {
      source.emit("completed", { kind: "completed" });
      source.emit("completed", makeEvent("completed", makeTask()));
      vi.advanceTimersByTime(100);
    });
    expect(batches.flat()).toHaveLength(1);
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it("passes a retrying event on, with the task waiting for its next attempt", () => {
    const { batches } = setup();
    const task = makeTask({ status: "processing", attempts: 1, max_retries: 1 });
    act(() => {
      FakeEventSource.latest().emit("retrying", makeEvent("retrying", task, "9f3c2a7e-12"));
      vi.advanceTimersByTime(100);
    });
    expect(batches.flat()).toMatchObject([{ kind: "retrying", id: "9f3c2a7e-12", task: { status: "queued", attempts: 1 } }]);
  });

  it("drops buffered events and asks for a reload on resync", () => {
    const { batches, onResync } = setup();
    const source = FakeEventSource.latest();
    act(() => {
      source.emit("submitted", makeEvent("submitted", makeTask()));
      source.emit("resync", { kind: "resync" });
      vi.advanceTimersByTime(200);
    });
    expect(onResync).toHaveBeenCalledTimes(1);
    expect(batches).toHaveLength(0);
  });

  it("says reconnecting while the browser retries, and live again after", () => {
    const { hook, onResync } = setup();
    const source = FakeEventSource.latest();
    act(() => source.open());
    act(() => source.fail());
    expect(hook.result.current).toBe("reconnecting");
    act(() => source.open());
    expect(hook.result.current).toBe("live");
    expect(FakeEventSource.instances).toHaveLength(1);
    expect(onResync).not.toHaveBeenCalled(); // Last-Event-ID resumes it: nothing to reload
  });

  it("opens a new stream after the browser gives up, and reloads the snapshot", () => {
    const { hook, onResync } = setup();
    act(() => FakeEventSource.latest().open());
    act(() => FakeEventSource.latest().fail(true));
    expect(hook.result.current).toBe("reconnecting");
    act(() => vi.advanceTimersByTime(2_000));
    expect(FakeEventSource.instances).toHaveLength(2);
    act(() => FakeEventSource.latest().open());
    expect(hook.result.current).toBe("live");
    expect(onResync).toHaveBeenCalledTimes(1);
  });

  it("closes the stream on unmount", () => {
    const { hook } = setup();
    const source = FakeEventSource.latest();
    hook.unmount();
    expect(source.readyState).toBe(FakeEventSource.CLOSED);
  });
});
