import { defineConfig } from "vite";

// The console is served by the control plane from `dist/`; in `npm run dev`
// the API calls are proxied to a control plane on the default port.
export default defineConfig({
  build: { outDir: "dist", emptyOutDir: true, sourcemap: true },
  server: {
    proxy: {
      "/v1": "http://127.0.0.1:8080",
      "/readyz": "http://127.0.0.1:8080",
      "/openapi.json": "http://127.0.0.1:8080",
    },
  },
});
