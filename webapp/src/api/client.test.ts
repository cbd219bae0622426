import { afterEach, describe, expect, it, vi } from "vitest";
import { jsonResponse, makeTask } from "../../test/fakes";
import { listTasks, nextLink } from "./client";

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
