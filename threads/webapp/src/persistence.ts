// assistant-ui's custom thread list (RemoteThreadListAdapter) and history adapter, backed by this service's
// /api/threads REST API. The chat endpoint saves the user and assistant messages itself (format "ai-sdk/v6"),
// so the history adapter loads them and re-saves only through the idempotent message append.

import { useAui } from "@assistant-ui/react";
import type { FeedbackAdapter, RemoteThreadListAdapter, ThreadHistoryAdapter } from "@assistant-ui/react";
import { createAssistantStream } from "assistant-stream";
import { useMemo } from "react";

import { ApiError, errorFromResponse, type ApiClient, type ChatTracker, type MessageRow, type ThreadRow } from "./api";

const PAGE_SIZE = 50;

type RemoteThreadListResponse = Awaited<ReturnType<RemoteThreadListAdapter["list"]>>;
type RemoteThreadMetadata = RemoteThreadListResponse["threads"][number];

function toMetadata(row: ThreadRow): RemoteThreadMetadata {
  return {
    status: row.is_archived ? "archived" : "regular",
    remoteId: row.id,
    title: row.title ?? undefined,
    lastMessageAt: row.last_message_at ? new Date(row.last_message_at) : undefined,
    externalId: row.external_id ?? undefined,
    custom: row.metadata ?? undefined,
  };
}

type Page = { threads: ThreadRow[]; next_cursor: string | null };

/** Active and archived threads are separate cursors; the list cursor carries both. */
async function listPage(api: ApiClient, after: string | undefined): Promise<RemoteThreadListResponse> {
  const state = after ? (JSON.parse(after) as { a?: string | null; r?: string | null }) : {};
  const fetchPage = (archived: boolean, cursor: string | null | undefined): Promise<Page> => {
    if (cursor === null) return Promise.resolve({ threads: [], next_cursor: null });
    const query = new URLSearchParams({ archived: String(archived), limit: String(PAGE_SIZE) });
    if (cursor) query.set("cursor", cursor);
    return api.json<Page>("GET", `/api/threads?${query}`);
  };
  const [active, archived] = await Promise.all([fetchPage(false, state.a), fetchPage(true, state.r)]);
  const more = active.next_cursor !== null || archived.next_cursor !== null;
  return {
    threads: [...active.threads, ...archived.threads].map(toMetadata),
    nextCursor: more ? JSON.stringify({ a: active.next_cursor, r: archived.next_cursor }) : undefined,
  };
}

function textOf(message: { content?: readonly { type: string; text?: string }[] }): string {
  return (message.content ?? [])
    .filter((part) => part.type === "text")
    .map((part) => part.text ?? "")
    .join(" ")
    .trim();
}

/** The first words of the first user message: the title when the service cannot generate one. */
export function fallbackTitle(messages: readonly { role: string; content?: readonly { type: string; text?: string }[] }[]) {
  const first = messages.find((m) => m.role === "user");
  const text = first ? textOf(first) : "";
  return text.length > 40 ? `${text.slice(0, 40).trimEnd()}…` : text || "New chat";
}

export function createThreadListAdapter(api: ApiClient, chats: ChatTracker): RemoteThreadListAdapter {
  const patch = (remoteId: string, body: Record<string, unknown>) =>
    api.json<ThreadRow>("PATCH", `/api/threads/${encodeURIComponent(remoteId)}`, body).then(() => undefined);

  return {
    list: (params) => listPage(api, params?.after),
    // Quiet: an unknown or foreign id (404) is shown as "not found" by the router, not as a banner.
    fetch: async (threadId) =>
      toMetadata(await api.json<ThreadRow>("GET", `/api/threads/${encodeURIComponent(threadId)}`, undefined, { quiet: true })),
    initialize: async () => {
      // Runs when the first message is sent; a failure is shown in the chat (with its retry), not twice.
      const row = await api.json<ThreadRow>("POST", "/api/threads", {}, { quiet: true });
      return { remoteId: row.id, externalId: row.external_id ?? undefined };
    },
    rename: (remoteId, title) => patch(remoteId, { title }),
    updateCustom: (remoteId, custom) => patch(remoteId, { metadata: custom ?? {} }),
    archive: (remoteId) => patch(remoteId, { is_archived: true }),
    unarchive: (remoteId) => patch(remoteId, { is_archived: false }),
    delete: async (remoteId) => {
      await api.json<void>("DELETE", `/api/threads/${encodeURIComponent(remoteId)}`);
    },
    generateTitle: async (remoteId, messages) => {
      // The chat endpoint titles a new thread when its first reply ends: use that title when there is one,
      // else ask the service for one, else keep the first words of the conversation.
      await chats.settled(remoteId);
      const path = `/api/threads/${encodeURIComponent(remoteId)}`;
      let title = "";
      try {
        title = (await api.json<ThreadRow>("GET", path, undefined, { quiet: true })).title?.trim() ?? "";
        if (!title) {
          const row = await api.json<{ title?: string | null }>("POST", `${path}/title`, {}, { quiet: true });
          title = row.title?.trim() ?? "";
        }
      } catch (err) {
        if (err instanceof ApiError && err.kind === "auth") throw err;
      }
      if (!title) {
        // Saved before the stream completes, as assistant-ui expects of an adapter that persists titles.
        title = fallbackTitle(messages);
        await patch(remoteId, { title });
      }
      return createAssistantStream((controller) => {
        controller.appendText(title);
      });
    },
    unstable_useAdapters: function useThreadAdapters() {
      const aui = useAui();
      return useMemo(
        () => ({
          history: createHistoryAdapter(api, () => aui.threadListItem),
          feedback: createFeedbackAdapter(api, () => aui.threadListItem),
        }),
        [aui],
      );
    },
  };
}

/**
 * Replies the server was still generating when their thread was loaded (saved `in_progress`): thread remote id ->
 * assistant message id. The thread view resumes them from `GET /api/chat/{id}/stream`.
 */
export const inProgressReplies = new Map<string, string>();

/**
 * Thumbs up/down, saved through the Assistant Cloud compatible API: `POST /v1/threads/{id}/messages/{mid}/feedback`
 * with a short-lived workspace token from `POST /api/assistant-ui-token` (there is no /api endpoint for feedback).
 */
export function createFeedbackAdapter(
  api: ApiClient,
  item: () => ThreadListItemHandle,
  onSaved: (messageId: string, type: string) => void = () => {},
): FeedbackAdapter {
  let cached: { token: string; expiresAt: number } | null = null;
  const workspaceToken = async () => {
    if (cached && cached.expiresAt - 30_000 > Date.now()) return cached.token;
    const response = await api.fetch(api.url("/api/assistant-ui-token"), { method: "POST" });
    const token = (await response.text()).trim();
    let expiresAt = Date.now() + 60_000;
    try {
      const claims = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))) as { exp?: number };
      if (typeof claims.exp === "number") expiresAt = claims.exp * 1000;
    } catch {
      /* an opaque token: keep it a minute */
    }
    cached = { token, expiresAt };
    return token;
  };
  return {
    submit: ({ message, type }) => {
      const remoteId = item().getState().remoteId;
      if (!remoteId) return;
      void (async () => {
        const token = await workspaceToken();
        const path = `/v1/threads/${encodeURIComponent(remoteId)}/messages/${encodeURIComponent(message.id)}/feedback`;
        const response = await fetch(api.url(path), {
          method: "POST",
          headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
          body: JSON.stringify({ type }),
        });
        if (!response.ok) throw await errorFromResponse(response);
        onSaved(message.id, type);
      })().catch((err) => api.report(err instanceof ApiError ? err : new ApiError("request", "Your feedback could not be saved.")));
    },
  };
}

type ThreadListItemHandle = {
  source?: unknown;
  getState(): { remoteId?: string | undefined };
  initialize(): Promise<{ remoteId: string }>;
};

/** History for one thread: load its "ai-sdk/v6" messages; append/update through the idempotent API. */
export function createHistoryAdapter(api: ApiClient, item: () => ThreadListItemHandle): ThreadHistoryAdapter {
  const remoteIdOf = () => {
    const current = item();
    return current.source === undefined || current.source ? current.getState().remoteId : undefined;
  };
  return {
    // Only the AI SDK runtime uses this adapter, and it always goes through withFormat.
    load: async () => ({ messages: [] }),
    append: async () => {},
    withFormat(formatAdapter) {
      let pinned: string | undefined;
      const target = async () => {
        pinned = pinned ?? remoteIdOf();
        if (pinned) return pinned;
        pinned = (await item().initialize()).remoteId;
        return pinned;
      };
      const save = async (message: unknown, parentId: string | null, status?: string) => {
        const remoteId = await target();
        const encoded = formatAdapter.encode({ parentId, message: message as never });
        await api.json("POST", `/api/threads/${encodeURIComponent(remoteId)}/messages`, {
          id: formatAdapter.getId(message as never),
          parent_id: parentId,
          format: formatAdapter.format,
          content: encoded,
          ...(status ? { status } : {}),
        });
      };
      return {
        pin() {
          pinned = remoteIdOf() ?? pinned;
        },
        async load() {
          const remoteId = remoteIdOf();
          pinned = remoteId ?? pinned;
          if (!remoteId) return { messages: [] };
          // Filtered here, not with `?format=`: DRF reads a `format` query parameter as a renderer choice (404).
          const { messages: rows } = await api.json<{ messages: MessageRow[] }>(
            "GET",
            `/api/threads/${encodeURIComponent(remoteId)}/messages`,
          );
          const messages = rows.filter((row) => row.format === formatAdapter.format);
          const latest = messages.reduce<MessageRow | undefined>(
            (best, row) => (!best || row.created_at >= best.created_at ? row : best),
            undefined,
          );
          if (latest?.status === "in_progress" && (latest.content as { role?: string }).role === "assistant") {
            inProgressReplies.set(remoteId, latest.id);
          } else inProgressReplies.delete(remoteId);
          return {
            headId: latest?.id ?? null,
            messages: messages.map((row) =>
              formatAdapter.decode({ id: row.id, parent_id: row.parent_id, format: row.format, content: row.content as never }),
            ),
          };
        },
        // The chat endpoint has already stored these under the same ids; the append is idempotent on id.
        async append(stored) {
          await save(stored.message, stored.parentId);
        },
        async update(stored) {
          await save(stored.message, stored.parentId);
        },
      };
    },
  };
}
