/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The API the dev server forwards to; `npm run dev` expects `./run.sh dev` on port 8000.
const API = process.env.TASKMANAGER_API ?? "http://127.0.0.1:8000";
const API_PATHS = ["/tasks", "/events", "/stats", "/metrics", "/healthz", "/docs", "/openapi.json"];

export default defineConfig({
  base: "/",
  plugins: [react()],
  server: {
    port: 5173,
    proxy: Object.fromEntries(API_PATHS.map((path) => [path, { target: API, changeOrigin: true }])),
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
  },
  test: {
    environment: "jsdom",
    setupFiles: ["./test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}", "test/**/*.test.{ts,tsx}"],
    restoreMocks: true,
  },
});
