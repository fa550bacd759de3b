// The second-origin test page (tests/threads/web/test_second_origin.py): README "Connect your own front end"'s
// files, built with the browser app's own packages (`make web-tests` links threads/webapp/node_modules here).
// `@clerk/clerk-react` is the one stand-in: its `useAuth().getToken()` returns a development issuer token.
import { fileURLToPath } from "node:url";

import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  plugins: [react()],
  resolve: {
    alias: { "@clerk/clerk-react": fileURLToPath(new URL("./src/dev-clerk.ts", import.meta.url)) },
  },
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 4000 },
});
