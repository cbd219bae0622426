/** Stand-ins for the browser's EventSource and the API's data, for component tests. */
import type { Task, TaskEvent, TaskEventKind, TaskStatus } from "../src/api/types";

let counter = 0;

/** A task as the API would send it; override what the test cares about. */
export function makeTask(overrides: Partial<Task> = {}): Task {
  counter += 1;
  const id = overrides.task_id ?? `${String(counter).padStart(8, "0")}-0000-4000-8000-000000000000`;
  return {
    task_id: id,
    task_type: "compute_sum",
    status: "queued",
    parameters: { numbers: [1, 2, 3] },
    created_at: "2026-11-28T06:00:00Z",
    started_at: null,
    finished_at: null,
    progress: 0,
    result: null,
    error: null,
    priority: 0,
    run_at: overrides.created_at ?? "2026-11-28T06:00:00Z",
    timeout: null,
    max_retries: 0,
    attempts: 0,
    ...overrides,
  };
}

const STATUS_OF: Record<Exclude<TaskEventKind, "removed">, TaskStatus> = {
  submitted: "queued",
  started: "processing",
  progress: "processing",
  retrying: "queued",
  completed: "completed",
  failed: "failed",
  cancelled: "cancelled",
};

/** The event the server sends when `task` changed by `kind` (its id is opaque: any string). */
export function makeEvent(kind: TaskEventKind, task: Task, id = "1"): TaskEvent {
  if (kind === "removed") {
    return { id, kind, task_id: task.task_id, status: null, progress: null, task: null };
  }
  // Each start is a new attempt, as the server counts them.
  const attempts = kind === "started" ? task.attempts + 1 : task.attempts;
  const changed: Task = { ...task, status: STATUS_OF[kind], attempts };
  return { id, kind, task_id: task.task_id, status: changed.status, progress: changed.progress, task: changed };
}

type Listener = (event: MessageEvent<string>) => void;

/** An EventSource the test drives: open it, send events, break it. */
export class FakeEventSource {
  static instances: FakeEventSource[] = [];
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 2;

  readonly url: string;
  readyState = FakeEventSource.CONNECTING;
  onopen: ((event: Event) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  onmessage: Listener | null = null;
  private readonly listeners = new Map<string, Set<Listener>>();

  constructor(url: string) {
    this.url = url;
    FakeEventSource.instances.push(this);
  }

  static latest(): FakeEventSource {
    const source = FakeEventSource.instances.at(-1);
    if (source === undefined) throw new Error("no EventSource was opened");
    return source;
  }

  static reset(): void {
    FakeEventSource.instances = [];
  }

  addEventListener(type: string, listener: Listener): void {
    let set = this.listeners.get(type);
    if (set === undefined) this.listeners.set(type, (set = new Set()));
    set.add(listener);
  }

  removeEventListener(type: string, listener: Listener): void {
    this.listeners.get(type)?.delete(listener);
  }

  close(): void {
    this.readyState = FakeEventSource.CLOSED;
  }

  open(): void {
    this.readyState = FakeEventSource.OPEN;
    const event = new Event("open");
    this.onopen?.(event);
    this.dispatch("open", event as MessageEvent<string>);
  }

  /** Delivers one SSE message of the given name. */
  emit(type: string, data: unknown): void {
    this.dispatch(type, new MessageEvent(type, { data: JSON.stringify(data) }));
  }

  /** The connection broke; `closed` means the browser gave up (e.g. a 429 answer). */
  fail(closed = false): void {
    this.readyState = closed ? FakeEventSource.CLOSED : FakeEventSource.CONNECTING;
    this.onerror?.(new Event("error"));
  }

  private dispatch(type: string, event: MessageEvent<string>): void {
    for (const listener of this.listeners.get(type) ?? []) listener(event);
  }
}

/** A JSON Response, as fetch would resolve it. */
export function jsonResponse(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}
