/**
 * The API key the monitor sends, when the server asks for one.
 *
 * It is kept in sessionStorage, so it lasts as long as the browser tab and is gone when the
 * tab closes; it travels only in an `Authorization: Bearer` header, never in a URL, and is
 * never logged. Where storage is refused (some private modes), it is kept in memory only.
 */

/** Why the monitor asks for a key: none was sent, or the one sent was not accepted. */
export type KeyNeed = "missing" | "refused";

export interface KeyState {
  /** The key sent with every API request, or null. */
  key: string | null;
  /** Set while the monitor waits for a key; the API is not asked meanwhile. */
  need: KeyNeed | null;
  /** Moves on each new key and each forgotten one: what was loaded with another key is stale. */
  epoch: number;
}

/** The one place that knows the key: the API client reads it, the prompt sets it. */
export interface KeyStore {
  state: () => KeyState;
  subscribe: (listener: () => void) => () => void;
  /** Keeps a key for this browser session and asks the API again with it. */
  use: (key: string) => void;
  /** Drops the key and asks for one again. */
  forget: () => void;
  /** Back to how a new page starts: the stored key, if any, and nothing asked for. */
  reset: () => void;
  /**
   * The server answered 401 to a request sent with `sent` (null: with no key). An answer
   * to a request sent with a key that has since been replaced says nothing about the new
   * one, and is ignored.
   */
  refused: (sent: string | null) => void;
}

export const STORAGE_NAME = "taskmanager.apiKey";

/** sessionStorage, or null where the browser refuses it. */
function sessionStore(): Storage | null {
  try {
    return typeof sessionStorage === "undefined" ? null : sessionStorage;
  } catch {
    return null; // reading the property itself throws where storage is disabled
  }
}

export function createKeyStore(storage: Storage | null = sessionStore()): KeyStore {
  const read = (): string | null => {
    try {
      return storage?.getItem(STORAGE_NAME) ?? null;
    } catch {
      return null;
    }
  };
  const write = (key: string | null): void => {
    try {
      if (key === null) storage?.removeItem(STORAGE_NAME);
      else storage?.setItem(STORAGE_NAME, key);
    } catch {
      // Storage refused: the key lives in memory until the page goes.
    }
  };

  let state: KeyState = { key: read(), need: null, epoch: 0 };
  const listeners = new Set<() => void>();
  const change = (next: KeyState): void => {
    state = next;
    for (const listener of listeners) listener();
  };

  return {
    state: () => state,
    subscribe: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    use: (key) => {
      const trimmed = key.trim();
      if (trimmed === "") return;
      write(trimmed);
      change({ key: trimmed, need: null, epoch: state.epoch + 1 });
    },
    forget: () => {
      write(null);
      change({ key: null, need: "missing", epoch: state.epoch + 1 });
    },
    reset: () => change({ key: read(), need: null, epoch: state.epoch + 1 }),
    refused: (sent) => {
      if (sent !== state.key) return;
      if (sent === null) {
        if (state.need !== "missing") change({ ...state, need: "missing" });
        return;
      }
      // A key the server does not take is not kept.
      write(null);
      change({ key: null, need: "refused", epoch: state.epoch });
    },
  };
}

/** The page's key store. */
export const apiKey: KeyStore = createKeyStore();
