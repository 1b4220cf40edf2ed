import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// The console is served by the control plane from `dist/`; in `npm run dev`
// the API calls are proxied to a control plane on the default port.
export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 1500 },
  server: {
    proxy: {
      "/v1": "http://127.0.0.1:8080",
      "/readyz": "http://127.0.0.1:8080",
      "/openapi.json": "http://127.0.0.1:8080",
    },
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
    setupFiles: ["src/test-setup.ts"],
  },
});
