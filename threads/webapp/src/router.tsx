// Every saved thread has a URL, /chat/{thread_id}: opening one (reload, back/forward, a shared link) switches
// assistant-ui's thread list to it, and switching threads updates the address. An unknown or foreign id
// (the API answers 404) is a "not found" state inside the app. Archived threads open without being restored.

import { useAuiState, type AssistantRuntime } from "@assistant-ui/react";
import { createContext, useContext, useEffect, useRef, useState, type ReactNode } from "react";

import { ApiError } from "./api";

const CHAT_PATH = /^\/chat\/([A-Za-z0-9_-]{1,128})\/?$/;

export function threadIdFromPath(pathname: string): string | null {
  const match = CHAT_PATH.exec(pathname);
  return match ? decodeURIComponent(match[1]) : null;
}

export const pathForThread = (remoteId: string | undefined) => (remoteId ? `/chat/${encodeURIComponent(remoteId)}` : "/");

type Route = {
  /** The id in the address when it names no thread of this workspace. */
  notFound: string | null;
  /** Opening a thread from the address (before its history is asked for). */
  opening: boolean;
  open: (remoteId: string) => void;
  newChat: () => void;
};

const RouteContext = createContext<Route>({ notFound: null, opening: false, open: () => {}, newChat: () => {} });
export const useRoute = () => useContext(RouteContext);

function isNotFound(error: unknown): boolean {
  if (error instanceof ApiError) return error.kind === "not-found";
  return error instanceof Error && /not found/i.test(error.message);
}

export function RouteProvider({ runtime, children }: { runtime: AssistantRuntime; children: ReactNode }) {
  // The runtime, not the store client: its switches return promises, so a missing thread can be told apart.
  const threads = runtime.threads;
  const mainRemoteId = useAuiState((s) => s.threadListItem.remoteId);
  const mainThreadId = useAuiState((s) => s.threads.mainThreadId);
  const [notFound, setNotFound] = useState<string | null>(null);
  const [opening, setOpening] = useState(() => threadIdFromPath(window.location.pathname) !== null);
  // While a switch started from the address is under way, the address is not rewritten from the old main thread.
  const switching = useRef(0);

  const openFromAddress = (replace: boolean) => {
    const id = threadIdFromPath(window.location.pathname);
    const ticket = ++switching.current;
    if (!id) {
      setNotFound(null);
      setOpening(false);
      if (window.location.pathname !== "/" && replace) window.history.replaceState(null, "", "/");
      void threads.switchToNewThread().finally(() => ticket === switching.current && (switching.current = 0));
      return;
    }
    setOpening(true);
    threads
      .switchToThread(id, { unarchive: false })
      .then(() => setNotFound(null))
      .catch((error: unknown) => {
        if (ticket !== switching.current) return;
        if (isNotFound(error)) setNotFound(id);
        else console.error("[chat] could not open the thread", error);
      })
      .finally(() => {
        if (ticket !== switching.current) return;
        switching.current = 0;
        setOpening(false);
      });
  };

  // The address at start-up, and back/forward.
  useEffect(() => {
    if (threadIdFromPath(window.location.pathname) || window.location.pathname !== "/") openFromAddress(true);
    const onPop = () => openFromAddress(false);
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);

  // The main thread changed (picked in the list, a new chat saved on its first message): the address follows.
  useEffect(() => {
    if (switching.current) return;
    const path = pathForThread(mainRemoteId);
    if (notFound && !mainRemoteId) return; // keep the unknown address visible on the not-found page
    if (window.location.pathname === path) return;
    setNotFound(null);
    // A new chat that just got saved replaces its "/" entry; picking another chat is a new history entry.
    const replace = window.location.pathname === "/" && mainRemoteId !== undefined && newChatSaved.current === mainThreadId;
    if (replace) window.history.replaceState(null, "", path);
    else window.history.pushState(null, "", path);
  }, [mainRemoteId, mainThreadId]);

  // Remembers which local thread was new when it became main, so its first save replaces "/".
  const newChatSaved = useRef<string | undefined>(undefined);
  useEffect(() => {
    if (!mainRemoteId) newChatSaved.current = mainThreadId;
  }, [mainThreadId, mainRemoteId]);

  const route: Route = {
    notFound,
    opening,
    open: (remoteId) => {
      window.history.pushState(null, "", pathForThread(remoteId));
      openFromAddress(false);
    },
    newChat: () => {
      setNotFound(null);
      if (window.location.pathname !== "/") window.history.pushState(null, "", "/");
      void threads.switchToNewThread();
    },
  };
  return <RouteContext.Provider value={route}>{children}</RouteContext.Provider>;
}
