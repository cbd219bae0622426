import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SCHEMA_FILE, firstDifference, loadOpenApi, renderSchema } from "../scripts/gen-api.mjs";

describe("src/api/schema.d.ts", () => {
  it("matches what the backend's current OpenAPI generates (else run `npm run gen:api`)", async () => {
    const expected = await renderSchema(await loadOpenApi());
    const committed = readFileSync(SCHEMA_FILE, "utf8");
    const stale = committed === expected ? "" : firstDifference(committed, expected);
    expect(stale, "schema.d.ts is stale: run `npm run gen:api` and commit it").toBe("");
  }, 60_000);
});
