/** Thin fetch wrappers for the task API; every failure becomes an ApiError. */
import { apiKey } from "./apiKey";
import type { QueueState, Schedule, Stats, Task, TaskRequest } from "./types";

/** A non-2xx answer: its status, the server's `detail`, and Retry-After when sent. */
export class ApiError extends Error {
  readonly status: number;
  readonly detail: string;
  /** Seconds to wait before retrying (429, 503), from the Retry-After header. */
  readonly retryAfter: number | null;

  constructor(status: number, detail: string, retryAfter: number | null) {
    super(`${status}: ${detail}`);
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
    this.retryAfter = retryAfter;
  }

  get isRateLimited(): boolean {
    return this.status === 429;
  }
}

/** Whole seconds from a Retry-After header (delta-seconds or an HTTP date). */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (value === null || value.trim() === "") return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - now) / 1000));
}

/** The parsed body of a 2xx answer, with the answer's headers. */
interface Answer<T> {
  body: T;
  headers: Headers;
}

/** A request's options, with its headers as a plain record. */
type ApiRequestInit = Omit<RequestInit, "headers"> & { headers?: Record<string, string> };

/** The ApiError for a non-2xx answer, with the server's `detail` when it sent one. */
async function failureOf(response: Response): Promise<ApiError> {
  const body: unknown = await response.json().catch(() => null);
  const detail =
    typeof body === "object" && body !== null && "detail" in body && typeof body.detail === "string"
      ? body.detail
      : response.statusText || `HTTP ${response.status}`;
  return new ApiError(response.status, detail, parseRetryAfter(response.headers.get("Retry-After")));
}

/**
 * Sends a request to the API with the key, if one is held, as `Authorization: Bearer`
 * (never in the URL), and resolves to a 2xx answer. Anything else is an ApiError; a 401
 * also tells the key store, which asks for a key.
 */
async function call(path: string, init: ApiRequestInit = {}): Promise<Response> {
  const sent = apiKey.state().key;
  const headers: Record<string, string> = { Accept: "application/json", ...init.headers };
  if (sent !== null) headers.Authorization = `Bearer ${sent}`;
  let response: Response;
  try {
    response = await fetch(path, { ...init, headers });
  } catch (reason) {
    if (init.signal?.aborted) throw reason;
    throw new ApiError(0, "the server cannot be reached", null);
  }
  if (response.ok) return response;
  const failure = await failureOf(response);
  if (failure.status === 401) apiKey.refused(sent);
  throw failure;
}

async function send<T>(path: string, init?: ApiRequestInit): Promise<Answer<T>> {
  const response = await call(path, init);
  return { body: (await response.json().catch(() => null)) as T, headers: response.headers };
}

async function request<T>(path: string, init?: ApiRequestInit): Promise<T> {
  return (await send<T>(path, init)).body;
}

/** The target of the `rel="next"` link in a `Link` header (RFC 8288), or null. */
export function nextLink(header: string | null): string | null {
  if (header === null) return null;
  for (const [, target, params] of header.matchAll(/<([^>]*)>([^<]*)/g)) {
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(params ?? "");
    const relations = (rel?.[1] ?? rel?.[2] ?? "").toLowerCase().split(/\s+/);
    if (target !== undefined && relations.includes("next")) return target;
  }
  return null;
}

/** The largest snapshot `GET /tasks` hands out in one answer. */
export const SNAPSHOT_LIMIT = 10_000;

/** One page of `GET /tasks`. */
export interface TaskPage {
  tasks: Task[];
  /** More tasks match than this page holds: the answer links a next page, or the page is full. */
  truncated: boolean;
}

/**
 * The monitor's snapshot: the newest `limit` tasks, newest first. The monitor does not
 * follow the next pages: each costs a request against the rate limit, and the counts per
 * status come from `GET /stats` instead.
 */
export async function listTasks(limit: number = SNAPSHOT_LIMIT): Promise<TaskPage> {
  const { body, headers } = await send<Task[]>(`/tasks?order=newest&limit=${limit}`);
  return { tasks: body, truncated: nextLink(headers.get("Link")) !== null || body.length >= limit };
}

/** One task as it is now: for a task the snapshot did not hold. */
export function getTask(taskId: string): Promise<Task> {
  return request<Task>(`/tasks/${encodeURIComponent(taskId)}`);
}

export function getStats(): Promise<Stats> {
  return request<Stats>("/stats");
}

/**
 * The API's own description (not rate limited, and it needs no key): the submit form is
 * built from it, so a task type the backend adds needs no change here.
 */
export async function getOpenApi(init?: RequestInit): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch("/openapi.json", { ...init, headers: { Accept: "application/json", ...init?.headers } });
  } catch (reason) {
    if (init?.signal?.aborted) throw reason;
    throw new ApiError(0, "the server cannot be reached", null);
  }
  if (!response.ok) throw await failureOf(response);
  return response.json().catch(() => null);
}

/** The Prometheus text of `GET /metrics`; with API keys, an admin key's only (403 otherwise). */
export async function getMetrics(): Promise<string> {
  return (await call("/metrics", { headers: { Accept: "text/plain" } })).text();
}

/**
 * Opens `GET /events` with the key, resuming after `lastEventId` when given: the answer
 * whose body is the stream. `EventSource` cannot send a header, so the stream is read from
 * this answer instead (see `readEventStream`).
 */
export function openEventStream(url: string, lastEventId: string | null, signal: AbortSignal): Promise<Response> {
  const headers: Record<string, string> = { Accept: "text/event-stream" };
  if (lastEventId !== null) headers["Last-Event-ID"] = lastEventId;
  return call(url, { headers, signal, cache: "no-store" });
}

/**
 * A submission as a person typed it into the form built from the API's description: a
 * task type, its parameters and any job options (`priority`, `delay`...). The server is
 * the one judge of what is valid, so a draft may hold values that do not fit TaskRequest,
 * and the form shows the 400 `detail` it gets back.
 */
export interface TaskDraft {
  task_type: string;
  parameters: Record<string, unknown>;
  [option: string]: unknown;
}

/** Submits a task; the 202 carries the task as `GET /tasks/{id}` would return it. */
export function submitTask(body: TaskRequest | TaskDraft): Promise<Task> {
  return request<Task>("/tasks", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

export function cancelTask(taskId: string): Promise<Task> {
  return request<Task>(`/tasks/${encodeURIComponent(taskId)}`, { method: "DELETE" });
}

/** When a schedule is due: every N seconds, or a cron expression read in a time zone. */
export type ScheduleTiming = { every: number } | { cron: string; timezone?: string };

export function listSchedules(): Promise<Schedule[]> {
  return request<Schedule[]>("/schedules");
}

/** Creates or replaces the schedule `name`: the task draft, submitted at every due time. */
export function putSchedule(name: string, draft: TaskDraft, timing: ScheduleTiming): Promise<Schedule> {
  return request<Schedule>(`/schedules/${encodeURIComponent(name)}`, {
    method: "PUT",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ ...draft, ...timing }),
  });
}

export function deleteSchedule(name: string): Promise<Schedule> {
  return request<Schedule>(`/schedules/${encodeURIComponent(name)}`, { method: "DELETE" });
}

/** Pauses (no attempt starts) or resumes the queue; with API keys, an admin key's only (403). */
export function setQueuePaused(paused: boolean): Promise<QueueState> {
  return request<QueueState>(paused ? "/queue/pause" : "/queue/resume", { method: "POST" });
}
