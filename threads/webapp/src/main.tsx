import { StrictMode, Suspense, lazy } from "react";
import { createRoot } from "react-dom/client";

import type { AppSettings } from "./api";
import { DevRoot } from "./DevAuth";
import "./styles.css";

// Clerk's components are only downloaded when a publishable key is configured.
const ClerkRoot = lazy(() => import("./ClerkAuth"));

function readSettings(): AppSettings {
  const node = document.getElementById("app-settings");
  const parsed = node?.textContent ? (JSON.parse(node.textContent) as Partial<AppSettings>) : {};
  return {
    mode: parsed.mode === "clerk" ? "clerk" : "dev",
    apiBase: parsed.apiBase ?? "",
    publishableKey: parsed.publishableKey ?? "",
    devSessionUrl: parsed.devSessionUrl ?? "/dev/session",
  };
}

const settings = readSettings();
const root = createRoot(document.getElementById("root")!);
root.render(
  <StrictMode>
    {settings.mode === "clerk" ? (
      <Suspense fallback={<p className="loading">Loading sign-in…</p>}>
        <ClerkRoot settings={settings} />
      </Suspense>
    ) : (
      <DevRoot settings={settings} />
    )}
  </StrictMode>,
);
