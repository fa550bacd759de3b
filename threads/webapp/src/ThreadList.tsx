// The sidebar: assistant-ui's thread list primitives over /api/threads. Active chats switch with the list's own
// trigger; archived chats open through the router (read-only, never silently restored). Delete asks first.

import { ThreadListItemPrimitive, ThreadListPrimitive, useAui, useAuiState } from "@assistant-ui/react";
import { ArchiveIcon, ArchiveRestoreIcon, PencilIcon, PlusIcon, Trash2Icon } from "lucide-react";
import { useState, type FormEvent } from "react";

import { ApiError } from "./api";
import { useRoute } from "./router";
import { ConfirmDialog } from "./ui";

export function ThreadList() {
  const isLoading = useAuiState((s) => s.threads.isLoading);
  const count = useAuiState((s) => s.threads.threadIds.length);
  const archivedCount = useAuiState((s) => s.threads.archivedThreadIds.length);
  const loadError = useAuiState((s) => s.threads.loadError);
  const route = useRoute();
  return (
    <ThreadListPrimitive.Root className="threadlist" data-testid="thread-list" data-loading={isLoading}>
      <ThreadListPrimitive.New className="btn btn-primary new-thread" data-testid="new-thread" onClick={route.newChat}>
        <PlusIcon aria-hidden size={16} /> New chat
      </ThreadListPrimitive.New>
      <h2 className="list-heading">Chats</h2>
      {isLoading && count === 0 ? (
        <div className="list-skeleton" data-testid="threads-loading" aria-label="Loading chats">
          <span className="skeleton" />
          <span className="skeleton" />
          <span className="skeleton" />
        </div>
      ) : null}
      {!isLoading && count === 0 && !loadError ? <p className="muted list-empty">No chats yet.</p> : null}
      {loadError && !isLoading ? <ListLoadError error={loadError} /> : null}
      <ul className="thread-items" aria-label="Your chats">
        <ThreadListPrimitive.Items>{() => <ThreadListItem />}</ThreadListPrimitive.Items>
      </ul>
      <details className="archived" data-testid="archived-section">
        <summary>Archived ({archivedCount})</summary>
        <ul className="thread-items" aria-label="Archived chats">
          <ThreadListPrimitive.Items archived>{() => <ArchivedThreadListItem />}</ThreadListPrimitive.Items>
        </ul>
      </details>
    </ThreadListPrimitive.Root>
  );
}

function ListLoadError({ error }: { error: unknown }) {
  const aui = useAui();
  // A refused sign-in is explained once, in the banner above; here it is only named.
  const refused = error instanceof ApiError && (error.kind === "auth" || error.kind === "config");
  const text = refused
    ? "Your chats could not be loaded: the sign-in was refused (see the message above)."
    : error instanceof Error
      ? error.message
      : "Your chats could not be loaded.";
  return (
    <div className="list-error" role="alert" data-testid="threads-error">
      <span>{text}</span>
      <button type="button" className="btn" data-testid="threads-retry" onClick={() => void aui.threads.reload()}>
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
      <button type="submit" className="btn" data-testid="rename-save">
        Save
      </button>
    </form>
  );
}

function DeleteButton() {
  const [asking, setAsking] = useState(false);
  const title = useAuiState((s) => s.threadListItem.title) || "New chat";
  return (
    <>
      <button
        type="button"
        className="icon-btn danger"
        data-testid="thread-delete"
        aria-label={`Delete “${title}”`}
        title="Delete"
        onClick={() => setAsking(true)}
      >
        <Trash2Icon aria-hidden size={16} />
      </button>
      <ConfirmDialog
        open={asking}
        title="Delete this chat?"
        testId="delete-dialog"
        onCancel={() => setAsking(false)}
        confirm={
          <ThreadListItemPrimitive.Delete className="btn btn-danger" data-testid="confirm-delete">
            Delete
          </ThreadListItemPrimitive.Delete>
        }
      >
        <p>
          “{title}” and all its messages will be deleted for good. To keep it out of the way instead, archive it.
        </p>
      </ConfirmDialog>
    </>
  );
}

function ThreadListItem() {
  const title = useAuiState((s) => s.threadListItem.title);
  const remoteId = useAuiState((s) => s.threadListItem.remoteId);
  const [renaming, setRenaming] = useState(false);
  const label = title || "New chat";
  return (
    <li className="thread-li">
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
              <button
                type="button"
                className="icon-btn"
                title="Rename"
                aria-label={`Rename “${label}”`}
                data-testid="thread-rename"
                onClick={() => setRenaming(true)}
              >
                <PencilIcon aria-hidden size={16} />
              </button>
              <ThreadListItemPrimitive.Archive
                className="icon-btn"
                title="Archive"
                aria-label={`Archive “${label}”`}
                data-testid="thread-archive"
              >
                <ArchiveIcon aria-hidden size={16} />
              </ThreadListItemPrimitive.Archive>
              <DeleteButton />
            </div>
          </>
        )}
      </ThreadListItemPrimitive.Root>
    </li>
  );
}

function ArchivedThreadListItem() {
  const remoteId = useAuiState((s) => s.threadListItem.remoteId);
  const title = useAuiState((s) => s.threadListItem.title) || "New chat";
  const route = useRoute();
  return (
    <li className="thread-li">
      <ThreadListItemPrimitive.Root
        className="thread-item archived-item"
        data-testid="archived-item"
        data-thread-id={remoteId}
      >
        {/* Not the list's Trigger: it would restore the chat on open. This opens it read-only. */}
        <button
          type="button"
          className="thread-trigger"
          data-testid="thread-trigger"
          onClick={() => remoteId && route.open(remoteId)}
        >
          <span className="thread-title" data-testid="thread-title">
            {title}
          </span>
        </button>
        <div className="thread-actions">
          <ThreadListItemPrimitive.Unarchive
            className="icon-btn"
            title="Restore"
            aria-label={`Restore “${title}”`}
            data-testid="thread-unarchive"
          >
            <ArchiveRestoreIcon aria-hidden size={16} />
          </ThreadListItemPrimitive.Unarchive>
          <DeleteButton />
        </div>
      </ThreadListItemPrimitive.Root>
    </li>
  );
}
