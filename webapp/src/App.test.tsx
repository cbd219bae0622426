import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { App } from "./App";
import type { Stats, Task } from "./api/types";
import { FakeEventSource, jsonResponse, makeEvent, makeTask } from "../test/fakes";

const STATS: Stats = {
  queue_depth: 0,
  workers: { total: 5, busy: 0, idle: 5 },
  counts: { queued: 0, processing: 0, completed: 0, failed: 0, cancelled: 0 },
  completed_per_minute: Array.from({ length: 10 }, (_, i) => ({
    minute: `2026-11-28T06:0${i}:00Z`,
    count: i === 9 ? 4 : i,
  })),
};

type Handler = (url: string, init: RequestInit | undefined) => Response | Promise<Response>;

/** Routes fetch calls to per-endpoint handlers and records them. */
function serve(routes: Record<string, Handler>) {
  const calls: { method: string; url: string; body: unknown }[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    const method = init?.method ?? "GET";
    calls.push({ method, url, body: typeof init?.body === "string" ? JSON.parse(init.body) : undefined });
    const key = Object.keys(routes).find((route) => `${method} ${url}`.startsWith(route));
    if (key === undefined) return jsonResponse({ detail: "not found" }, 404);
    return routes[key]!(url, init);
  });
  vi.stubGlobal("fetch", fetchMock);
  return calls;
}

function rowOf(task: Task): HTMLElement {
  const row = document.querySelector<HTMLElement>(`tr[data-task-id="${task.task_id}"]`);
  if (row === null) throw new Error(`no row for ${task.task_id}`);
  return row;
}

describe("the monitor", () => {
  beforeEach(() => {
    FakeEventSource.reset();
    vi.stubGlobal("EventSource", FakeEventSource);
  });
  afterEach(() => vi.unstubAllGlobals());

  it("loads one snapshot, then moves rows live from the event stream", async () => {
    const running = makeTask({ status: "processing", progress: 0.2, started_at: "2026-11-28T06:00:01Z" });
    const waiting = makeTask({ task_type: "generate_report", parameters: { title: "T", sections: 3 } });
    const calls = serve({
      "GET /tasks": () => jsonResponse([running, waiting]),
      "GET /stats": () => jsonResponse(STATS),
    });
    render(<App />);

    await waitFor(() => expect(rowOf(running)).toBeInTheDocument());
    expect(within(rowOf(running)).getByText("processing")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: /^queued 1$/i })).toBeInTheDocument();

    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    const stream = FakeEventSource.latest();
    expect(stream.url).toBe("/events");
    act(() => stream.open());
    expect(screen.getByText("Live")).toBeInTheDocument();

    act(() => {
      stream.emit("completed", makeEvent("completed", { ...running, progress: 1, result: 6 }, "2"));
    });
    // Coalesced: nothing changes until the batch is flushed.
    expect(within(rowOf(running)).getByText("processing")).toBeInTheDocument();
    await waitFor(() => expect(within(rowOf(running)).getByText("completed")).toBeInTheDocument());
    expect(screen.getByRole("button", { name: /^completed 1$/i })).toBeInTheDocument();

    // Watching cost exactly one /tasks request; no poll loop.
    expect(calls.filter((call) => call.url.startsWith("/tasks"))).toHaveLength(1);
  });

  it("filters the table by status", async () => {
    const done = makeTask({ status: "completed", progress: 1 });
    const queued = makeTask();
    serve({ "GET /tasks": () => jsonResponse([done, queued]), "GET /stats": () => jsonResponse(STATS) });
    render(<App />);
    await waitFor(() => expect(rowOf(done)).toBeInTheDocument());

    await userEvent.click(screen.getByRole("button", { name: /^completed 1$/i }));
    expect(rowOf(done)).toBeInTheDocument();
    expect(document.querySelector(`tr[data-task-id="${queued.task_id}"]`)).toBeNull();
  });

  it("cancels a queued task with DELETE and shows it cancelled", async () => {
    const queued = makeTask();
    const calls = serve({
      "GET /tasks": () => jsonResponse([queued]),
      "GET /stats": () => jsonResponse(STATS),
      "DELETE /tasks/": () => jsonResponse({ ...queued, status: "cancelled", finished_at: "2026-11-28T06:00:02Z" }),
    });
    render(<App />);
    await waitFor(() => expect(rowOf(queued)).toBeInTheDocument());

    await userEvent.click(within(rowOf(queued)).getByRole("button", { name: /cancel task/i }));
    await waitFor(() => expect(within(rowOf(queued)).getByText("cancelled")).toBeInTheDocument());
    expect(within(rowOf(queued)).queryByRole("button", { name: /cancel task/i })).toBeNull();
    expect(calls.some((call) => call.method === "DELETE" && call.url === `/tasks/${queued.task_id}`)).toBe(true);
  });

  it("shows a task's parameters and result in the detail panel", async () => {
    const done = makeTask({ status: "completed", progress: 1, result: 6, parameters: { numbers: [1, 2, 3] } });
    serve({ "GET /tasks": () => jsonResponse([done]), "GET /stats": () => jsonResponse(STATS) });
    render(<App />);
    await waitFor(() => expect(rowOf(done)).toBeInTheDocument());

    await userEvent.click(rowOf(done));
    const panel = screen.getByRole("region", { name: "Task details" });
    expect(within(panel).getByText(done.task_id)).toBeInTheDocument();
    expect(within(panel).getByText(/"numbers"/)).toBeInTheDocument();
    expect(within(panel).getByTestId("task-result")).toHaveTextContent("6");
  });

  it("says when to retry after a 429, using Retry-After", async () => {
    serve({
      "GET /tasks": () => jsonResponse([]),
      "GET /stats": () => jsonResponse(STATS),
      "POST /tasks": () =>
        jsonResponse({ detail: "rate limit exceeded: 10 per 60 seconds" }, 429, { "Retry-After": "42" }),
    });
    render(<App />);
    await waitFor(() => expect(screen.queryByText("Loading tasks…")).toBeNull());

    await userEvent.click(screen.getByRole("button", { name: /submit compute sum/i }));
    const notice = await screen.findByText(/too many requests/i);
    expect(notice.closest("[role=alert]")).toHaveTextContent(/accepts new requests in 4[12] s/);
    expect(screen.getByTestId("retry-seconds")).toHaveTextContent(/^4[12] s$/);
  });

  it("reloads the snapshot when the stream says resync", async () => {
    const first = makeTask();
    const second = makeTask({ status: "completed", progress: 1 });
    let snapshot = [first];
    const calls = serve({
      "GET /tasks": () => jsonResponse(snapshot),
      "GET /stats": () => jsonResponse(STATS),
    });
    render(<App />);
    await waitFor(() => expect(rowOf(first)).toBeInTheDocument());
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));

    snapshot = [second]; // the first was cleaned up while we were away
    act(() => FakeEventSource.latest().emit("resync", { kind: "resync" }));
    await waitFor(() => expect(rowOf(second)).toBeInTheDocument());
    expect(document.querySelector(`tr[data-task-id="${first.task_id}"]`)).toBeNull();
    expect(calls.filter((call) => call.url.startsWith("/tasks"))).toHaveLength(2);
  });
});
