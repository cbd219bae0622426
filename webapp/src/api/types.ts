/** The API's shapes, named for the monitor; all come from the generated schema.d.ts. */
import type { components, paths } from "./schema";

type Schemas = components["schemas"];

export type Task = Schemas["Task"];
export type TaskStatus = Schemas["TaskStatus"];
export type TaskRequest = Schemas["TaskRequest"];
export type ErrorBody = Schemas["ErrorBody"];
export type Stats = Schemas["Stats"];
export type StatusCounts = Schemas["StatusCounts"];
export type Schedule = Schemas["Schedule"];
export type QueueState = Schemas["QueueState"];

export const TASK_STATUSES: readonly TaskStatus[] = [
  "queued",
  "processing",
  "completed",
  "failed",
  "cancelled",
];
export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set(["completed", "failed", "cancelled"]);

/** The SSE event names `GET /events` documents. */
export type StreamEventName =
  paths["/events"]["get"]["responses"][200]["content"]["text/event-stream"]["event"];

/** The change kinds `GET /events` sends, besides `resync`. */
export type TaskEventKind = Exclude<StreamEventName, "resync">;

/** Every kind, checked against the schema: a kind added there fails to compile here. */
const EVENT_KIND_SET = {
  submitted: true,
  started: true,
  progress: true,
  retrying: true,
  completed: true,
  failed: true,
  cancelled: true,
  removed: true,
} as const satisfies Record<TaskEventKind, true>;
export const TASK_EVENT_KINDS = Object.keys(EVENT_KIND_SET) as TaskEventKind[];

/**
 * The `data` of one `GET /events` message. OpenAPI documents it only as a JSON string,
 * so its fields are derived here from the generated Task type.
 */
export interface TaskEvent {
  /**
   * The event's id: an opaque string. The monitor never reads it; the stream's reader sends
   * the last one back as `Last-Event-ID` when it resumes.
   */
  id?: string;
  kind: TaskEventKind;
  task_id: Task["task_id"];
  /** The task's status and progress after the change; null on `removed`. */
  status: TaskStatus | null;
  progress: Task["progress"] | null;
  /** The whole task after the change; null on `removed`. */
  task: Task | null;
}
