/** One EventSource on `GET /events`, with its events coalesced into batches. */
import { useEffect, useRef, useState } from "react";
import type { TaskEvent } from "../api/types";
import { TASK_EVENT_KINDS } from "../api/types";
import { EventCoalescer } from "../state/EventCoalescer";

export type ConnectionState = "connecting" | "live" | "reconnecting";

export interface UseEventsOptions {
  /** Called with every batch of events, at most once per `flushMs`. */
  onBatch: (events: TaskEvent[]) => void;
  /** Called when the stream may have lost events: reload the snapshot. */
  onResync: () => void;
  /**
   * When the API accepts requests again (epoch ms), as the last 429 anywhere said. A stream
   * refused with 429 only reports an error (EventSource cannot read the answer), so a new
   * one is not opened before this moment.
   */
  notBefore?: () => number;
  url?: string;
  flushMs?: number;
  /** Test seam: how to open the stream. */
  createEventSource?: (url: string) => EventSource;
}

/** Waits before opening a new stream after the browser gave up on the old one. */
const REOPEN_DELAYS_MS = [2_000, 5_000, 10_000, 30_000];

/**
 * Follows the event stream for as long as the component is mounted.
 *
 * The browser reconnects by itself (sending Last-Event-ID, so nothing is missed). When it
 * gives up, as it does after an error status such as 429, a new stream is opened after a
 * back-off, and the snapshot is reloaded because a new stream cannot resume the old one.
 */
export function useEvents({
  onBatch,
  onResync,
  notBefore = () => 0,
  url = "/events",
  flushMs = 100,
  createEventSource = (target) => new EventSource(target),
}: UseEventsOptions): ConnectionState {
  const [state, setState] = useState<ConnectionState>("connecting");
  // The latest callbacks, so the stream is opened once and never reopened on re-render.
  const handlers = useRef({ onBatch, onResync, notBefore, createEventSource });
  handlers.current = { onBatch, onResync, notBefore, createEventSource };

  useEffect(() => {
    const coalescer = new EventCoalescer<TaskEvent>((batch) => handlers.current.onBatch(batch), flushMs);
    let source: EventSource | null = null;
    let reopenTimer: ReturnType<typeof setTimeout> | null = null;
    let failures = 0;
    let stopped = false;

    const onTaskEvent = (message: MessageEvent<string>): void => {
      let event: unknown;
      try {
        event = JSON.parse(message.data);
      } catch {
        event = null;
      }
      if (isTaskEvent(event)) coalescer.push(event);
      else console.warn("ignoring an event the monitor cannot read", message.data);
    };
    const onResyncEvent = (): void => {
      coalescer.clear();
      handlers.current.onResync();
    };

    const open = (reopened: boolean): void => {
      const current = handlers.current.createEventSource(url);
      source = current;
      for (const kind of TASK_EVENT_KINDS) current.addEventListener(kind, onTaskEvent);
      current.addEventListener("resync", onResyncEvent);
      current.onopen = () => {
        setState("live");
        failures = 0;
      };
      current.onerror = () => {
        if (stopped) return;
        setState("reconnecting");
        if (current.readyState !== 2) return; // CONNECTING: the browser retries by itself
        current.close();
        coalescer.flush();
        const backOff = REOPEN_DELAYS_MS[Math.min(failures, REOPEN_DELAYS_MS.length - 1)] ?? 30_000;
        const delay = Math.max(backOff, handlers.current.notBefore() - Date.now());
        failures += 1;
        reopenTimer = setTimeout(() => {
          reopenTimer = null;
          open(true);
        }, delay);
      };
      if (reopened) {
        // A fresh stream starts from now: reload the snapshot so nothing missed is lost.
        const reload = (): void => {
          current.removeEventListener("open", reload);
          handlers.current.onResync();
        };
        current.addEventListener("open", reload);
      }
    };

    // Opened on the next tick: React's StrictMode mounts twice in development, and each
    // stream counts against the rate limit, so the throw-away first mount opens nothing.
    reopenTimer = setTimeout(() => {
      reopenTimer = null;
      open(false);
    }, 0);
    return () => {
      stopped = true;
      if (reopenTimer !== null) clearTimeout(reopenTimer);
      coalescer.clear();
      source?.close();
    };
  }, [url, flushMs]);

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
