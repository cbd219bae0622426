import { act, renderHook } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeEventStream, makeEvent, makeTask } from "../../test/fakes";
import { apiKey } from "../api/apiKey";
import type { ApiError } from "../api/client";
import type { TaskEvent } from "../api/types";
import { useEvents } from "./useEvents";

/** Moves fake time on, letting the promises due meanwhile (the stream's reads) settle. */
async function elapse(ms: number): Promise<void> {
  await act(() => vi.advanceTimersByTimeAsync(ms));
}

async function setup({ notBefore }: { notBefore?: () => number } = {}) {
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    if (String(input) !== "/events") throw new Error(`unexpected request to ${String(input)}`);
    return FakeEventStream.answer(String(input), init);
  });
  vi.stubGlobal("fetch", fetchMock);
  const batches: TaskEvent[][] = [];
  const onResync = vi.fn();
  const refusals: ApiError[] = [];
  const hook = renderHook(() =>
    useEvents({
      onBatch: (batch) => batches.push(batch),
      onResync,
      onRateLimited: (error) => refusals.push(error),
      ...(notBefore === undefined ? {} : { notBefore }),
    }),
  );
  await elapse(1); // the stream opens on the next tick
  return { batches, onResync, refusals, hook, fetchMock };
}

/** Opens the latest stream and lets the hook see it. */
async function open(): Promise<FakeEventStream> {
  const stream = FakeEventStream.latest();
  stream.open();
  await elapse(0);
  return stream;
}

describe("useEvents", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeEventStream.reset();
    sessionStorage.clear();
    apiKey.reset();
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("opens one stream with fetch and reports live once it is answered", async () => {
    const { hook } = await setup();
    expect(FakeEventStream.instances).toHaveLength(1);
    const stream = FakeEventStream.latest();
    expect(stream.url).toBe("/events");
    expect(stream.headers).toMatchObject({ Accept: "text/event-stream" });
    expect(stream.headers).not.toHaveProperty("Last-Event-ID");
    expect(stream.headers).not.toHaveProperty("Authorization"); // no key held: an open server
    expect(hook.result.current).toBe("connecting");
    await open();
    expect(hook.result.current).toBe("live");
  });

  it("sends the key in the Authorization header, and never in the URL", async () => {
    apiKey.use("tm_secret-key");
    await setup();
    const stream = FakeEventStream.latest();
    expect(stream.headers).toMatchObject({ Authorization: "Bearer tm_secret-key" });
    expect(stream.url).not.toContain("tm_secret-key");
  });

  it("turns a burst of 2,000 events into one batch, and a second of steady events into about ten", async () => {
    const { batches } = await setup();
    const stream = await open();
    const task = makeTask();
    for (let i = 0; i < 2000; i += 1) stream.send(makeEvent("progress", { ...task, progress: i / 2000 }, `e${i}`));
    await elapse(0);
    expect(batches).toHaveLength(0);
    await elapse(100);
    expect(batches).toHaveLength(1);
    expect(batches[0]).toHaveLength(2000);

    for (let ms = 0; ms < 1000; ms += 10) {
      stream.send(makeEvent("progress", task, `f${ms}`));
      await elapse(10);
    }
    await elapse(100);
    expect(batches.length - 1).toBeLessThanOrEqual(11);
    expect(batches.slice(1).flat()).toHaveLength(100);
  });

  it("reads a message split across chunks, and ignores one it cannot read instead of breaking", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const { batches } = await setup();
    const stream = await open();
    stream.emit("completed", { kind: "completed" });
    const text = `id: 7\nevent: completed\ndata: ${JSON.stringify(makeEvent("completed", makeTask(), "7"))}\n\n`;
    stream.write(text.slice(0, 20));
    await elapse(0);
    stream.write(text.slice(20));
    stream.emit("message", { whatever: true }); // a name the monitor does not follow
    await elapse(100);
    expect(batches.flat()).toHaveLength(1);
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it("passes a retrying event on, with the task waiting for its next attempt", async () => {
    const { batches } = await setup();
    const stream = await open();
    stream.send(makeEvent("retrying", makeTask({ status: "processing", attempts: 1, max_retries: 1 }), "9f3c2a7e-12"));
    await elapse(100);
    expect(batches.flat()).toMatchObject([{ kind: "retrying", id: "9f3c2a7e-12", task: { status: "queued", attempts: 1 } }]);
  });

  it("drops buffered events and asks for a reload on resync", async () => {
    const { batches, onResync } = await setup();
    const stream = await open();
    stream.send(makeEvent("submitted", makeTask()));
    stream.emit("resync", { kind: "resync" });
    await elapse(200);
    expect(onResync).toHaveBeenCalledTimes(1);
    expect(batches).toHaveLength(0);
  });

  it("resumes a broken stream after the server's retry interval with Last-Event-ID, and reloads nothing", async () => {
    const { hook, onResync, batches } = await setup();
    const first = await open();
    first.send(makeEvent("submitted", makeTask(), "9f3c2a7e-41"));
    first.write("retry: 3000\n\n");
    await elapse(0);
    first.drop();
    await elapse(0);
    expect(hook.result.current).toBe("reconnecting");
    expect(batches.flat()).toHaveLength(1); // what had arrived is passed on at once

    await elapse(2_900);
    expect(FakeEventStream.instances).toHaveLength(1);
    await elapse(100);
    expect(FakeEventStream.instances).toHaveLength(2);
    expect(FakeEventStream.latest().headers).toMatchObject({ "Last-Event-ID": "9f3c2a7e-41" });
    await open();
    expect(hook.result.current).toBe("live");
    expect(onResync).not.toHaveBeenCalled(); // the server resumes it, or says resync itself
  });

  it("resumes a stream the server ended, from the last id it sent", async () => {
    await setup();
    const first = await open();
    first.send(makeEvent("submitted", makeTask(), "a"));
    first.send(makeEvent("started", makeTask(), "b"));
    first.emit("resync", { kind: "resync" }); // no id: the last one stays
    first.end();
    await elapse(2_000);
    expect(FakeEventStream.instances).toHaveLength(2);
    expect(FakeEventStream.latest().headers["Last-Event-ID"]).toBe("b");
  });

  it("reloads the snapshot when a new stream has nothing to resume from", async () => {
    const { onResync } = await setup();
    (await open()).drop();
    await elapse(2_000);
    expect(FakeEventStream.instances).toHaveLength(2);
    expect(FakeEventStream.latest().headers).not.toHaveProperty("Last-Event-ID");
    expect(onResync).not.toHaveBeenCalled(); // not before the new stream is open
    await open();
    expect(onResync).toHaveBeenCalledTimes(1);
  });

  it("waits out Retry-After when the stream is refused with 429, and says so", async () => {
    const { hook, refusals } = await setup();
    FakeEventStream.latest().refuse(429, { "Retry-After": "7" }, "rate limit exceeded");
    await elapse(0);
    expect(hook.result.current).toBe("reconnecting");
    expect(refusals).toMatchObject([{ status: 429, retryAfter: 7 }]);
    await elapse(6_900);
    expect(FakeEventStream.instances).toHaveLength(1);
    await elapse(100);
    expect(FakeEventStream.instances).toHaveLength(2);
  });

  it("backs off while the server cannot be reached, and not before a Retry-After learnt elsewhere", async () => {
    let acceptsAt = 0;
    await setup({ notBefore: () => acceptsAt });
    const starts: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      starts.push(Date.now());
      FakeEventStream.latest().unreachable();
      const before = FakeEventStream.instances.length;
      while (FakeEventStream.instances.length === before) await elapse(100);
    }
    const waits = starts.slice(1).map((start, i) => start - starts[i]!);
    expect(waits.map((ms) => Math.round(ms / 1000))).toEqual([2, 5]);

    acceptsAt = Date.now() + 40_000;
    FakeEventStream.latest().refuse(503, {}, "busy");
    await elapse(39_000);
    expect(FakeEventStream.instances).toHaveLength(4);
    await elapse(1_100);
    expect(FakeEventStream.instances).toHaveLength(5);
  });

  it("stops and asks for a key when the stream is refused with 401 mid-way", async () => {
    apiKey.use("tm_revoked");
    const { hook } = await setup();
    const first = await open();
    first.send(makeEvent("submitted", makeTask(), "x1"));
    first.drop();
    await elapse(2_000);
    FakeEventStream.latest().refuse(401, { "WWW-Authenticate": "Bearer" }, "this API needs a valid key");
    await elapse(0);
    expect(hook.result.current).toBe("refused");
    expect(apiKey.state()).toMatchObject({ key: null, need: "refused" });
    await elapse(120_000);
    expect(FakeEventStream.instances).toHaveLength(2);
  });

  it("takes a stream that went quiet past its pings for dead, and resumes it", async () => {
    await setup();
    const stream = await open();
    stream.send(makeEvent("submitted", makeTask(), "q1"));
    for (let i = 0; i < 4; i += 1) {
      await elapse(15_000);
      stream.write(": ping\n\n");
    }
    await elapse(0);
    expect(FakeEventStream.instances).toHaveLength(1); // a minute of pings keeps it
    await elapse(45_000);
    expect(stream.closed).toBe(true);
    await elapse(2_000);
    expect(FakeEventStream.instances).toHaveLength(2);
    expect(FakeEventStream.latest().headers["Last-Event-ID"]).toBe("q1");
  });

  it("aborts the stream on unmount, and opens none after", async () => {
    const { hook } = await setup();
    const stream = await open();
    hook.unmount();
    await elapse(0);
    expect(stream.closed).toBe(true);
    await elapse(60_000);
    expect(FakeEventStream.instances).toHaveLength(1);
  });
});
