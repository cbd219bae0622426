import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  DOCUMENT_FILE,
  SCHEMA_FILE,
  firstDifference,
  loadOpenApi,
  renderDocument,
  renderSchema,
} from "../scripts/gen-api.mjs";

function staleness(file: string, expected: string): string {
  const committed = readFileSync(file, "utf8");
  return committed === expected ? "" : firstDifference(committed, expected);
}

describe("what is generated from the backend's OpenAPI", () => {
  it("matches the backend's current OpenAPI (else run `npm run gen:api`)", async () => {
    const openapi = await loadOpenApi();
    const types = staleness(SCHEMA_FILE, await renderSchema(openapi));
    expect(types, "src/api/schema.d.ts is stale: run `npm run gen:api` and commit it").toBe("");
    const document = staleness(DOCUMENT_FILE, renderDocument(openapi));
    expect(document, "test/openapi.json is stale: run `npm run gen:api` and commit it").toBe("");
  }, 60_000);
});
