#!/usr/bin/env node
// Copies Swagger UI's files into dist/swagger-ui/, so the API's /docs page works without
// reaching a CDN (offline machines, locked-down containers). The backend serves them
// when it finds them beside the monitor; without them /docs falls back to FastAPI's CDN.
import { copyFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const WEBAPP = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const source = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
const target = resolve(WEBAPP, "dist/swagger-ui");
mkdirSync(target, { recursive: true });
for (const file of ["swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "LICENSE"]) {
  copyFileSync(resolve(source, file), resolve(target, file));
}
console.log(`copied Swagger UI to ${target}`);
