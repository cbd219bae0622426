/** The API key the monitor holds, and whether the server is waiting for one. */
import { useSyncExternalStore } from "react";
import { apiKey, type KeyState, type KeyStore } from "../api/apiKey";

export interface UseApiKey extends KeyState {
  /** Keeps a key for this browser session; the monitor loads again with it. */
  use: (key: string) => void;
  /** Drops the key and shows the prompt. */
  forget: () => void;
}

export function useApiKey(store: KeyStore = apiKey): UseApiKey {
  const state = useSyncExternalStore(store.subscribe, store.state);
  return { ...state, use: store.use, forget: store.forget };
}
