import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { StrictMode } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { App } from "./App";
import type { Stats, StatusCounts, Task } from "./api/types";
import { FakeEventStream, jsonResponse, makeEvent, makeTask } from "../test/fakes";
import { apiKey, STORAGE_NAME } from "./api/apiKey";
import { openApiDocument, withInventedType } from "../test/openapi";

const SNAPSHOT_URL = "/tasks?order=newest&limit=10000";
const PROMPT = /asks for an API key/;

function statsWith(counts: Partial<StatusCounts> = {}): Stats {
  const all: StatusCounts = { queued: 0, processing: 0, completed: 0, failed: 0, cancelled: 0, ...counts };
  return {
    queue_depth: all.queued,
    workers: { total: 5, busy: all.processing, idle: 5 - all.processing },
    counts: all,
    completed_per_minute: Array.from({ length: 10 }, (_, i) => ({
      minute: `2026-11-28T06:0${i}:00Z`,
      count: i === 9 ? 4 : i,
    })),
    paused: false,
  };
}

type Handler = (url: string, init: RequestInit | undefined) => Response | Promise<Response>;

interface Call {
  method: string;
  url: string;
  body: unknown;
  headers: Record<string, string>;
}

/**
 * Routes fetch calls to per-endpoint handlers and records them; `/openapi.json` is the
 * backend's unless given, and `/events` a FakeEventStream the test answers.
 */
function serve(given: Record<string, Handler>) {
  const routes: Record<string, Handler> = {
    "GET /openapi.json": () => jsonResponse(openApiDocument()),
    "GET /events": FakeEventStream.answer,
    ...given,
  };
  const calls: Call[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    const method = init?.method ?? "GET";
    const headers = { ...(init?.headers as Record<string, string> | undefined) };
    calls.push({ method, url, body: typeof init?.body === "string" ? JSON.parse(init.body) : undefined, headers });
    const key = Object.keys(routes).find((route) => `${method} ${url}`.startsWith(route));
    if (key === undefined) return jsonResponse({ detail: "not found" }, 404);
    return routes[key]!(url, init);
  });
  vi.stubGlobal("fetch", fetchMock);
  return calls;
}

/** The requests that count against the rate limit: `GET /tasks...` and `GET /events`. */
function countedReads(calls: Call[]) {
  return {
    snapshots: calls.filter((call) => call.method === "GET" && call.url.startsWith("/tasks")).map((call) => call.url),
    streams: calls.filter((call) => call.method === "GET" && call.url.startsWith("/events")).map((call) => call.url),
  };
}

const unauthorized = () =>
  jsonResponse({ detail: "this API needs a valid key: send it as 'Authorization: Bearer <key>'" }, 401, {
    "WWW-Authenticate": 'Bearer realm="taskmanager"',
  });

/** A route of a server with API keys: answered by `handler` for `key`, 401 for anything else. */
function needing(key: string, handler: Handler): Handler {
  return (url, init) => {
    const sent = (init?.headers as Record<string, string> | undefined)?.Authorization;
    return sent === `Bearer ${key}` ? handler(url, init) : unauthorized();
  };
}

const tooManyRequests = (retryAfter: number) =>
  jsonResponse({ detail: "rate limit exceeded: 10 requests per 60 s" }, 429, { "Retry-After": String(retryAfter) });

function rowOf(task: Task): HTMLElement {
  const row = document.querySelector<HTMLElement>(`tr[data-task-id="${task.task_id}"]`);
  if (row === null) throw new Error(`no row for ${task.task_id}`);
  return row;
}

function rowIds(): string[] {
  return [...document.querySelectorAll<HTMLElement>("tr[data-task-id]")].map((row) => row.dataset.taskId ?? "");
}

function filterCount(name: string): string {
  const button = screen.getByRole("button", { name: new RegExp(`^${name} `, "i") });
  return button.querySelector(".filter__count")?.textContent ?? "";
}

/** The text of the detail panel's link to `task`, with what follows it (its type and status, or "not loaded"). */
function linkedText(panel: ReturnType<typeof within>, task: Task): string {
  const link = panel.getByRole("button", { name: `Open task ${task.task_id}` });
  return link.closest("li")?.textContent ?? "";
}

/** Watches every change to the page for a text, however briefly it was shown. */
function watchFor(text: string): { seen: () => boolean; stop: () => void } {
  let seen = false;
  const observer = new MutationObserver((records) => {
    for (const record of records) {
      const nodes = [record.target, ...record.addedNodes];
      if (nodes.some((node) => node.textContent?.includes(text))) seen = true;
    }
  });
  observer.observe(document.body, { subtree: true, childList: true, characterData: true });
  return { seen: () => seen, stop: () => observer.disconnect() };
}

/** Moves fake time on, letting the promises due meanwhile settle. */
async function elapse(ms: number): Promise<void> {
  await act(() => vi.advanceTimersByTimeAsync(ms));
}

/** Lets the monitor read what was just written to its stream. */
async function settle(): Promise<void> {
  await act(async () => {
    for (let i = 0; i < 10; i += 1) await Promise.resolve();
  });
}

/** The monitor's event stream, answered with 200 if the test has not answered it yet. */
async function liveStream(): Promise<FakeEventStream> {
  await waitFor(() => expect(FakeEventStream.instances.length).toBeGreaterThan(0));
  const stream = FakeEventStream.latest();
  if (!stream.answered) {
    stream.open();
    await settle();
  }
  return stream;
}

describe("the monitor", () => {
  beforeEach(() => {
    FakeEventStream.reset();
    sessionStorage.clear();
    apiKey.reset();
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("loads one snapshot of the newest tasks, then moves rows live from the event stream", async () => {
    const running = makeTask({ status: "processing", progress: 0.2, started_at: "2026-11-28T06:00:01Z" });
    const waiting = makeTask({ task_type: "generate_report", parameters: { title: "T", sections: 3 } });
    const calls = serve({
      "GET /tasks": () => jsonResponse([running, waiting]),
      "GET /stats": () => jsonResponse(statsWith({ queued: 1, processing: 1 })),
    });
    render(<App />);

    await waitFor(() => expect(rowOf(running)).toBeInTheDocument());
    expect(within(rowOf(running)).getByText("processing")).toBeInTheDocument();
    await waitFor(() => expect(filterCount("queued")).toBe("1"));

    const stream = await liveStream();
    expect(stream.url).toBe("/events");
    expect(screen.getByText("Live")).toBeInTheDocument();

    stream.send(makeEvent("completed", { ...running, progress: 1, result: 6 }, "2"));
    await settle();
    // Coalesced: nothing changes until the batch is flushed.
    expect(within(rowOf(running)).getByText("processing")).toBeInTheDocument();
    await waitFor(() => expect(within(rowOf(running)).getByText("completed")).toBeInTheDocument());
    // The filters' counts come from the same batch, rendered on their own.
    await waitFor(() => expect(filterCount("completed")).toBe("1"));
    expect(filterCount("processing")).toBe("0");

    expect(countedReads(calls).snapshots).toEqual([SNAPSHOT_URL]);
  });

  it("costs one snapshot and one stream per page load, under StrictMode and over a minute of watching", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const task = makeTask();
    const calls = serve({
      "GET /tasks": () => jsonResponse([task]),
      "GET /stats": () => jsonResponse(statsWith({ queued: 1 })),
    });
    // StrictMode mounts every component twice in development, as `npm run dev` does.
    render(
      <StrictMode>
        <App />
      </StrictMode>,
    );
    await waitFor(() => expect(rowOf(task)).toBeInTheDocument());
    await elapse(10);
    const stream = await liveStream();
    for (let i = 0; i < 4; i += 1) {
      await elapse(15_000);
      stream.write(": ping\n\n"); // as the server does
    }

    expect(countedReads(calls)).toEqual({ snapshots: [SNAPSHOT_URL], streams: ["/events"] });
    expect(stream.closed).toBe(false);
    expect(screen.getByText("Live")).toBeInTheDocument();
    // /stats is not rate limited: it is what keeps the counts right, every few seconds.
    expect(calls.filter((call) => call.url === "/stats").length).toBeGreaterThanOrEqual(12);
  });

  it("builds the submit form from /openapi.json, so a new task type needs no change to the monitor", async () => {
    const calls = serve({
      "GET /openapi.json": () => jsonResponse(withInventedType()),
      "GET /tasks": () => jsonResponse([]),
      "GET /stats": () => jsonResponse(statsWith()),
      "POST /tasks": () => jsonResponse({ task_id: "7e57ab1e-0000-4000-8000-000000000000", status: "queued" }, 202),
    });
    render(<App />);
    await userEvent.click(await screen.findByRole("tab", { name: "Translate text" }));
    await userEvent.type(screen.getByLabelText("Text"), "Guten Tag");
    await userEvent.clear(screen.getByLabelText("Delay"));
    await userEvent.type(screen.getByLabelText("Delay"), "3");
    await userEvent.click(screen.getByRole("button", { name: /submit translate text/i }));

    await waitFor(() => expect(calls.filter((call) => call.method === "POST")).toHaveLength(1));
    expect(calls.find((call) => call.method === "POST")).toMatchObject({
      method: "POST",
      url: "/tasks",
      body: { task_type: "translate_text", parameters: { text: "Guten Tag" }, delay: 3 },
    });
    // Read once per page load; it is not rate limited, and costs no snapshot.
    expect(calls.filter((call) => call.url === "/openapi.json")).toHaveLength(1);
    expect(countedReads(calls).snapshots).toEqual([SNAPSHOT_URL]);
  });

  it("says why the task types could not be read, and reads them again", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    let broken = true;
    serve({
      "GET /openapi.json": () => (broken ? jsonResponse({ detail: "upstream down" }, 502) : jsonResponse(openApiDocument())),
      "GET /tasks": () => jsonResponse([]),
      "GET /stats": () => jsonResponse(statsWith()),
    });
    render(<App />);
    expect(await screen.findByTestId("forms-unavailable")).toHaveTextContent("upstream down");
    broken = false;
    await elapse(5_100);
    expect(await screen.findByRole("tab", { name: "Compute sum" })).toBeInTheDocument();
    expect(screen.queryByTestId("forms-unavailable")).toBeNull();
  });

  it("counts down to a delayed task's start, then shows it start", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    vi.setSystemTime(Date.parse("2026-11-28T06:00:00Z"));
    const delayed = makeTask({ priority: 7, run_at: "2026-11-28T06:00:03Z" });
    serve({
      "GET /tasks": () => jsonResponse([delayed]),
      "GET /stats": () => jsonResponse(statsWith({ queued: 1 })),
    });
    render(<App />);
    await waitFor(() => expect(within(rowOf(delayed)).getByTestId("countdown")).toHaveTextContent(/^starts in 3 s$/));
    expect(within(rowOf(delayed)).getByTestId("priority")).toHaveTextContent("7");
    expect(within(rowOf(delayed)).getByTestId("attempts")).toHaveTextContent("0/1");

    await elapse(1_000);
    expect(within(rowOf(delayed)).getByTestId("countdown")).toHaveTextContent("starts in 2 s");
    await elapse(2_000);
    // Due: no countdown any more, only waiting for a worker.
    expect(within(rowOf(delayed)).queryByTestId("countdown")).toBeNull();
    expect(within(rowOf(delayed)).getByRole("progressbar")).toBeInTheDocument();

    const stream = await liveStream();
    stream.send(makeEvent("started", { ...delayed, started_at: "2026-11-28T06:00:03Z" }));
    await elapse(150);
    expect(within(rowOf(delayed)).getByText("processing")).toBeInTheDocument();
    expect(within(rowOf(delayed)).getByTestId("attempts")).toHaveTextContent("1/1");
  });

  it("shows a retried task waiting with its last error and a countdown, then its next attempt", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    vi.setSystemTime(Date.parse("2026-11-28T06:00:10Z"));
    const running = makeTask({
      task_type: "simulate_error",
      parameters: { error: "crash" },
      status: "processing",
      started_at: "2026-11-28T06:00:05Z",
      attempts: 1,
      max_retries: 1,
      timeout: 20,
    });
    serve({
      "GET /tasks": () => jsonResponse([running]),
      "GET /stats": () => jsonResponse(statsWith({ processing: 1 })),
    });
    render(<App />);
    await waitFor(() => expect(rowOf(running)).toBeInTheDocument());
    await userEvent.click(rowOf(running));
    await elapse(10);

    const crash = { type: "crash", message: "the worker crashed" };
    const waiting = { ...running, error: crash, run_at: "2026-11-28T06:00:12Z" };
    (await liveStream()).send(makeEvent("retrying", waiting));
    await elapse(150);
    const row = rowOf(running);
    expect(row).toHaveAttribute("data-status", "queued");
    expect(within(row).getByTestId("countdown")).toHaveTextContent("retry in 2 s");
    expect(within(row).getByTestId("attempts")).toHaveTextContent("1/2");
    await waitFor(() => expect(filterCount("queued")).toBe("1"));
    expect(filterCount("processing")).toBe("0");

    const panel = within(screen.getByRole("region", { name: "Task details" }));
    expect(panel.getByRole("heading", { name: /^Last error, retry in 2 s$/ })).toBeInTheDocument();
    expect(panel.getByTestId("task-error")).toHaveTextContent("crash: the worker crashed");
    expect(panel.getByText("20 s")).toBeInTheDocument(); // its timeout

    (await liveStream()).send(makeEvent("started", waiting));
    await elapse(150);
    expect(rowOf(running)).toHaveAttribute("data-status", "processing");
    expect(within(rowOf(running)).getByTestId("attempts")).toHaveTextContent("2/2");
  });

  it("says the list could not be loaded when the snapshot is refused, keeps the server's counts, and retries after Retry-After", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const tasks = [makeTask({ status: "completed", progress: 1 }), makeTask(), makeTask()];
    let refuse = true;
    const calls = serve({
      "GET /tasks": () => (refuse ? tooManyRequests(30) : jsonResponse(tasks)),
      "GET /stats": () => jsonResponse(statsWith({ queued: 5, completed: 1 })),
    });
    const empty = watchFor("No tasks here yet");
    render(<App />);

    const problem = await screen.findByTestId("tasks-unavailable");
    expect(problem).toHaveTextContent(/could not be loaded \(too many requests\)/);
    await waitFor(() => expect(filterCount("all")).toBe("6"));
    expect(filterCount("queued")).toBe("5");
    expect(screen.getByTestId("queue-depth")).toHaveTextContent("5");
    expect(screen.queryByText(/no tasks here yet/i)).toBeNull();
    expect(screen.getByTestId("retry-seconds")).toHaveTextContent(/^(30|29) s$/);

    refuse = false;
    await elapse(29_000);
    expect(countedReads(calls).snapshots).toHaveLength(1); // nothing asked before Retry-After
    expect(screen.getByTestId("tasks-unavailable")).toBeInTheDocument();
    await elapse(1_100);
    await waitFor(() => expect(rowIds()).toHaveLength(3));
    expect(countedReads(calls).snapshots).toEqual([SNAPSHOT_URL, SNAPSHOT_URL]);
    expect(screen.queryByTestId("tasks-unavailable")).toBeNull();
    // Not even for one render, while the table caught up with the snapshot.
    expect(empty.seen()).toBe(false);
    empty.stop();
  });

  it("never shows a count it does not know as zero", async () => {
    serve({
      "GET /tasks": () => jsonResponse([]),
      "GET /stats": () => new Promise<Response>(() => undefined), // not answered yet
    });
    render(<App />);
    await waitFor(() => expect(screen.queryByText("Loading tasks…")).toBeNull());
    expect(filterCount("all")).toBe("–");
    expect(filterCount("queued")).toBe("–");
    expect(screen.getByTestId("queue-depth")).toHaveTextContent("–");
  });

  it("keeps the table as it was when a reload after a resync is refused", async () => {
    const shown = [makeTask(), makeTask({ status: "completed", progress: 1 })];
    let refuse = false;
    const calls = serve({
      "GET /tasks": () => (refuse ? tooManyRequests(20) : jsonResponse(shown)),
      "GET /stats": () => jsonResponse(statsWith({ queued: 1, completed: 1 })),
    });
    render(<App />);
    await waitFor(() => expect(rowIds()).toHaveLength(2));
    const stream = await liveStream();

    refuse = true;
    stream.emit("resync", { kind: "resync" });
    expect(await screen.findByTestId("tasks-stale")).toHaveTextContent(/could not be refreshed/);
    expect(rowIds()).toEqual(shown.map((task) => task.task_id).reverse());
    expect(filterCount("all")).toBe("2");
    expect(countedReads(calls).snapshots).toHaveLength(2);
  });

  it("keeps the table while a stream refused with 429 reconnects, then reloads it once", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const shown = [makeTask(), makeTask()];
    const calls = serve({
      "GET /tasks": () => jsonResponse(shown),
      "GET /stats": () => jsonResponse(statsWith({ queued: 2 })),
    });
    render(<App />);
    await waitFor(() => expect(rowIds()).toHaveLength(2));
    await elapse(10);
    await waitFor(() => expect(FakeEventStream.instances).toHaveLength(1));
    FakeEventStream.latest().refuse(429, { "Retry-After": "3" }, "rate limit exceeded: 10 requests per 60 s");
    await settle();
    expect(screen.getByText("Reconnecting…")).toBeInTheDocument();
    expect(screen.getByTestId("retry-seconds")).toHaveTextContent(/^[23] s$/);
    expect(rowIds()).toHaveLength(2);
    expect(screen.queryByText(/no tasks here yet/i)).toBeNull();

    await elapse(2_500);
    expect(FakeEventStream.instances).toHaveLength(1); // not before Retry-After
    await elapse(600);
    expect(FakeEventStream.instances).toHaveLength(2);
    await liveStream();
    await waitFor(() => expect(countedReads(calls).snapshots).toHaveLength(2));
    expect(screen.getByText("Live")).toBeInTheDocument();
    expect(rowIds()).toHaveLength(2);
  });

  it("waits for the Retry-After another answer gave before opening a new stream", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    serve({
      "GET /tasks": () => jsonResponse([]),
      "GET /stats": () => jsonResponse(statsWith()),
      "POST /tasks": () => tooManyRequests(40),
    });
    render(<App />);
    await waitFor(() => expect(screen.queryByText("Loading tasks…")).toBeNull());
    await elapse(10);
    await userEvent.click(await screen.findByRole("button", { name: /submit compute sum/i }));
    await screen.findByText(/too many requests/i);
    FakeEventStream.latest().refuse(503, {}, "the server is busy");

    await elapse(30_000);
    expect(FakeEventStream.instances).toHaveLength(1);
    await elapse(11_000);
    expect(FakeEventStream.instances).toHaveLength(2);
  });

  it("lists the newest task first and says when older ones were not loaded", async () => {
    const at = (second: number) => new Date(Date.UTC(2026, 10, 28, 6, 0, second)).toISOString();
    const newest = makeTask({ created_at: at(30) });
    const middle = makeTask({ created_at: at(20) });
    const oldest = makeTask({ created_at: at(10) });
    serve({
      "GET /tasks": () =>
        jsonResponse([newest, middle, oldest], 200, { Link: '</tasks?order=newest&limit=3&cursor=abc>; rel="next"' }),
      "GET /stats": () => jsonResponse(statsWith({ queued: 25_000 })),
    });
    render(<App />);
    await waitFor(() => expect(rowIds()).toEqual([newest.task_id, middle.task_id, oldest.task_id]));
    expect(screen.getByTestId("tasks-truncated")).toBeInTheDocument();
    await waitFor(() => expect(filterCount("all")).toBe("25000"));

    const submitted = makeTask({ created_at: at(40) });
    (await liveStream()).send(makeEvent("submitted", submitted));
    await waitFor(() => expect(rowIds()[0]).toBe(submitted.task_id));
  });

  it("takes the counts from /stats, moves them with events, and resets them on the next answer", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const queued = makeTask();
    let answer = statsWith({ queued: 3, completed: 40_000 });
    serve({
      "GET /tasks": () => jsonResponse([queued]),
      "GET /stats": () => jsonResponse(answer),
    });
    render(<App />);
    await waitFor(() => expect(filterCount("completed")).toBe("40000"));
    await elapse(10);
    const stream = await liveStream();

    answer = statsWith({ queued: 2, processing: 1, completed: 40_000 });
    stream.send(makeEvent("started", { ...queued, started_at: "2026-11-28T06:00:02Z" }));
    await elapse(150);
    expect(filterCount("queued")).toBe("2");
    expect(filterCount("processing")).toBe("1");
    expect(screen.getByTestId("queue-depth")).toHaveTextContent("2");

    // The server's next answer wins over whatever the events said.
    answer = statsWith({ queued: 7, processing: 1, completed: 40_001 });
    await elapse(1_100);
    await waitFor(() => expect(filterCount("queued")).toBe("7"));
    expect(filterCount("completed")).toBe("40001");
  });

  it("loads again after a snapshot that was already on its way when the stream said resync", async () => {
    const task = makeTask();
    const answers: ((response: Response) => void)[] = [];
    const calls = serve({
      "GET /tasks": () => new Promise<Response>((answer) => answers.push(answer)),
      "GET /stats": () => jsonResponse(statsWith({ queued: 1 })),
    });
    render(<App />);
    const stream = await liveStream();
    stream.emit("resync", { kind: "resync" });
    stream.emit("resync", { kind: "resync" });
    await settle();
    expect(countedReads(calls).snapshots).toHaveLength(1); // one at a time

    await act(async () => answers[0]!(jsonResponse([])));
    await waitFor(() => expect(countedReads(calls).snapshots).toHaveLength(2));
    await act(async () => answers[1]!(jsonResponse([task])));
    await waitFor(() => expect(rowOf(task)).toBeInTheDocument());
    expect(countedReads(calls).snapshots).toHaveLength(2);
  });

  it("filters the table by status", async () => {
    const done = makeTask({ status: "completed", progress: 1 });
    const queued = makeTask();
    serve({
      "GET /tasks": () => jsonResponse([done, queued]),
      "GET /stats": () => jsonResponse(statsWith({ queued: 1, completed: 1 })),
    });
    render(<App />);
    await waitFor(() => expect(rowOf(done)).toBeInTheDocument());
    await waitFor(() => expect(filterCount("completed")).toBe("1"));

    await userEvent.click(screen.getByRole("button", { name: /^completed 1$/i }));
    expect(rowOf(done)).toBeInTheDocument();
    expect(document.querySelector(`tr[data-task-id="${queued.task_id}"]`)).toBeNull();
  });

  it("cancels a queued task with DELETE and shows it cancelled", async () => {
    const queued = makeTask();
    const calls = serve({
      "GET /tasks": () => jsonResponse([queued]),
      "GET /stats": () => jsonResponse(statsWith({ queued: 1 })),
      "DELETE /tasks/": () => jsonResponse({ ...queued, status: "cancelled", finished_at: "2026-11-28T06:00:02Z" }),
    });
    render(<App />);
    await waitFor(() => expect(rowOf(queued)).toBeInTheDocument());
    await waitFor(() => expect(filterCount("queued")).toBe("1"));

    await userEvent.click(within(rowOf(queued)).getByRole("button", { name: /cancel task/i }));
    await waitFor(() => expect(within(rowOf(queued)).getByText("cancelled")).toBeInTheDocument());
    expect(within(rowOf(queued)).queryByRole("button", { name: /cancel task/i })).toBeNull();
    expect(calls.some((call) => call.method === "DELETE" && call.url === `/tasks/${queued.task_id}`)).toBe(true);
    expect(filterCount("queued")).toBe("0");
    expect(filterCount("cancelled")).toBe("1");
  });

  it("shows a task's parameters and result in the detail panel", async () => {
    const done = makeTask({ status: "completed", progress: 1, result: 6, parameters: { numbers: [1, 2, 3] } });
    serve({ "GET /tasks": () => jsonResponse([done]), "GET /stats": () => jsonResponse(statsWith({ completed: 1 })) });
    render(<App />);
    await waitFor(() => expect(rowOf(done)).toBeInTheDocument());

    await userEvent.click(rowOf(done));
    const panel = screen.getByRole("region", { name: "Task details" });
    expect(within(panel).getByText(done.task_id)).toBeInTheDocument();
    expect(within(panel).getByText(/"numbers"/)).toBeInTheDocument();
    expect(within(panel).getByTestId("task-result")).toHaveTextContent("6");
  });

  it("follows a chain of tasks: links between them, and a wait that ends when the first completes", async () => {
    const first = makeTask({ status: "processing", started_at: "2026-11-28T06:00:00Z" });
    const second = makeTask({ depends_on: [first.task_id], waiting_for: [first.task_id] });
    serve({ "GET /tasks": () => jsonResponse([first, second]), "GET /stats": () => jsonResponse(statsWith({ queued: 1, processing: 1 })) });
    render(<App />);
    await waitFor(() => expect(rowOf(second)).toBeInTheDocument());
    expect(within(rowOf(second)).getByTestId("waiting")).toHaveTextContent("waiting for 1 task");

    await userEvent.click(rowOf(second));
    const panel = within(screen.getByRole("region", { name: "Task details" }));
    expect(panel.getByRole("list", { name: "Waiting for" })).toBeInTheDocument();
    // Every worker busy: the second stays queued, and no event of its own says it waits no more.
    (await liveStream()).send(makeEvent("completed", { ...first, progress: 1, result: 3 }));
    await waitFor(() => expect(within(rowOf(second)).queryByTestId("waiting")).toBeNull());
    expect(panel.queryByRole("list", { name: "Waiting for" })).toBeNull();
    expect(within(panel.getByRole("list", { name: "Depends on" })).getByText("completed")).toBeInTheDocument();

    await userEvent.click(panel.getByRole("button", { name: `Open task ${first.task_id}` }));
    expect(panel.getByText(first.task_id)).toBeInTheDocument();
    expect(within(panel.getByRole("list", { name: "Dependants" })).getByText(second.task_id.slice(0, 8))).toBeInTheDocument();
    expect(rowOf(first)).toHaveAttribute("aria-selected", "true");
  });

  it("opens a dependency the snapshot did not hold by reading it once, and says when it is gone", async () => {
    const older = makeTask({ status: "completed", progress: 1, result: 3, task_type: "generate_report" });
    const gone = makeTask({ status: "completed" });
    const waiting = makeTask({ status: "processing", depends_on: [older.task_id, gone.task_id] });
    const calls = serve({
      [`GET /tasks/${older.task_id}`]: () => jsonResponse(older),
      [`GET /tasks/${gone.task_id}`]: () => jsonResponse({ detail: `task ${gone.task_id} not found` }, 404),
      "GET /tasks": () => jsonResponse([waiting]),
      "GET /stats": () => jsonResponse(statsWith({ processing: 1 })),
    });
    render(<App />);
    await waitFor(() => expect(rowOf(waiting)).toBeInTheDocument());
    await userEvent.click(rowOf(waiting));
    const panel = within(screen.getByRole("region", { name: "Task details" }));
    expect(linkedText(panel, older)).toBe(`${older.task_id.slice(0, 8)}not loaded`);

    await userEvent.click(panel.getByRole("button", { name: `Open task ${older.task_id}` }));
    expect(await panel.findByTestId("task-result")).toHaveTextContent("3");
    expect(panel.getByText(older.task_id)).toBeInTheDocument();
    expect(panel.getByText("Generate report")).toBeInTheDocument();
    expect(calls.filter((call) => call.url === `/tasks/${older.task_id}`)).toHaveLength(1);
    expect(within(panel.getByRole("list", { name: "Dependants" })).getByText(waiting.task_id.slice(0, 8))).toBeInTheDocument();

    await userEvent.click(panel.getByRole("button", { name: `Open task ${waiting.task_id}` }));
    await userEvent.click(panel.getByRole("button", { name: `Open task ${gone.task_id}` }));
    expect(await panel.findByText(/This task is gone/)).toBeInTheDocument();
    // A task the monitor holds is opened without a request.
    await userEvent.click(screen.getByRole("button", { name: "Close details" }));
    await userEvent.click(rowOf(waiting));
    expect(calls.filter((call) => call.url.startsWith(`/tasks/${waiting.task_id}`))).toHaveLength(0);
  });

  it("says when to retry after a 429, using Retry-After", async () => {
    serve({
      "GET /tasks": () => jsonResponse([]),
      "GET /stats": () => jsonResponse(statsWith()),
      "POST /tasks": () => tooManyRequests(42),
    });
    render(<App />);
    await waitFor(() => expect(screen.queryByText("Loading tasks…")).toBeNull());

    await userEvent.click(await screen.findByRole("button", { name: /submit compute sum/i }));
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
      "GET /stats": () => jsonResponse(statsWith({ queued: 1 })),
    });
    render(<App />);
    await waitFor(() => expect(rowOf(first)).toBeInTheDocument());
    const stream = await liveStream();

    snapshot = [second]; // the first was cleaned up while we were away
    stream.emit("resync", { kind: "resync" });
    await waitFor(() => expect(rowOf(second)).toBeInTheDocument());
    expect(document.querySelector(`tr[data-task-id="${first.task_id}"]`)).toBeNull();
    expect(countedReads(calls).snapshots).toEqual([SNAPSHOT_URL, SNAPSHOT_URL]);
  });

  it("keeps the plain Metrics link and offers no key while the server asks for none", async () => {
    serve({ "GET /tasks": () => jsonResponse([]), "GET /stats": () => jsonResponse(statsWith()) });
    render(<App />);
    await liveStream();
    expect(screen.getByRole("link", { name: "Metrics" })).toHaveAttribute("href", "/metrics");
    expect(screen.queryByRole("button", { name: "Forget key" })).toBeNull();
    expect(screen.queryByRole("region", { name: PROMPT })).toBeNull();
  });
});

describe("the monitor on a server with API keys", () => {
  beforeEach(() => {
    FakeEventStream.reset();
    sessionStorage.clear();
    localStorage.clear();
    apiKey.reset();
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
    sessionStorage.clear();
    apiKey.reset();
  });

  /** A server that knows one key, whose holder has one task. */
  function serveAlice(mine: Task) {
    return serve({
      "GET /tasks": needing("tm_alice", () => jsonResponse([mine])),
      "GET /stats": needing("tm_alice", () => jsonResponse(statsWith({ queued: 1 }))),
      "GET /events": needing("tm_alice", FakeEventStream.answer),
      "GET /metrics": needing("tm_alice", () => jsonResponse({ detail: "the metrics are for admin keys only" }, 403)),
    });
  }

  async function enterKey(key: string): Promise<void> {
    const prompt = await screen.findByRole("region", { name: PROMPT });
    await userEvent.type(within(prompt).getByLabelText("API key"), key);
    await userEvent.click(within(prompt).getByRole("button", { name: "Use key" }));
  }

  it("asks for a key when the API answers 401, then loads with it in the header of every request", async () => {
    const mine = makeTask();
    const calls = serveAlice(mine);
    const empty = watchFor("No tasks here yet");
    render(
      <StrictMode>
        <App />
      </StrictMode>,
    );

    const prompt = await screen.findByRole("region", { name: PROMPT });
    expect(within(prompt).queryByTestId("key-refused")).toBeNull();
    expect(screen.queryByRole("region", { name: "Task list" })).toBeNull();
    // The submit form's description needs no key: it is read without one, and not again for the key.
    await waitFor(() => expect(calls.some((call) => call.url === "/openapi.json")).toBe(true));
    expect(calls.find((call) => call.url === "/openapi.json")?.headers).not.toHaveProperty("Authorization");

    const asked = calls.length;
    await enterKey("tm_alice");
    await waitFor(() => expect(rowOf(mine)).toBeInTheDocument());
    await liveStream();
    expect(screen.getByText("Live")).toBeInTheDocument();
    await waitFor(() => expect(filterCount("queued")).toBe("1"));

    const since = calls.slice(asked);
    expect(countedReads(since)).toEqual({ snapshots: [SNAPSHOT_URL], streams: ["/events"] });
    for (const call of since) expect(call.headers.Authorization).toBe("Bearer tm_alice");
    expect(calls.every((call) => !call.url.includes("tm_alice"))).toBe(true);
    expect(since.some((call) => call.url === "/openapi.json")).toBe(false);
    expect(sessionStorage.getItem(STORAGE_NAME)).toBe("tm_alice");
    expect(localStorage.length).toBe(0);
    expect(empty.seen()).toBe(false);
    empty.stop();
  });

  it("says a key was not accepted, keeps none of it, and takes the right one after", async () => {
    const mine = makeTask();
    serveAlice(mine);
    render(<App />);
    await enterKey("tm_wrong");
    expect(await screen.findByTestId("key-refused")).toHaveTextContent("The key was not accepted");
    expect(sessionStorage.length).toBe(0);
    expect(screen.getByLabelText("API key")).toHaveValue("");

    await enterKey("tm_alice");
    await waitFor(() => expect(rowOf(mine)).toBeInTheDocument());
    expect(screen.queryByTestId("key-refused")).toBeNull();
  });

  it("uses the key kept in this tab from the first request, and forgets it on request", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    sessionStorage.setItem(STORAGE_NAME, "tm_alice");
    apiKey.reset();
    const mine = makeTask();
    const calls = serveAlice(mine);
    render(<App />);
    await waitFor(() => expect(rowOf(mine)).toBeInTheDocument());
    const stream = await liveStream();
    expect(calls[0]?.headers.Authorization ?? calls[1]?.headers.Authorization).toBe("Bearer tm_alice");
    expect(screen.queryByRole("region", { name: PROMPT })).toBeNull();

    const asked = calls.length;
    await userEvent.click(screen.getByRole("button", { name: "Forget key" }));
    const prompt = await screen.findByRole("region", { name: PROMPT });
    expect(within(prompt).queryByTestId("key-refused")).toBeNull();
    expect(sessionStorage.getItem(STORAGE_NAME)).toBeNull();
    expect(document.querySelector("tr[data-task-id]")).toBeNull(); // nothing seen with the key stays
    expect(stream.closed).toBe(true);
    await elapse(30_000);
    expect(calls.slice(asked)).toEqual([]); // the prompt waits: the API is not asked without a key
  });

  it("brings the prompt back when the key is refused mid-way, as the stream resumes", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    sessionStorage.setItem(STORAGE_NAME, "tm_alice");
    apiKey.reset();
    const mine = makeTask();
    let revoked = false;
    const calls = serve({
      "GET /tasks": () => jsonResponse([mine]),
      "GET /stats": () => jsonResponse(statsWith({ queued: 1 })),
      "GET /events": (url, init) => (revoked ? unauthorized() : FakeEventStream.answer(url, init)),
    });
    render(<App />);
    await waitFor(() => expect(rowOf(mine)).toBeInTheDocument());
    const stream = await liveStream();
    stream.send(makeEvent("started", mine, "9f3c2a7e-5"));
    await settle();

    revoked = true;
    stream.drop();
    await elapse(2_100);
    const resumed = calls.filter((call) => call.url === "/events").at(-1);
    expect(resumed?.headers).toMatchObject({ Authorization: "Bearer tm_alice", "Last-Event-ID": "9f3c2a7e-5" });
    expect(await screen.findByTestId("key-refused")).toHaveTextContent("The key was not accepted");
    expect(sessionStorage.getItem(STORAGE_NAME)).toBeNull();
  });

  it("offers a client key no Metrics, since the server refuses it them (403), and keeps the key", async () => {
    sessionStorage.setItem(STORAGE_NAME, "tm_alice");
    apiKey.reset();
    const calls = serveAlice(makeTask());
    render(<App />);
    await liveStream();
    // The monitor asked, with the key (a tab opened on a link would send none), and was refused.
    await waitFor(() => expect(calls.find((call) => call.url === "/metrics")?.headers.Authorization).toBe("Bearer tm_alice"));
    await settle();
    expect(screen.queryByRole("button", { name: "Metrics" })).toBeNull();
    expect(screen.queryByRole("link", { name: "Metrics" })).toBeNull();
    expect(screen.queryByRole("region", { name: PROMPT })).toBeNull(); // 403 is not 401: the key stays
    expect(screen.getByRole("button", { name: "Forget key" })).toBeInTheDocument();
  });

  it("shows the metrics to an admin key", async () => {
    sessionStorage.setItem(STORAGE_NAME, "tm_admin");
    apiKey.reset();
    serve({
      "GET /tasks": needing("tm_admin", () => jsonResponse([])),
      "GET /stats": needing("tm_admin", () => jsonResponse(statsWith())),
      "GET /events": needing("tm_admin", FakeEventStream.answer),
      "GET /metrics": needing("tm_admin", () => new Response("taskmanager_queue_depth 0\n", { status: 200 })),
    });
    render(<App />);
    await userEvent.click(await screen.findByRole("button", { name: "Metrics" }));
    expect(await screen.findByTestId("metrics-text")).toHaveTextContent("taskmanager_queue_depth 0");
  });

  it("shows a banner while the queue is paused, and resumes it with the button", async () => {
    let paused = true;
    const calls = serve({
      "GET /tasks": () => jsonResponse([]),
      "GET /stats": () => jsonResponse({ ...statsWith(), paused }),
      "POST /queue/resume": () => {
        paused = false;
        return jsonResponse({ paused: false });
      },
    });
    render(<App />);
    await waitFor(() => expect(screen.getByTestId("queue-state")).toHaveTextContent(/The queue is paused/));
    await userEvent.click(screen.getByRole("button", { name: "Resume the queue" }));
    await waitFor(() => expect(screen.getByTestId("queue-state")).toHaveTextContent("The queue runs."));
    expect(calls.filter((call) => call.method === "POST").map((call) => call.url)).toEqual(["/queue/resume"]);
  });

  it("lists the schedules only once they are asked for, and adds one from the same form", async () => {
    const saved: unknown[] = [];
    const calls = serve({
      "GET /tasks": () => jsonResponse([]),
      "GET /stats": () => jsonResponse(statsWith()),
      "GET /schedules": () => jsonResponse([]),
      "PUT /schedules/tick": (_, init) => {
        saved.push(JSON.parse(String(init?.body)));
        return jsonResponse({
          name: "tick", task_type: "compute_sum", parameters: { numbers: [1, 2, 3.5] },
          created_at: "2026-11-28T06:00:00Z", next_run_at: "2026-11-28T06:01:00Z", every: 60, cron: null,
          timezone: null, priority: 0, delay: 0, timeout: null, max_retries: 0, last_task_id: null, last_run_at: null,
        }, 201);
      },
    });
    render(<App />);
    await waitFor(() => expect(screen.getByRole("tab", { name: "Schedules" })).toBeInTheDocument());
    expect(calls.some((call) => call.url === "/schedules")).toBe(false);
    await userEvent.click(screen.getByRole("tab", { name: "Schedules" }));
    expect(await screen.findByText(/No schedules yet/)).toBeInTheDocument();
    await userEvent.type(await screen.findByLabelText("Name"), "tick");
    await userEvent.click(screen.getByRole("button", { name: /schedule compute sum/i }));
    await waitFor(() => expect(saved).toEqual([{ task_type: "compute_sum", parameters: { numbers: [1, 2, 3.5] }, every: 60 }]));
  });
});
