import { defineConfig } from "vite";

// The UI is served by `spanloom serve` under /app; assets under /assets.
export default defineConfig({
  base: "/",
  oxc: { jsx: { runtime: "automatic", importSource: "react" } },
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 1024 },
  server: { proxy: { "^/(api|v1|btql|attachment|objects|version)": "http://127.0.0.1:4318" } },
});
