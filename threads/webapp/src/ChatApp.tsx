// The signed-in app: assistant-ui's thread list (backed by /api/threads) beside the chat (AI SDK transport
// to /api/chat). One instance per workspace: the parent remounts it when the user or organization changes.

import {
  AssistantRuntimeProvider,
  ComposerPrimitive,
  MessagePrimitive,
  ThreadListItemPrimitive,
  ThreadListPrimitive,
  ThreadPrimitive,
  useAui,
  useAuiState,
  useRemoteThreadListRuntime,
} from "@assistant-ui/react";
import { AssistantChatTransport, useAISDKChat, useAISDKError, useChatRuntime } from "@assistant-ui/react-ai-sdk";
import { useCallback, useEffect, useMemo, useState, type FormEvent } from "react";

import { ApiClient, ApiError, ChatTracker, type AppSettings } from "./api";
import { createThreadListAdapter } from "./persistence";
import type { Session } from "./session";

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

export function ChatApp({ settings, session }: { settings: AppSettings; session: Session }) {
  const [notice, setNotice] = useState<ApiError | null>(null);
  const online = useOnline();

  // Fixed for this mount: the parent remounts on a workspace change, and the token getter reads the latest token.
  const api = useMemo(
    () =>
      new ApiClient(settings.apiBase, session.getToken, (error) => {
        if (error.kind === "auth") session.onSignInExpired();
        // While the browser is offline the offline banner already says why requests fail.
        else if (!(error.kind === "offline" && !navigator.onLine)) setNotice(error);
      }),
    [],
  );
  // The chat stream reports its own failures inside the thread (with a retry), so it gets a quieter client.
  const chatApi = useMemo(
    () =>
      new ApiClient(settings.apiBase, session.getToken, (error) => {
        if (error.kind === "auth") session.onSignInExpired();
      }),
    [],
  );
  const chats = useMemo(() => new ChatTracker(), []);
  const chatFetch = useMemo(() => chats.wrap(chatApi.fetch), [chats, chatApi]);
  const adapter = useMemo(() => createThreadListAdapter(api, chats), [api, chats]);
  const runtimeHook = useCallback(
    function useThreadRuntime() {
      // One transport per thread runtime: the transport is wired to the runtime that owns it.
      const transport = useMemo(
        () => new AssistantChatTransport({ api: chatApi.url("/api/chat"), fetch: chatFetch }),
        [],
      );
      return useChatRuntime({ transport });
    },
    [chatApi, chatFetch],
  );
  const runtime = useRemoteThreadListRuntime({ adapter, runtimeHook });

  return (
    <AssistantRuntimeProvider runtime={runtime}>
      <div className="app" data-testid="app" data-workspace={session.workspaceKey}>
        <header className="topbar">
          <strong className="brand">Chat</strong>
          {session.controls}
        </header>
        {!online && (
          <div className="banner banner-offline" role="alert" data-testid="offline">
            You are offline. Messages will send again once the connection is back.
          </div>
        )}
        {notice && (
          <div className="banner" role="alert" data-testid="notice">
            {notice.message}
            <button type="button" onClick={() => setNotice(null)} aria-label="Dismiss">
              Dismiss
            </button>
          </div>
        )}
        <div className="layout">
          <aside className="sidebar">
            <ThreadList />
          </aside>
          <main className="chat">
            <Thread />
          </main>
        </div>
      </div>
    </AssistantRuntimeProvider>
  );
}

function ThreadList() {
  const isLoading = useAuiState((s) => s.threads.isLoading);
  const count = useAuiState((s) => s.threads.threadIds.length);
  const archivedCount = useAuiState((s) => s.threads.archivedThreadIds.length);
  const loadError = useAuiState((s) => s.threads.loadError);
  return (
    <ThreadListPrimitive.Root className="threadlist" data-testid="thread-list" data-loading={isLoading}>
      <ThreadListPrimitive.New className="new-thread" data-testid="new-thread">
        + New chat
      </ThreadListPrimitive.New>
      {isLoading && count === 0 ? (
        <p className="muted" data-testid="threads-loading">
          Loading chats…
        </p>
      ) : null}
      {loadError && !isLoading ? <ListLoadError error={loadError} /> : null}
      <ThreadListPrimitive.Items>{() => <ThreadListItem />}</ThreadListPrimitive.Items>
      <details className="archived" data-testid="archived-section">
        <summary>Archived ({archivedCount})</summary>
        <ThreadListPrimitive.Items archived>{() => <ArchivedThreadListItem />}</ThreadListPrimitive.Items>
      </details>
    </ThreadListPrimitive.Root>
  );
}

function ListLoadError({ error }: { error: unknown }) {
  const aui = useAui();
  const text = error instanceof Error ? error.message : "Your chats could not be loaded.";
  return (
    <div className="list-error" role="alert" data-testid="threads-error">
      <span>{text}</span>
      <button type="button" data-testid="threads-retry" onClick={() => void aui.threads.reload()}>
        Retry
      </button>
    </div>
  );
}

function RenameForm({ initial, onDone }: { initial: string; onDone: () => void }) {
  const aui = useAui();
  const [value, setValue] = useState(initial);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const title = value.trim();
    if (title) aui.threadListItem.rename(title);
    onDone();
  };
  return (
    <form className="rename" onSubmit={submit}>
      <input
        autoFocus
        aria-label="Chat title"
        data-testid="rename-input"
        value={value}
        onChange={(e) => setValue(e.target.value)}
        onKeyDown={(e) => e.key === "Escape" && onDone()}
      />
      <button type="submit" data-testid="rename-save">
        Save
      </button>
    </form>
  );
}

function ThreadListItem() {
  const title = useAuiState((s) => s.threadListItem.title);
  const remoteId = useAuiState((s) => s.threadListItem.remoteId);
  const [renaming, setRenaming] = useState(false);
  return (
    <ThreadListItemPrimitive.Root className="thread-item" data-testid="thread-item" data-thread-id={remoteId}>
      {renaming ? (
        <RenameForm initial={title ?? ""} onDone={() => setRenaming(false)} />
      ) : (
        <>
          <ThreadListItemPrimitive.Trigger className="thread-trigger" data-testid="thread-trigger">
            <span className="thread-title" data-testid="thread-title">
              <ThreadListItemPrimitive.Title fallback="New chat" />
            </span>
          </ThreadListItemPrimitive.Trigger>
          <div className="thread-actions">
            <button type="button" title="Rename" data-testid="thread-rename" onClick={() => setRenaming(true)}>
              Rename
            </button>
            <ThreadListItemPrimitive.Archive title="Archive" data-testid="thread-archive">
              Archive
            </ThreadListItemPrimitive.Archive>
            <ThreadListItemPrimitive.Delete title="Delete" data-testid="thread-delete">
              Delete
            </ThreadListItemPrimitive.Delete>
          </div>
        </>
      )}
    </ThreadListItemPrimitive.Root>
  );
}

function ArchivedThreadListItem() {
  const remoteId = useAuiState((s) => s.threadListItem.remoteId);
  return (
    <ThreadListItemPrimitive.Root className="thread-item archived-item" data-testid="archived-item" data-thread-id={remoteId}>
      <ThreadListItemPrimitive.Trigger className="thread-trigger">
        <span className="thread-title" data-testid="thread-title">
          <ThreadListItemPrimitive.Title fallback="New chat" />
        </span>
      </ThreadListItemPrimitive.Trigger>
      <div className="thread-actions">
        <ThreadListItemPrimitive.Unarchive title="Restore" data-testid="thread-unarchive">
          Restore
        </ThreadListItemPrimitive.Unarchive>
        <ThreadListItemPrimitive.Delete title="Delete" data-testid="thread-delete">
          Delete
        </ThreadListItemPrimitive.Delete>
      </div>
    </ThreadListItemPrimitive.Root>
  );
}

function Thread() {
  return (
    <ThreadPrimitive.Root className="thread" data-testid="thread">
      <ThreadPrimitive.Viewport className="viewport" data-testid="viewport">
        <ThreadPrimitive.Empty>
          <div className="empty" data-testid="thread-empty">
            <h2>How can I help?</h2>
            <p className="muted">Your chats are saved to your current workspace.</p>
          </div>
        </ThreadPrimitive.Empty>
        <ThreadPrimitive.Messages components={{ UserMessage, AssistantMessage }} />
        <ChatError />
      </ThreadPrimitive.Viewport>
      <Composer />
    </ThreadPrimitive.Root>
  );
}

function UserMessage() {
  return (
    <MessagePrimitive.Root className="message user" data-testid="message-user">
      <div className="bubble">
        <MessagePrimitive.Parts />
      </div>
    </MessagePrimitive.Root>
  );
}

function AssistantMessage() {
  const status = useAuiState((s) => s.message.status?.type);
  return (
    <MessagePrimitive.Root className="message assistant" data-testid="message-assistant" data-status={status}>
      <div className="bubble">
        <MessagePrimitive.Parts />
      </div>
    </MessagePrimitive.Root>
  );
}

/** A failed send or a stream that broke off: say what happened in words, and offer to try again. */
function ChatError() {
  const error = useAISDKError();
  const chat = useAISDKChat();
  const running = useAuiState((s) => s.thread.isRunning);
  if (!error || running) return null;
  let text: string;
  if (error instanceof ApiError) {
    text = error.message;
  } else {
    const detail = error.message?.trim().replace(/[.\s]+$/, "");
    text = `The reply failed${detail ? `: ${detail}` : ""}. You can try again.`;
  }
  const retryable = !(error instanceof ApiError && error.kind === "auth");
  return (
    <div className="chat-error" role="alert" data-testid="chat-error">
      <span>{text}</span>
      {retryable && chat && (
        <button type="button" data-testid="chat-retry" onClick={() => void chat.regenerate()}>
          Retry
        </button>
      )}
    </div>
  );
}

function Composer() {
  return (
    <ComposerPrimitive.Root className="composer">
      <ComposerPrimitive.Input
        className="composer-input"
        placeholder="Write a message…"
        data-testid="composer-input"
        autoFocus
      />
      <ThreadPrimitive.If running={false}>
        <ComposerPrimitive.Send className="send" data-testid="composer-send">
          Send
        </ComposerPrimitive.Send>
      </ThreadPrimitive.If>
      <ThreadPrimitive.If running>
        <ComposerPrimitive.Cancel className="send" data-testid="composer-cancel">
          Stop
        </ComposerPrimitive.Cancel>
      </ThreadPrimitive.If>
    </ComposerPrimitive.Root>
  );
}
