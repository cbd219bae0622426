/** Reading a Server-Sent Events body that `fetch` delivered, with eventsource-parser. */
import { createParser, type EventSourceMessage } from "eventsource-parser";

export type StreamMessage = EventSourceMessage;

export interface StreamHandlers {
  /** One complete message (`event`, `id` and `data` as the server wrote them). */
  onMessage: (message: StreamMessage) => void;
  /** The server's `retry:` field: milliseconds to wait before reconnecting. */
  onRetry?: (ms: number) => void;
  /** Called for every chunk, pings included: the connection is alive. */
  onActivity?: () => void;
}

/**
 * Reads an event stream to its end, calling the handlers as messages complete. Resolves
 * when the server ends the stream; rejects when the connection breaks or is aborted. A
 * message cut off by the end is dropped, as the SSE standard says.
 */
export async function readEventStream(body: ReadableStream<Uint8Array>, handlers: StreamHandlers): Promise<void> {
  const parser = createParser({
    onEvent: (message) => handlers.onMessage(message),
    onRetry: (ms) => handlers.onRetry?.(ms),
  });
  const decoder = new TextDecoder();
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      handlers.onActivity?.();
      parser.feed(decoder.decode(value, { stream: true }));
    }
  } finally {
    reader.releaseLock();
  }
}
