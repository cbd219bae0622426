import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { jsonResponse, makeTask } from "../../test/fakes";
import { apiKey } from "./apiKey";
import { ApiError, cancelTask, getMetrics, getOpenApi, getStats, listTasks, nextLink, submitTask } from "./client";

describe("nextLink", () => {
  it("finds the next page among the links of a Link header", () => {
    expect(nextLink('</tasks?cursor=abc&limit=2>; rel="next"')).toBe("/tasks?cursor=abc&limit=2");
    expect(nextLink('</tasks?cursor=a>; rel="prev", </tasks?cursor=b>; rel="next"')).toBe("/tasks?cursor=b");
    expect(nextLink("</tasks?cursor=c>; title=x; rel=next")).toBe("/tasks?cursor=c");
    expect(nextLink('</tasks?cursor=d>; rel="last next"')).toBe("/tasks?cursor=d");
  });

  it("finds none without a next relation", () => {
    expect(nextLink(null)).toBeNull();
    expect(nextLink("")).toBeNull();
    expect(nextLink('</tasks?cursor=a>; rel="prev"')).toBeNull();
  });
});

describe("listTasks", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("asks for the newest tasks first and says whether more are kept", async () => {
    const fetchMock = vi.fn(async () => jsonResponse([makeTask()], 200, { Link: '</tasks?cursor=x>; rel="next"' }));
    vi.stubGlobal("fetch", fetchMock);
    const page = await listTasks(5);
    expect(fetchMock).toHaveBeenCalledWith("/tasks?order=newest&limit=5", expect.anything());
    expect(page.tasks).toHaveLength(1);
    expect(page.truncated).toBe(true);
  });

  it("takes a full page without a Link header as possibly truncated, and a short one as whole", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => jsonResponse([makeTask(), makeTask()])));
    expect((await listTasks(2)).truncated).toBe(true);
    expect((await listTasks(3)).truncated).toBe(false);
  });
});

describe("the API key", () => {
  beforeEach(() => {
    sessionStorage.clear();
    apiKey.reset();
  });
  afterEach(() => {
    vi.unstubAllGlobals();
    apiKey.reset();
  });

  /** Answers every request with `answer`, and records what was sent. */
  function record(answer: () => Response = () => jsonResponse([])) {
    const sent: { url: string; headers: Record<string, string> }[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
        sent.push({ url: String(input), headers: { ...(init?.headers as Record<string, string>) } });
        return answer();
      }),
    );
    return sent;
  }

  it("goes in the Authorization header of every API request, and in no URL", async () => {
    const sent = record();
    apiKey.use("tm_alice-secret");
    await listTasks();
    await getStats();
    await submitTask({ task_type: "compute_sum", parameters: { numbers: [1] } });
    await cancelTask("3f2b8c1e-0000-4000-8000-000000000000");
    await getMetrics();
    expect(sent).toHaveLength(5);
    for (const request of sent) {
      expect(request.headers.Authorization).toBe("Bearer tm_alice-secret");
      expect(request.url).not.toContain("tm_alice-secret");
    }
  });

  it("is not sent for the API's description, which needs none", async () => {
    const sent = record(() => jsonResponse({ openapi: "3.1.0" }));
    apiKey.use("tm_alice-secret");
    await getOpenApi();
    expect(sent[0]?.headers).not.toHaveProperty("Authorization");
  });

  it("is not sent while none is held", async () => {
    const sent = record();
    await getStats();
    expect(sent[0]?.headers).not.toHaveProperty("Authorization");
  });

  it("is asked for when the server answers 401, and a refused one is dropped", async () => {
    record(() => jsonResponse({ detail: "this API needs a valid key" }, 401, { "WWW-Authenticate": "Bearer" }));
    const refused = getStats();
    await expect(refused).rejects.toBeInstanceOf(ApiError);
    await expect(refused).rejects.toMatchObject({ status: 401, detail: "this API needs a valid key" });
    expect(apiKey.state()).toMatchObject({ key: null, need: "missing" });

    apiKey.use("tm_wrong");
    await expect(listTasks()).rejects.toMatchObject({ status: 401 });
    expect(apiKey.state()).toMatchObject({ key: null, need: "refused" });
    expect(sessionStorage.length).toBe(0);
  });

  it("is kept when the server answers 403: the key is valid, only not an admin's", async () => {
    record(() => jsonResponse({ detail: "the metrics are for admin keys only" }, 403));
    apiKey.use("tm_client");
    await expect(getMetrics()).rejects.toMatchObject({ status: 403 });
    expect(apiKey.state()).toMatchObject({ key: "tm_client", need: null });
  });
});
