// The conversation: assistant-ui's thread, message, action bar, branch picker and composer primitives.
// Replies render as Markdown; every message can be copied; user messages edited (a new branch), replies
// regenerated and rated; the branch picker walks edited/regenerated siblings. Stop also tells the server
// (DELETE /api/chat/{id}/stream), which in resumable mode keeps generating after a disconnect. Files attach with
// the paperclip, by drag and drop or by paste; they upload when the message is sent (see attachments.ts) and show
// as previews in the composer and in the sent message, also after a reload.

import {
  ActionBarPrimitive,
  AuiIf,
  BranchPickerPrimitive,
  ComposerPrimitive,
  MessagePartPrimitive,
  MessagePrimitive,
  ThreadListItemPrimitive,
  ThreadPrimitive,
  useAui,
  useAuiState,
} from "@assistant-ui/react";
import { useAISDKChat, useAISDKError } from "@assistant-ui/react-ai-sdk";
import {
  ArrowDownIcon,
  ArrowUpIcon,
  CheckIcon,
  ChevronLeftIcon,
  ChevronRightIcon,
  CopyIcon,
  PaperclipIcon,
  PencilIcon,
  RefreshCwIcon,
  SquareIcon,
  ThumbsDownIcon,
  ThumbsUpIcon,
} from "lucide-react";
import { Suspense, lazy, useEffect, useRef, useState } from "react";

import { ApiError, type ApiClient } from "./api";
import { ComposerAttachment, MessageAttachment } from "./AttachmentViews";
import { FileAccessProvider } from "./attachments";
import { inProgressReplies } from "./persistence";
import { useRoute } from "./router";

// Markdown and the highlighter are their own chunk (about a quarter of the JS), fetched from this service as soon
// as the app mounts (see ChatApp): the sign-in page never waits for them. Until it arrives, text shows as plain text.
export const loadMarkdown = () => import("./MarkdownText");
const LazyMarkdownText = lazy(loadMarkdown);

function ReplyText() {
  return (
    <Suspense fallback={<MessagePartPrimitive.Text className="plain-text" />}>
      <LazyMarkdownText />
    </Suspense>
  );
}

export function Thread({
  api,
  notFound,
  reportError,
}: {
  api: ApiClient;
  notFound: string | null;
  reportError: (error: ApiError) => void;
}) {
  const { opening } = useRoute();
  const isLoading = useAuiState((s) => s.thread.isLoading);
  const archived = useAuiState((s) => s.threadListItem.status === "archived");
  if (notFound) return <NotFound id={notFound} />;
  return (
    <FileAccessProvider api={api}>
    <ThreadPrimitive.Root className="thread" data-testid="thread" data-archived={archived || undefined}>
      <ThreadPrimitive.Viewport className="viewport" data-testid="viewport">
        <div className="messages">
          {opening || isLoading ? (
            <LoadingSkeleton />
          ) : (
            <ThreadPrimitive.Empty>
              <div className="empty" data-testid="thread-empty">
                <h1>How can I help?</h1>
                <p className="muted">Your chats are saved to your current workspace.</p>
              </div>
            </ThreadPrimitive.Empty>
          )}
          <ThreadPrimitive.Messages components={{ UserMessage, AssistantMessage, EditComposer }} />
          <Resume />
          <ChatError />
        </div>
        <ThreadPrimitive.ViewportFooter className="viewport-footer">
          <ThreadPrimitive.ScrollToBottom className="icon-btn scroll-bottom" data-testid="scroll-bottom" aria-label="Scroll to the latest message" title="Scroll to the latest message">
            <ArrowDownIcon aria-hidden size={18} />
          </ThreadPrimitive.ScrollToBottom>
          {archived ? <ArchivedNotice /> : <Composer api={api} reportError={reportError} />}
        </ThreadPrimitive.ViewportFooter>
      </ThreadPrimitive.Viewport>
    </ThreadPrimitive.Root>
    </FileAccessProvider>
  );
}

function NotFound({ id }: { id: string }) {
  const route = useRoute();
  return (
    <div className="thread">
      <div className="not-found" data-testid="not-found" role="status">
        <h1>Chat not found</h1>
        <p>
          There is no chat <code>{id}</code> in this workspace. It may have been deleted, or it belongs to another
          user or organization.
        </p>
        <button type="button" className="btn btn-primary" data-testid="not-found-new" onClick={route.newChat}>
          Start a new chat
        </button>
      </div>
    </div>
  );
}

function LoadingSkeleton() {
  return (
    <div className="skeleton-thread" data-testid="thread-loading" aria-label="Loading the conversation" role="status">
      <span className="skeleton skeleton-user" />
      <span className="skeleton skeleton-reply" />
      <span className="skeleton skeleton-reply short" />
    </div>
  );
}

function ArchivedNotice() {
  return (
    <div className="archived-notice" data-testid="archived-notice" role="status">
      <span>This chat is archived and read-only. Restore it to continue the conversation.</span>
      <ThreadListItemPrimitive.Unarchive className="btn btn-primary" data-testid="restore-archived">
        Restore
      </ThreadListItemPrimitive.Unarchive>
    </div>
  );
}

function UserMessage() {
  return (
    <MessagePrimitive.Root className="message user" data-testid="message-user">
      <div className="message-body">
        <div className="user-row">
          <ActionBarPrimitive.Root className="action-bar" hideWhenRunning autohide="not-last" autohideFloat="single-branch">
            <CopyButton />
            <AuiIf condition={(s) => s.threadListItem.status !== "archived"}>
              <ActionBarPrimitive.Edit className="icon-btn" data-testid="edit" aria-label="Edit message" title="Edit">
                <PencilIcon aria-hidden size={16} />
              </ActionBarPrimitive.Edit>
            </AuiIf>
          </ActionBarPrimitive.Root>
          <div className="user-content">
            <div className="message-attachments" data-testid="message-attachments">
              <MessagePrimitive.Attachments components={{ Attachment: MessageAttachment }} />
            </div>
            <AuiIf condition={(s) => s.message.content.length > 0}>
              <div className="bubble" data-testid="user-text">
                <MessagePrimitive.Parts />
              </div>
            </AuiIf>
          </div>
        </div>
        <BranchPicker />
      </div>
    </MessagePrimitive.Root>
  );
}

function EditComposer() {
  return (
    <MessagePrimitive.Root className="message user editing">
      <ComposerPrimitive.Root className="edit-composer" data-testid="edit-composer">
        <ComposerPrimitive.Input className="composer-input" aria-label="Edit your message" data-testid="edit-input" autoFocus />
        <div className="edit-actions">
          <ComposerPrimitive.Cancel className="btn" data-testid="edit-cancel">
            Cancel
          </ComposerPrimitive.Cancel>
          <ComposerPrimitive.Send className="btn btn-primary" data-testid="edit-send">
            Send
          </ComposerPrimitive.Send>
        </div>
      </ComposerPrimitive.Root>
    </MessagePrimitive.Root>
  );
}

function AssistantMessage() {
  const status = useAuiState((s) => s.message.status?.type);
  const reason = useAuiState((s) => (s.message.status?.type === "incomplete" ? s.message.status.reason : undefined));
  const empty = useAuiState((s) => s.message.content.length === 0);
  // A request that failed before any text (refused, rate-limited, offline) leaves an empty reply: the error
  // below the thread says what happened and offers Retry, so the empty shell is not shown.
  if (empty && reason === "error") return null;
  return (
    <MessagePrimitive.Root className="message assistant" data-testid="message-assistant" data-status={status}>
      <div className="message-body">
        <div className="bubble">
          <MessagePrimitive.Parts components={{ Text: ReplyText }} />
          {reason === "cancelled" && <p className="stopped-note">Stopped.</p>}
        </div>
        <div className="message-footer">
          <BranchPicker />
          <ActionBarPrimitive.Root className="action-bar" hideWhenRunning autohide="not-last" autohideFloat="single-branch">
            <CopyButton />
            <AuiIf condition={(s) => s.threadListItem.status !== "archived"}>
              <ActionBarPrimitive.Reload className="icon-btn" data-testid="regenerate" aria-label="Regenerate reply" title="Regenerate">
                <RefreshCwIcon aria-hidden size={16} />
              </ActionBarPrimitive.Reload>
            </AuiIf>
            <ActionBarPrimitive.FeedbackPositive className="icon-btn feedback" data-testid="feedback-up" aria-label="Good reply" title="Good reply">
              <ThumbsUpIcon aria-hidden size={16} />
            </ActionBarPrimitive.FeedbackPositive>
            <ActionBarPrimitive.FeedbackNegative className="icon-btn feedback" data-testid="feedback-down" aria-label="Bad reply" title="Bad reply">
              <ThumbsDownIcon aria-hidden size={16} />
            </ActionBarPrimitive.FeedbackNegative>
          </ActionBarPrimitive.Root>
        </div>
      </div>
    </MessagePrimitive.Root>
  );
}

function CopyButton() {
  const copied = useAuiState((s) => s.message.isCopied);
  return (
    <ActionBarPrimitive.Copy
      className="icon-btn"
      data-testid="copy"
      aria-label={copied ? "Copied" : "Copy message"}
      title={copied ? "Copied" : "Copy"}
    >
      {copied ? <CheckIcon aria-hidden size={16} /> : <CopyIcon aria-hidden size={16} />}
    </ActionBarPrimitive.Copy>
  );
}

function BranchPicker() {
  return (
    <BranchPickerPrimitive.Root hideWhenSingleBranch className="branch-picker" data-testid="branch-picker">
      <BranchPickerPrimitive.Previous className="icon-btn" data-testid="branch-prev" aria-label="Previous version" title="Previous version">
        <ChevronLeftIcon aria-hidden size={16} />
      </BranchPickerPrimitive.Previous>
      <span className="branch-count" data-testid="branch-count">
        <BranchPickerPrimitive.Number /> / <BranchPickerPrimitive.Count />
      </span>
      <BranchPickerPrimitive.Next className="icon-btn" data-testid="branch-next" aria-label="Next version" title="Next version">
        <ChevronRightIcon aria-hidden size={16} />
      </BranchPickerPrimitive.Next>
    </BranchPickerPrimitive.Root>
  );
}

/**
 * A reply the server was still generating when this thread was opened (saved `in_progress`): replay it from
 * `GET /api/chat/{id}/stream` (the server answers 204 when nothing runs, e.g. without resumable mode).
 */
function Resume() {
  const aui = useAui();
  const chat = useAISDKChat();
  const remoteId = useAuiState((s) => s.threadListItem.remoteId);
  const isLoading = useAuiState((s) => s.thread.isLoading);
  const [resuming, setResuming] = useState(false);
  const started = useRef<string | null>(null);
  useEffect(() => {
    if (!chat || !remoteId || isLoading) return;
    const messageId = inProgressReplies.get(remoteId);
    if (!messageId || started.current === messageId) return;
    inProgressReplies.delete(remoteId);
    started.current = messageId;
    const before = chat.messages;
    const last = before.at(-1);
    if (chat.status !== "ready" || last?.id !== messageId) return;
    // The replay starts from the reply's first chunk: drop the partial copy so it is not shown twice.
    chat.setMessages(before.slice(0, -1));
    setResuming(true);
    chat
      .resumeStream()
      .catch(() => undefined)
      .finally(() => {
        setResuming(false);
        if (chat.messages.at(-1)?.role !== "assistant") chat.setMessages(before); // nothing to resume: keep it
        // The reply this page did not start ends here: title the thread the usual way (the adapter takes the
        // title the server gave it at the end of the reply, or asks for one).
        else aui.threadListItem().generateTitle();
      });
  }, [chat, remoteId, isLoading, aui]);
  if (!resuming) return null;
  return (
    <div className="resuming" data-testid="resuming" role="status">
      <span className="spinner" aria-hidden /> Resuming the reply that was being written…
    </div>
  );
}

/** Seconds left of a rate limit's Retry-After, counting down; undefined when there is no limit to wait out. */
function useCountdown(error: ApiError | undefined): number | undefined {
  const [now, setNow] = useState(() => Date.now());
  const [until, setUntil] = useState<{ error: ApiError; at: number } | null>(null);
  if (error && error.retryAfter && until?.error !== error) setUntil({ error, at: Date.now() + error.retryAfter * 1000 });
  const left = until && error && until.error === error ? Math.max(0, Math.ceil((until.at - now) / 1000)) : undefined;
  useEffect(() => {
    if (!left) return;
    const timer = window.setTimeout(() => setNow(Date.now()), 1000);
    return () => window.clearTimeout(timer);
  }, [left, now]);
  return left;
}

/** A failed send or a stream that broke off: say what happened in words, and offer to try again. */
function ChatError() {
  const error = useAISDKError();
  const chat = useAISDKChat();
  const running = useAuiState((s) => s.thread.isRunning);
  const wait = useCountdown(error instanceof ApiError && error.kind === "rate-limit" ? error : undefined);
  if (!error || running) return null;
  let text: string;
  if (wait !== undefined) {
    text =
      wait > 0
        ? `Too many requests right now. Try again in ${wait} second${wait === 1 ? "" : "s"}.`
        : "You can try again now.";
  } else if (error instanceof ApiError) {
    text = error.message;
  } else {
    const detail = error.message?.trim().replace(/[.\s]+$/, "");
    text = `The reply failed${detail ? `: ${detail}` : ""}. You can try again.`;
  }
  const retryable = !(error instanceof ApiError && (error.kind === "auth" || error.kind === "config"));
  return (
    <div className="chat-error" role="alert" data-testid="chat-error">
      <span>{text}</span>
      {retryable && chat && (
        <button
          type="button"
          className="btn"
          data-testid="chat-retry"
          disabled={wait !== undefined && wait > 0}
          onClick={() => void chat.regenerate()}
        >
          Retry
        </button>
      )}
    </div>
  );
}

function Composer({ api, reportError }: { api: ApiClient; reportError: (error: ApiError) => void }) {
  const remoteId = useAuiState((s) => s.threadListItem.remoteId);
  // The server owns a resumable generation: aborting the fetch alone would leave it running.
  const stopOnServer = () => {
    if (!remoteId) return;
    api
      .json<unknown>("DELETE", `/api/chat/${encodeURIComponent(remoteId)}/stream`, undefined, { quiet: true })
      .catch((error: unknown) => {
        if (error instanceof ApiError && error.kind !== "not-found") reportError(error);
      });
  };
  return (
    <ComposerPrimitive.AttachmentDropzone className="composer-dropzone" data-testid="composer-dropzone">
    <ComposerPrimitive.Root className="composer" data-testid="composer">
      <ComposerPrimitive.AddAttachment
        className="icon-btn attach"
        data-testid="composer-attach"
        aria-label="Attach files"
        title="Attach files (images, PDF, text)"
        multiple
      >
        <PaperclipIcon aria-hidden size={18} />
      </ComposerPrimitive.AddAttachment>
      <div className="composer-column">
        <div className="attachments" data-testid="composer-attachments">
          <ComposerPrimitive.Attachments components={{ Attachment: ComposerAttachment }} />
        </div>
        <ComposerPrimitive.Input
          className="composer-input"
          placeholder="Write a message…"
          aria-label="Message"
          data-testid="composer-input"
          rows={1}
          autoFocus
          addAttachmentOnPaste
        />
      </div>
      <AuiIf condition={(s) => !s.thread.isRunning}>
        <ComposerPrimitive.Send className="send" data-testid="composer-send" aria-label="Send message" title="Send">
          <ArrowUpIcon aria-hidden size={18} />
        </ComposerPrimitive.Send>
      </AuiIf>
      <AuiIf condition={(s) => s.thread.isRunning}>
        <ComposerPrimitive.Cancel
          className="send stop"
          data-testid="composer-cancel"
          aria-label="Stop generating"
          title="Stop"
          onClick={stopOnServer}
        >
          <SquareIcon aria-hidden size={14} fill="currentColor" />
        </ComposerPrimitive.Cancel>
      </AuiIf>
    </ComposerPrimitive.Root>
    </ComposerPrimitive.AttachmentDropzone>
  );
}
