// Small app-wide pieces: the colour theme (system setting, or the person's choice) and a confirm dialog.

import { MoonIcon, SunIcon } from "lucide-react";
import { useEffect, useRef, useState, useSyncExternalStore, type ReactNode } from "react";

export type ThemeChoice = "system" | "light" | "dark";
const THEME_KEY = "chat.theme";
const darkQuery = () => window.matchMedia("(prefers-color-scheme: dark)");

function subscribeSystem(callback: () => void) {
  const query = darkQuery();
  query.addEventListener("change", callback);
  return () => query.removeEventListener("change", callback);
}

function storedChoice(): ThemeChoice {
  try {
    const value = localStorage.getItem(THEME_KEY);
    return value === "light" || value === "dark" ? value : "system";
  } catch {
    return "system";
  }
}

/** The resolved theme on <html data-theme>; follows the system until the person picks one. */
export function useTheme() {
  const [choice, setChoice] = useState<ThemeChoice>(storedChoice);
  const systemDark = useSyncExternalStore(subscribeSystem, () => darkQuery().matches);
  const resolved = choice === "system" ? (systemDark ? "dark" : "light") : choice;
  useEffect(() => {
    document.documentElement.dataset.theme = resolved;
  }, [resolved]);
  const choose = (next: ThemeChoice) => {
    setChoice(next);
    try {
      if (next === "system") localStorage.removeItem(THEME_KEY);
      else localStorage.setItem(THEME_KEY, next);
    } catch {
      /* private mode: the choice lasts for this page */
    }
  };
  return { choice, resolved, choose };
}

export function ThemeToggle() {
  const { resolved, choose } = useTheme();
  const next = resolved === "dark" ? "light" : "dark";
  return (
    <button
      type="button"
      className="icon-btn"
      data-testid="theme-toggle"
      data-theme-now={resolved}
      aria-label={`Switch to ${next} theme`}
      title={`Switch to ${next} theme`}
      onClick={() => choose(next)}
    >
      {resolved === "dark" ? <SunIcon aria-hidden size={18} /> : <MoonIcon aria-hidden size={18} />}
    </button>
  );
}

/** A modal question (native <dialog>: focus is kept inside, Escape cancels). */
export function ConfirmDialog({
  open,
  title,
  children,
  confirm,
  onCancel,
  testId,
}: {
  open: boolean;
  title: string;
  children: ReactNode;
  /** The confirming control (often an assistant-ui primitive, so it acts in its own context). */
  confirm: ReactNode;
  onCancel: () => void;
  testId?: string;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog
      ref={ref}
      className="dialog"
      data-testid={testId}
      aria-labelledby={testId ? `${testId}-title` : undefined}
      onCancel={(e) => {
        e.preventDefault();
        onCancel();
      }}
    >
      {open && (
        <>
          <h2 id={testId ? `${testId}-title` : undefined}>{title}</h2>
          <div className="dialog-body">{children}</div>
          <div className="dialog-actions">
            <button type="button" className="btn" data-testid="confirm-cancel" onClick={onCancel} autoFocus>
              Cancel
            </button>
            {confirm}
          </div>
        </>
      )}
    </dialog>
  );
}

export function useMediaQuery(query: string): boolean {
  return useSyncExternalStore(
    (callback) => {
      const list = window.matchMedia(query);
      list.addEventListener("change", callback);
      return () => list.removeEventListener("change", callback);
    },
    () => window.matchMedia(query).matches,
  );
}
