/** Thin fetch wrappers for the task API; every failure becomes an ApiError. */
import type { Stats, Submitted, Task, TaskRequest } from "./types";

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

async function send<T>(path: string, init?: RequestInit): Promise<Answer<T>> {
  let response: Response;
  try {
    response = await fetch(path, { ...init, headers: { Accept: "application/json", ...init?.headers } });
  } catch {
    throw new ApiError(0, "the server cannot be reached", null);
  }
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const detail =
      typeof body === "object" && body !== null && "detail" in body && typeof body.detail === "string"
        ? body.detail
        : response.statusText || `HTTP ${response.status}`;
    throw new ApiError(response.status, detail, parseRetryAfter(response.headers.get("Retry-After")));
  }
  return { body: body as T, headers: response.headers };
}

async function request<T>(path: string, init?: RequestInit): Promise<T> {
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

export function getStats(): Promise<Stats> {
  return request<Stats>("/stats");
}

/**
 * The API's own description (not rate limited): the submit form is built from it, so a
 * task type the backend adds needs no change here.
 */
export function getOpenApi(init?: RequestInit): Promise<unknown> {
  return request<unknown>("/openapi.json", init);
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

export function submitTask(body: TaskRequest | TaskDraft): Promise<Submitted> {
  return request<Submitted>("/tasks", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

export function cancelTask(taskId: string): Promise<Task> {
  return request<Task>(`/tasks/${encodeURIComponent(taskId)}`, { method: "DELETE" });
}
