/** Stand-ins for the event stream and the API's data, for component tests. */
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
    schedule: null,
    depends_on: [],
    waiting_for: [],
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

/**
 * One `GET /events` the monitor made with fetch, answered by the test: open it and send
 * events, end or break it, or refuse it. `FakeEventStream.answer` is the route handler.
 */
export class FakeEventStream {
  static instances: FakeEventStream[] = [];

  readonly url: string;
  /** The request's headers, as the monitor sent them. */
  readonly headers: Record<string, string>;
  readonly response: Promise<Response>;
  /** The test answered the request: opened, refused or unreachable. */
  answered = false;
  /** The request was aborted by the monitor, or the stream ended or broke. */
  closed = false;
  private resolve!: (response: Response) => void;
  private reject!: (reason: unknown) => void;
  private controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  private readonly encoder = new TextEncoder();

  constructor(url: string, init: RequestInit | undefined) {
    this.url = url;
    this.headers = { ...(init?.headers as Record<string, string> | undefined) };
    this.response = new Promise<Response>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    init?.signal?.addEventListener("abort", () => {
      const aborted = new DOMException("The operation was aborted.", "AbortError");
      if (this.controller === null) this.reject(aborted);
      else if (!this.closed) this.controller.error(aborted);
      this.closed = true;
    });
    FakeEventStream.instances.push(this);
  }

  /** The route handler for `GET /events`. */
  static answer(url: string, init: RequestInit | undefined): Promise<Response> {
    return new FakeEventStream(url, init).response;
  }

  static latest(): FakeEventStream {
    const stream = FakeEventStream.instances.at(-1);
    if (stream === undefined) throw new Error("no event stream was opened");
    return stream;
  }

  static reset(): void {
    FakeEventStream.instances = [];
  }

  /** Answers 200 with the stream, which starts as the server's does. */
  open(): void {
    this.answered = true;
    const body = new ReadableStream<Uint8Array>({ start: (controller) => void (this.controller = controller) });
    this.resolve(new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream; charset=utf-8" } }));
    this.write("retry: 2000\n\n");
  }

  /** Writes raw text to the open stream. */
  write(text: string): void {
    if (this.controller === null) throw new Error("the stream is not open");
    if (!this.closed) this.controller.enqueue(this.encoder.encode(text));
  }

  /** Sends one message of the given name, with an id when given. */
  emit(type: string, data: unknown, id?: string): void {
    this.write(`${id === undefined ? "" : `id: ${id}\n`}event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** Sends a task event, with the event's own id as the message's id, as the server does. */
  send(event: TaskEvent): void {
    this.emit(event.kind, event, event.id);
  }

  /** The server ended the stream. */
  end(): void {
    if (!this.closed) this.controller?.close();
    this.closed = true;
  }

  /** The connection broke mid-stream. */
  drop(): void {
    if (!this.closed) this.controller?.error(new TypeError("network error"));
    this.closed = true;
  }

  /** Answers with an error status instead of a stream. */
  refuse(status: number, headers: Record<string, string> = {}, detail = "refused"): void {
    this.answered = true;
    this.closed = true;
    this.resolve(jsonResponse({ detail }, status, headers));
  }

  /** The server cannot be reached. */
  unreachable(): void {
    this.answered = true;
    this.closed = true;
    this.reject(new TypeError("Failed to fetch"));
  }
}

/** A JSON Response, as fetch would resolve it. */
export function jsonResponse(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}
