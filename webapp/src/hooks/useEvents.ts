/** One stream of `GET /events`, read with fetch so it carries the API key, coalesced into batches. */
import { useEffect, useRef, useState } from "react";
import { ApiError, openEventStream } from "../api/client";
import { readEventStream, type StreamMessage } from "../api/eventStream";
import type { TaskEvent } from "../api/types";
import { TASK_EVENT_KINDS } from "../api/types";
import { EventCoalescer } from "../state/EventCoalescer";

/** `refused`: the server wants a key (401); the stream waits for the key prompt. */
export type ConnectionState = "connecting" | "live" | "reconnecting" | "refused";

export interface UseEventsOptions {
  /** Called with every batch of events, at most once per `flushMs`. */
  onBatch: (events: TaskEvent[]) => void;
  /** Called when the stream may have lost events: reload the snapshot. */
  onResync: () => void;
  /** Told about a stream refused with 429, so the monitor can say when it is asked again. */
  onRateLimited?: (error: ApiError) => void;
  /** When the API accepts requests again (epoch ms), as the last 429 anywhere said. */
  notBefore?: () => number;
  url?: string;
  flushMs?: number;
  /** Quiet this long on an open stream means a dead connection: the server pings every 15 s. */
  silenceMs?: number;
}

/** Waits before asking again after attempts in a row that got no stream. */
const REOPEN_DELAYS_MS = [2_000, 5_000, 10_000, 30_000];
/** Wait before resuming a stream that ended, until the server's `retry:` field says otherwise. */
const RETRY_MS = 2_000;
const KINDS: ReadonlySet<string> = new Set(TASK_EVENT_KINDS);

/**
 * Follows the event stream for as long as the component is mounted, one stream at a time.
 *
 * `EventSource` cannot send an `Authorization` header, so the stream is read from a `fetch`
 * answer. That also does what the browser did for EventSource: a stream that ends or
 * breaks is resumed after the server's `retry:` interval with `Last-Event-ID` (the server
 * sends `resync` when it cannot continue from there). An attempt that gets no stream
 * (429, 5xx, no connection) is tried again after a back-off, and not before Retry-After;
 * a stream opened with nothing to resume from reloads the snapshot, since events may have
 * been missed. A 401 stops it: the key prompt takes over.
 */
export function useEvents({
  onBatch,
  onResync,
  onRateLimited,
  notBefore = () => 0,
  url = "/events",
  flushMs = 100,
  silenceMs = 45_000,
}: UseEventsOptions): ConnectionState {
  const [state, setState] = useState<ConnectionState>("connecting");
  // The latest callbacks, so the stream is opened once and never reopened on re-render.
  const handlers = useRef({ onBatch, onResync, onRateLimited, notBefore });
  handlers.current = { onBatch, onResync, onRateLimited, notBefore };

  useEffect(() => {
    const coalescer = new EventCoalescer<TaskEvent>((batch) => handlers.current.onBatch(batch), flushMs);
    let timer: ReturnType<typeof setTimeout> | null = null;
    let quiet: ReturnType<typeof setTimeout> | null = null;
    let current: AbortController | null = null;
    let lastEventId: string | null = null;
    let retryMs = RETRY_MS;
    let attempts = 0;
    let failures = 0;
    let stopped = false;

    const onMessage = (message: StreamMessage): void => {
      if (message.id !== undefined) lastEventId = message.id === "" ? null : message.id;
      if (message.event === "resync") {
        coalescer.clear();
        handlers.current.onResync();
        return;
      }
      if (message.event === undefined || !KINDS.has(message.event)) return; // not a change the monitor shows
      let event: unknown;
      try {
        event = JSON.parse(message.data);
      } catch {
        event = null;
      }
      if (isTaskEvent(event)) coalescer.push(event);
      else console.warn("ignoring an event the monitor cannot read", message.data);
    };

    const later = (delay: number): void => {
      const wait = Math.max(delay, handlers.current.notBefore() - Date.now());
      timer = setTimeout(() => {
        timer = null;
        void connect();
      }, wait);
    };

    async function connect(): Promise<void> {
      const attempt = new AbortController();
      current = attempt;
      const resuming = lastEventId !== null;
      const reopened = attempts > 0;
      attempts += 1;
      let body: ReadableStream<Uint8Array>;
      try {
        const response = await openEventStream(url, lastEventId, attempt.signal);
        const type = response.headers.get("Content-Type") ?? "";
        if (response.body === null || !type.startsWith("text/event-stream")) {
          void response.body?.cancel();
          throw new ApiError(response.status, `not an event stream (${type || "no Content-Type"})`, null);
        }
        body = response.body;
        if (stopped) {
          attempt.abort();
          return;
        }
      } catch (reason) {
        if (stopped || attempt.signal.aborted) return;
        const failure = reason instanceof ApiError ? reason : new ApiError(0, String(reason), null);
        if (failure.status === 401) {
          setState("refused"); // the client told the key store; a new key mounts a new monitor
          return;
        }
        if (failure.isRateLimited) handlers.current.onRateLimited?.(failure);
        setState("reconnecting");
        const backOff = REOPEN_DELAYS_MS[Math.min(failures, REOPEN_DELAYS_MS.length - 1)] ?? 30_000;
        failures += 1;
        later(Math.max(backOff, (failure.retryAfter ?? 0) * 1000));
        return;
      }

      setState("live");
      failures = 0;
      // Nothing to resume from: what happened while there was no stream is in no event.
      if (reopened && !resuming) handlers.current.onResync();
      const listen = (): void => {
        if (quiet !== null) clearTimeout(quiet);
        quiet = setTimeout(() => attempt.abort(), silenceMs);
      };
      listen();
      try {
        await readEventStream(body, { onMessage, onRetry: (ms) => (retryMs = ms), onActivity: listen });
      } catch {
        // The connection broke, or went quiet for too long: resumed below.
      } finally {
        if (quiet !== null) clearTimeout(quiet);
        quiet = null;
      }
      if (stopped) return;
      attempt.abort(); // whatever is left of this answer is not read
      coalescer.flush();
      setState("reconnecting");
      later(retryMs);
    }

    // Opened on the next tick: React's StrictMode mounts twice in development, and each
    // stream counts against the rate limit, so the throw-away first mount opens nothing.
    later(0);
    return () => {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      if (quiet !== null) clearTimeout(quiet);
      current?.abort();
      coalescer.clear();
    };
  }, [url, flushMs, silenceMs]);

  return state;
}

/** Enough of a check that one odd message cannot break the table. */
export function isTaskEvent(value: unknown): value is TaskEvent {
  if (typeof value !== "object" || value === null) return false;
  const event = value as Partial<TaskEvent>;
  if (typeof event.task_id !== "string" || typeof event.kind !== "string") return false;
  if (!(TASK_EVENT_KINDS as readonly string[]).includes(event.kind)) return false;
  if (event.kind === "removed") return true;
  const task = event.task;
  return typeof task === "object" && task !== null && task.task_id === event.task_id && typeof task.status === "string";
}
