import { afterEach, describe, expect, it, vi } from "vitest";
import { createKeyStore, STORAGE_NAME } from "./apiKey";

describe("the key store", () => {
  afterEach(() => {
    sessionStorage.clear();
    localStorage.clear();
  });

  it("starts with the key this browser tab stored, asking for none", () => {
    sessionStorage.setItem(STORAGE_NAME, "tm_kept");
    expect(createKeyStore().state()).toEqual({ key: "tm_kept", need: null, epoch: 0 });
    sessionStorage.clear();
    expect(createKeyStore().state()).toEqual({ key: null, need: null, epoch: 0 });
  });

  it("keeps a key in sessionStorage only, and tells its listeners", () => {
    const store = createKeyStore();
    const listener = vi.fn();
    store.subscribe(listener);
    store.use("  tm_alice \n");
    expect(store.state()).toEqual({ key: "tm_alice", need: null, epoch: 1 });
    expect(sessionStorage.getItem(STORAGE_NAME)).toBe("tm_alice");
    expect(localStorage.length).toBe(0);
    expect(document.cookie).toBe("");
    expect(listener).toHaveBeenCalledTimes(1);
    store.use("   ");
    expect(store.state().key).toBe("tm_alice");
  });

  it("asks for a key when a request without one is refused", () => {
    const store = createKeyStore();
    store.refused(null);
    expect(store.state()).toEqual({ key: null, need: "missing", epoch: 0 });
  });

  it("drops a key the server refused and says so", () => {
    const store = createKeyStore();
    store.use("tm_wrong");
    store.refused("tm_wrong");
    expect(store.state()).toMatchObject({ key: null, need: "refused" });
    expect(sessionStorage.getItem(STORAGE_NAME)).toBeNull();
  });

  it("ignores a refusal of a key that has since been replaced", () => {
    const store = createKeyStore();
    store.use("tm_old");
    store.use("tm_new");
    store.refused("tm_old");
    store.refused(null);
    expect(store.state()).toEqual({ key: "tm_new", need: null, epoch: 2 });
  });

  it("forgets the key and asks for one again", () => {
    const store = createKeyStore();
    store.use("tm_alice");
    store.forget();
    expect(store.state()).toEqual({ key: null, need: "missing", epoch: 2 });
    expect(sessionStorage.getItem(STORAGE_NAME)).toBeNull();
  });

  it("keeps the key in memory where the browser refuses storage", () => {
    const refusing = {
      getItem: () => {
        throw new DOMException("denied", "SecurityError");
      },
      setItem: () => {
        throw new DOMException("full", "QuotaExceededError");
      },
      removeItem: () => undefined,
    } as unknown as Storage;
    const store = createKeyStore(refusing);
    expect(store.state().key).toBeNull();
    store.use("tm_alice");
    expect(store.state().key).toBe("tm_alice");
  });
});
