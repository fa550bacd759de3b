import { fileURLToPath } from "node:url";

import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Django serves the build: templates/app.html reads dist/.vite/manifest.json to find the hashed entry files,
// and config/web.py serves dist/assets/ under /app/assets/.
export default defineConfig({
  plugins: [react()],
  resolve: {
    // Only the Prism light build of react-syntax-highlighter (see src/shims/react-syntax-highlighter.ts).
    alias: [
      {
        find: /^react-syntax-highlighter$/,
        replacement: fileURLToPath(new URL("./src/shims/react-syntax-highlighter.ts", import.meta.url)),
      },
    ],
  },
  base: "/app/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    manifest: true,
    sourcemap: false,
    chunkSizeWarningLimit: 2000,
    rollupOptions: { input: "src/main.tsx" },
  },
});
