import {
  AssistantRuntimeProvider,
  useRemoteThreadListRuntime,
  type RemoteThreadListAdapter,
} from "@assistant-ui/react";
import { AssistantChatTransport, useChatRuntime } from "@assistant-ui/react-ai-sdk";
import { useAuth } from "@clerk/clerk-react";
import { createAssistantStream } from "assistant-stream";
import { useMemo, type ReactNode } from "react";

import { API } from "./config";

type Auth = () => Promise<Record<string, string>>;
type ThreadRow = { id: string; title: string | null; is_archived: boolean };

// assistant-ui's thread list over /api/threads (the server's own thread ids are assistant-ui's remote ids).
function threadListAdapter(auth: Auth): RemoteThreadListAdapter {
  const call = async (path: string, init: RequestInit = {}) => {
    const headers = { "Content-Type": "application/json", ...(await auth()) };
    const r = await fetch(`${API}${path}`, { ...init, headers });
    if (!r.ok) throw new Error((await r.json()).message);
    return r.status === 204 ? null : r.json();
  };
  const meta = (t: ThreadRow) => ({
    remoteId: t.id,
    title: t.title ?? undefined,
    status: t.is_archived ? ("archived" as const) : ("regular" as const),
    externalId: undefined,
  });
  const patch = (id: string, body: object) => call(`/api/threads/${id}`, { method: "PATCH", body: JSON.stringify(body) });
  return {
    async list() {
      const { threads } = await call("/api/threads?archived=all"); // first page; pass `cursor` for more
      return { threads: threads.map(meta) };
    },
    async initialize() {
      const t: ThreadRow = await call("/api/threads", { method: "POST", body: "{}" });
      return { remoteId: t.id, externalId: undefined };
    },
    async fetch(id) {
      return meta(await call(`/api/threads/${id}`));
    },
    async rename(id, title) {
      await patch(id, { title });
    },
    async archive(id) {
      await patch(id, { is_archived: true });
    },
    async unarchive(id) {
      await patch(id, { is_archived: false });
    },
    async delete(id) {
      await call(`/api/threads/${id}`, { method: "DELETE" });
    },
    async generateTitle(id) {
      // The chat endpoint titles a thread after its first reply; this asks for one when there is none yet.
      const { title } = await call(`/api/threads/${id}/title`, { method: "POST", body: "{}" });
      return createAssistantStream((c) => c.appendText(title ?? ""));
    },
  };
}

export function Runtime({ children }: { children: ReactNode }) {
  const { getToken } = useAuth();
  const auth = useMemo<Auth>(() => async () => ({ Authorization: `Bearer ${await getToken()}` }), [getToken]);
  const adapter = useMemo(() => threadListAdapter(auth), [auth]);
  const runtime = useRemoteThreadListRuntime({
    adapter,
    runtimeHook: function useThreadRuntime() {
      const transport = useMemo(
        () =>
          new AssistantChatTransport({
            api: `${API}/api/chat`,
            headers: auth,
            // `id` here is the thread's remote id (assistant-ui initializes the thread first): send the last message.
            prepareSendMessagesRequest: async ({ id, messages, trigger, messageId }) => ({
              headers: await auth(),
              body: { id, messages: messages.slice(-1), trigger, messageId },
            }),
          }),
        [],
      );
      return useChatRuntime({ transport });
    },
  });
  return <AssistantRuntimeProvider runtime={runtime}>{children}</AssistantRuntimeProvider>;
}
