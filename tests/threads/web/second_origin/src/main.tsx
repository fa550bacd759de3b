// The test page around README "Connect your own front end"'s files (Chat.tsx, Runtime.tsx, cloud.ts): signs in
// through the development issuer, then shows the AI SDK chat, assistant-ui's thread list and composer (over the
// Runtime), and the threads `AssistantCloud` lists from /v1. Everything the page does is in those three files.
import {
  ComposerPrimitive,
  MessagePrimitive,
  ThreadListItemPrimitive,
  ThreadListPrimitive,
  ThreadPrimitive,
  useAuiState,
} from "@assistant-ui/react";
import { useState } from "react";
import { createRoot } from "react-dom/client";

import { Chat } from "./Chat";
import { createCloud } from "./cloud";
import { signInWithDevIssuer, useAuth } from "./dev-clerk";
import { Runtime } from "./Runtime";

const params = new URLSearchParams(location.search);
const user = params.get("user") ?? "user_second";
const threadId = params.get("thread") ?? "thr_second_origin";

function CloudThreads() {
  const { getToken } = useAuth();
  const [ids, setIds] = useState<string[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const list = async () => {
    try {
      const { threads } = await createCloud(getToken).threads.list();
      setIds(threads.map((t) => t.id));
    } catch (err) {
      setError(String(err));
    }
  };
  return (
    <section aria-label="Assistant Cloud">
      <button type="button" onClick={() => void list()}>
        List with AssistantCloud
      </button>
      {ids && <output aria-label="Cloud threads">{ids.join(",")}</output>}
      {error && <p role="alert">{error}</p>}
    </section>
  );
}

function ThreadItem() {
  const remoteId = useAuiState((s) => s.threadListItem.remoteId);
  return (
    <li data-thread-id={remoteId ?? ""}>
      <ThreadListItemPrimitive.Root>
        <ThreadListItemPrimitive.Trigger>
          <ThreadListItemPrimitive.Title fallback="New chat" />
        </ThreadListItemPrimitive.Trigger>
      </ThreadListItemPrimitive.Root>
    </li>
  );
}

function AssistantUi() {
  return (
    <Runtime>
      <section aria-label="assistant-ui">
        <ThreadListPrimitive.Root>
          <ThreadListPrimitive.New>New thread</ThreadListPrimitive.New>
          <ul aria-label="Threads">
            <ThreadListPrimitive.Items>{() => <ThreadItem />}</ThreadListPrimitive.Items>
          </ul>
        </ThreadListPrimitive.Root>
        <ThreadPrimitive.Root>
          <ThreadPrimitive.Messages>
            {({ message }) => (
              <MessagePrimitive.Root data-aui-role={message.role}>
                <MessagePrimitive.Parts />
              </MessagePrimitive.Root>
            )}
          </ThreadPrimitive.Messages>
          <ComposerPrimitive.Root>
            <ComposerPrimitive.Input aria-label="assistant-ui message" />
            <ComposerPrimitive.Send>Send with assistant-ui</ComposerPrimitive.Send>
          </ComposerPrimitive.Root>
        </ThreadPrimitive.Root>
      </section>
    </Runtime>
  );
}

function App() {
  const [signedIn, setSignedIn] = useState<boolean | string>(false);
  if (signedIn !== true) {
    return (
      <button
        type="button"
        onClick={() => signInWithDevIssuer(user).then(() => setSignedIn(true), (err) => setSignedIn(String(err)))}
      >
        Sign in as {user}
        {typeof signedIn === "string" && <span role="alert">{signedIn}</span>}
      </button>
    );
  }
  return (
    <main data-signed-in={user}>
      <Chat threadId={threadId} />
      <AssistantUi />
      <CloudThreads />
    </main>
  );
}

createRoot(document.getElementById("root")!).render(<App />);
