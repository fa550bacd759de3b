// The signed-in app: assistant-ui's thread list (backed by /api/threads) beside the chat (AI SDK transport
// to /api/chat), each thread at its own URL (/chat/{thread_id}). One instance per workspace: the parent remounts
// it when the user or organization changes.

import { AssistantRuntimeProvider, useAuiState, useRemoteThreadListRuntime } from "@assistant-ui/react";
import { AssistantChatTransport, useChatRuntime } from "@assistant-ui/react-ai-sdk";
import { MenuIcon, XIcon } from "lucide-react";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";

import { ApiClient, ApiError, ChatTracker, type AppSettings } from "./api";
import { createAttachmentAdapter } from "./attachments";
import { createThreadListAdapter } from "./persistence";
import { RouteProvider, useRoute } from "./router";
import type { Session } from "./session";
import { Thread, loadMarkdown } from "./Thread";
import { ThreadList } from "./ThreadList";
import { ThemeToggle, useMediaQuery } from "./ui";

function useOnline(): boolean {
  const [online, setOnline] = useState(() => navigator.onLine);
  useEffect(() => {
    const up = () => setOnline(true);
    const down = () => setOnline(false);
    window.addEventListener("online", up);
    window.addEventListener("offline", down);
    return () => {
      window.removeEventListener("online", up);
      window.removeEventListener("offline", down);
    };
  }, []);
  return online;
}

// The workspace of the previous mount: a chat address from another workspace is not carried into this one.
let lastWorkspace: string | undefined;

export function ChatApp({ settings, session }: { settings: AppSettings; session: Session }) {
  useState(() => {
    if (lastWorkspace !== undefined && lastWorkspace !== session.workspaceKey && window.location.pathname !== "/") {
      window.history.replaceState(null, "", "/");
    }
    lastWorkspace = session.workspaceKey;
  });
  const [notice, setNotice] = useState<ApiError | null>(null);
  const online = useOnline();
  useEffect(() => void loadMarkdown().catch(() => undefined), []);

  // Fixed for this mount: the parent remounts on a workspace change, and the token getter reads the latest token.
  const api = useMemo(
    () =>
      new ApiClient(settings.apiBase, session.getToken, (error) => {
        if (error.kind === "auth" || error.kind === "config") session.onSignInExpired(error);
        // While the browser is offline the offline banner already says why requests fail.
        else if (!(error.kind === "offline" && !navigator.onLine)) setNotice(error);
      }),
    [],
  );
  // The chat stream reports its own failures inside the thread (with a retry), so it gets a quieter client.
  const chatApi = useMemo(
    () =>
      new ApiClient(settings.apiBase, session.getToken, (error) => {
        if (error.kind === "auth" || error.kind === "config") session.onSignInExpired(error);
      }),
    [],
  );
  const chats = useMemo(() => new ChatTracker(), []);
  const chatFetch = useMemo(() => chats.wrap(chatApi.fetch), [chats, chatApi]);
  const adapter = useMemo(() => createThreadListAdapter(api, chats), [api, chats]);
  const runtimeHook = useCallback(
    function useThreadRuntime() {
      // The reconnect URL names the thread's server id (the chat's own id is local until the thread is saved).
      const remoteId = useAuiState((s) => s.threadListItem.remoteId);
      const remoteIdRef = useRef(remoteId);
      remoteIdRef.current = remoteId;
      // One transport per thread runtime: the transport is wired to the runtime that owns it.
      const transport = useMemo(
        () =>
          new AssistantChatTransport({
            api: chatApi.url("/api/chat"),
            fetch: chatFetch,
            prepareReconnectToStreamRequest: ({ id }) => ({
              api: chatApi.url(`/api/chat/${encodeURIComponent(remoteIdRef.current ?? id)}/stream`),
            }),
          }),
        [],
      );
      const attachments = useMemo(() => createAttachmentAdapter(chatApi, (error) => api.report(error)), []);
      return useChatRuntime({ transport, adapters: { attachments } });
    },
    [api, chatApi, chatFetch],
  );
  const runtime = useRemoteThreadListRuntime({ adapter, runtimeHook });

  return (
    <AssistantRuntimeProvider runtime={runtime}>
      <RouteProvider runtime={runtime}>
        <Layout session={session} api={api} chatApi={chatApi} online={online} notice={notice} onDismiss={() => setNotice(null)} />
      </RouteProvider>
    </AssistantRuntimeProvider>
  );
}

function Layout({
  session,
  api,
  chatApi,
  online,
  notice,
  onDismiss,
}: {
  session: Session;
  api: ApiClient;
  chatApi: ApiClient;
  online: boolean;
  notice: ApiError | null;
  onDismiss: () => void;
}) {
  const narrow = useMediaQuery("(max-width: 820px)");
  const [drawerOpen, setDrawerOpen] = useState(false);
  const { notFound } = useRoute();
  const mainThreadId = useAuiState((s) => s.threads.mainThreadId);
  // Picking a chat (or starting one) closes the drawer.
  useEffect(() => setDrawerOpen(false), [mainThreadId, notFound]);
  useEffect(() => {
    if (!drawerOpen) return;
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && setDrawerOpen(false);
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [drawerOpen]);
  const sidebarHidden = narrow && !drawerOpen;

  return (
    <div className="app" data-testid="app" data-workspace={session.workspaceKey} data-narrow={narrow || undefined}>
      <header className="topbar">
        <div className="topbar-start">
          {narrow && (
            <button
              type="button"
              className="icon-btn"
              data-testid="drawer-toggle"
              aria-label={drawerOpen ? "Close the chat list" : "Open the chat list"}
              aria-expanded={drawerOpen}
              aria-controls="sidebar"
              onClick={() => setDrawerOpen((open) => !open)}
            >
              {drawerOpen ? <XIcon aria-hidden size={20} /> : <MenuIcon aria-hidden size={20} />}
            </button>
          )}
          <strong className="brand">Chat</strong>
        </div>
        <div className="topbar-end">
          <ThemeToggle />
          {!narrow && session.controls}
        </div>
      </header>
      <div className="banners" aria-live="polite">
        {!online && (
          <div className="banner banner-offline" role="alert" data-testid="offline">
            <span>You are offline. Messages will send again once the connection is back.</span>
          </div>
        )}
        {notice && (
          <div className="banner" role="alert" data-testid="notice">
            <span>{notice.message}</span>
            <button type="button" className="btn" onClick={onDismiss}>
              Dismiss
            </button>
          </div>
        )}
      </div>
      <div className="layout">
        {narrow && drawerOpen && <div className="scrim" data-testid="scrim" onClick={() => setDrawerOpen(false)} />}
        <aside
          id="sidebar"
          className="sidebar"
          data-open={drawerOpen || undefined}
          aria-label="Chats"
          hidden={sidebarHidden}
          data-testid="sidebar"
        >
          <ThreadList />
          {/* On a narrow screen the account controls live in the drawer, so the top bar stays one line. */}
          {narrow && <div className="sidebar-account">{session.controls}</div>}
        </aside>
        <main className="chat" aria-label="Conversation">
          <Thread api={chatApi} notFound={notFound} reportError={(error) => api.report(error)} />
        </main>
      </div>
    </div>
  );
}
