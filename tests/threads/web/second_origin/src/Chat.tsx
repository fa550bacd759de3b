import { useChat } from "@ai-sdk/react";
import { useAuth } from "@clerk/clerk-react";
import { DefaultChatTransport } from "ai";
import { useMemo, useState } from "react";

import { API } from "./config";

export function Chat({ threadId }: { threadId: string }) {
  const { getToken } = useAuth();
  const transport = useMemo(() => {
    const auth = async () => ({ Authorization: `Bearer ${await getToken()}` });
    return new DefaultChatTransport({
      api: `${API}/api/chat`, // resume: GET /api/chat/{id}/stream (DefaultChatTransport's default reconnect URL)
      headers: auth,
      // The server keeps the history: send only the last message.
      prepareSendMessagesRequest: async ({ id, messages, trigger, messageId }) => ({
        headers: await auth(),
        body: { id, messages: messages.slice(-1), trigger, messageId },
      }),
    });
  }, [getToken]);
  const { messages, sendMessage, stop, status } = useChat({
    id: threadId, // the thread id: the thread is created by the first message
    resume: true, // on mount: GET /api/chat/{id}/stream (204 when nothing is running)
    transport,
  });
  const [text, setText] = useState("");
  const busy = status === "submitted" || status === "streaming";

  const stopReply = async () => {
    stop(); // closes this tab's stream; the DELETE stops the generation on the server for every reader
    await fetch(`${API}/api/chat/${threadId}/stream`, {
      method: "DELETE",
      headers: { Authorization: `Bearer ${await getToken()}` },
    });
  };

  return (
    <section aria-label="Chat">
      {messages.map((m) => (
        <p key={m.id} data-role={m.role}>
          {m.parts.map((part) => (part.type === "text" ? part.text : "")).join("")}
        </p>
      ))}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (!text.trim()) return;
          void sendMessage({ text });
          setText("");
        }}
      >
        <input aria-label="Message" value={text} onChange={(e) => setText(e.target.value)} />
        {/* Keyed: React must not turn the clicked Stop button into a submit button while the click is handled. */}
        {busy ? (
          <button key="stop" type="button" onClick={() => void stopReply()}>
            Stop
          </button>
        ) : (
          <button key="send" type="submit">
            Send
          </button>
        )}
      </form>
    </section>
  );
}
