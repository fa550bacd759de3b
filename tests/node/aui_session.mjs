// Drive a chat session through assistant-ui's own runtime, headless: @assistant-ui/react's remote thread list
// with @assistant-ui/react-ai-sdk's useChatRuntime and AssistantChatTransport (its `resumable` option), wired as
// the browser app wires them (a thread list adapter on /api/threads, a history adapter that loads the thread's
// messages and appends each finished one), rendered with react-dom into a jsdom document. No component of the
// runtime is replaced: only the page around it is absent.
// argv: <base url> <bearer token> <json actions>
//   actions: [{"send": text} | {"edit": index, "text": text} | {"regenerate": true} | {"toolOutput": output}
//             | {"send": text, "stopAfter": chars} (the Stop button: the runtime's cancel, which aborts the fetch and
//               makes the history adapter append the partial reply; with "delete": true the browser app's DELETE too)
//             | {"send": text, "dropAfter": chars} (the page goes away mid-reply: the runtime is unmounted)
//             | {"reload": true} (a new page: the thread opened again; assistant-ui's `resumable` resumes a reply)]
// stdout: {"threadId": <remote id>, "messages": <the AI SDK chat's UIMessage[]>, "errors", "appended", "resumed"}
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!doctype html><html><body><div id=root></div></body></html>", { url: "http://localhost/" });
for (const key of ["window", "document", "navigator", "sessionStorage", "localStorage", "HTMLElement", "Node", "Element"]) {
  if (!(key in globalThis)) globalThis[key] = key === "window" ? dom.window : dom.window[key];
}
globalThis.requestAnimationFrame = (cb) => setTimeout(() => cb(Date.now()), 0);
globalThis.cancelAnimationFrame = (id) => clearTimeout(id);
globalThis.IS_REACT_ACT_ENVIRONMENT = false;

const React = (await import("react")).default;
const { createRoot } = await import("react-dom/client");
const { AssistantRuntimeProvider, useAui, useRemoteThreadListRuntime } = await import("@assistant-ui/react");
const { AssistantChatTransport, createResumableSessionStorage, useAISDKChat, useChatRuntime } = await import(
  "@assistant-ui/react-ai-sdk"
);
const { createAssistantStream } = await import("assistant-stream");
const { lastAssistantMessageIsCompleteWithToolCalls } = await import("ai7");

const [base, token, rawActions] = process.argv.slice(2);
const actions = JSON.parse(rawActions);
const headers = { Authorization: `Bearer ${token}` };
const h = React.createElement;
const errors = [];
const appended = []; // what the history adapter saved: {id, role}
const resumed = []; // the stream ids assistant-ui resumed
let threadId = null;
let pendingToolOutput = null;
let current = { runtime: null, chat: null };

async function api(method, path, body) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { ...headers, ...(body && { "Content-Type": "application/json" }) },
    body: body && JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response.status === 204 ? null : response.json();
}

const threadListAdapter = {
  list: async () => {
    const page = await api("GET", "/api/threads?limit=50");
    return { threads: page.threads.map((t) => ({ status: "regular", remoteId: t.id, title: t.title ?? undefined })) };
  },
  fetch: async (id) => ({ status: "regular", remoteId: id, title: (await api("GET", `/api/threads/${id}`)).title }),
  // Titled at once: no title call takes a reply the test scripted for the conversation.
  initialize: async () => ({ remoteId: (threadId = (await api("POST", "/api/threads", { title: "Scripted" })).id) }),
  rename: async () => {},
  archive: async () => {},
  unarchive: async () => {},
  delete: async () => {},
  generateTitle: async () => createAssistantStream((controller) => controller.appendText("Scripted")),
  unstable_useAdapters: function useAdapters() {
    const aui = useAui();
    return React.useMemo(() => ({ history: historyAdapter(() => aui.threadListItem().getState().remoteId) }), [aui]);
  },
};

/** The browser app's history adapter (threads/webapp/src/persistence.ts), without its page concerns. */
function historyAdapter(remoteIdOf) {
  return {
    load: async () => ({ messages: [] }),
    append: async () => {},
    withFormat(format) {
      const save = async ({ message, parentId }) => {
        const remoteId = remoteIdOf() ?? threadId;
        const id = format.getId(message);
        appended.push({ id, role: message.role });
        await api("POST", `/api/threads/${remoteId}/messages`, {
          id,
          parent_id: parentId,
          format: format.format,
          content: format.encode({ parentId, message }),
        });
      };
      return {
        async load() {
          const remoteId = remoteIdOf();
          if (!remoteId) return { messages: [] };
          const page = await api("GET", `/api/threads/${remoteId}/messages`);
          const rows = page.messages.filter((row) => row.format === format.format);
          return {
            headId: page.head_id,
            messages: rows.map((row) => format.decode({ ...row, content: row.content })),
          };
        },
        append: save,
        update: save,
      };
    },
  };
}

function useThreadRuntime() {
  const aui = useAui();
  const [transport] = React.useState(
    () =>
      new AssistantChatTransport({
        api: `${base}/api/chat`,
        headers,
        // assistant-ui's own resume: the POST names the stream (x-resumable-stream-id); a new page resumes it.
        // One key per thread (as assistant-ui advises under a thread list): only that thread resumes it.
        resumable: {
          storage: createResumableSessionStorage({
            key: () => {
              const remoteId = aui.threadListItem().getState().remoteId;
              return remoteId ? `aui-resumable:${remoteId}` : undefined;
            },
          }),
          resumeApi: (id) => (resumed.push(id), `${base}/api/chat/${encodeURIComponent(id)}/stream`),
        },
      }),
  );
  return useChatRuntime({
    transport,
    sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithToolCalls,
    onError: (error) => errors.push(String(error)),
    onToolCall: ({ toolCall }) => {
      if (pendingToolOutput === null) return;
      const output = pendingToolOutput;
      pendingToolOutput = null;
      // As the AI SDK docs show: called, not awaited (awaiting inside onToolCall would deadlock the stream). Not
      // deferred either: deferred, it can land after the stream ended, and the SDK then continues twice (once for
      // the output, once for the stream's end): a race of the client's, seen once the server answered fast.
      void current.chat.addToolOutput({ tool: toolCall.toolName, toolCallId: toolCall.toolCallId, output });
    },
  });
}

function Probe() {
  current.chat = useAISDKChat();
  return null;
}

function App() {
  const runtime = useRemoteThreadListRuntime({ adapter: threadListAdapter, runtimeHook: useThreadRuntime });
  current.runtime = runtime;
  return h(AssistantRuntimeProvider, { runtime }, h(Probe));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const thread = () => current.runtime.thread;
const idle = () => !thread().getState().isRunning && !thread().getState().isLoading;
async function settle() {
  for (let i = 0; i < 600; i++) {
    await sleep(25);
    if (idle() && current.chat && current.chat.status !== "submitted" && current.chat.status !== "streaming") {
      await sleep(300); // the history adapter appends once a run ends
      if (idle()) return;
    }
  }
}
const replyText = () => {
  const last = current.chat?.messages.at(-1);
  return last?.role === "assistant" ? last.parts.map((p) => (p.type === "text" ? p.text : "")).join("") : "";
};
const untilText = async (chars) => {
  for (let i = 0; i < 1000 && replyText().length < chars; i++) await sleep(10);
};

let root = createRoot(document.getElementById("root"));
root.render(h(App));
for (let i = 0; i < 200 && !current.runtime; i++) await sleep(10);

for (const action of actions) {
  if ("toolOutput" in action) {
    pendingToolOutput = action.toolOutput;
    continue;
  }
  if ("send" in action) {
    thread().append({ role: "user", content: [{ type: "text", text: action.send }] });
    if ("stopAfter" in action) {
      await untilText(action.stopAfter);
      if (action.delete) await api("DELETE", `/api/chat/${threadId}/stream`).catch(() => undefined);
      thread().cancelRun();
    } else if ("dropAfter" in action) {
      await untilText(action.dropAfter);
      root.unmount(); // the page goes away; its runtime stops its chat
      root = null;
      continue;
    }
  } else if ("edit" in action) {
    const messages = thread().getState().messages.filter((m) => m.role === "user");
    const composer = thread().getMessageById(messages[action.edit].id).composer;
    composer.beginEdit();
    composer.setText(action.text);
    composer.send();
  } else if ("regenerate" in action) {
    const last = thread().getState().messages.at(-1);
    thread().getMessageById(last.id).reload();
  } else if ("reload" in action) {
    root?.unmount();
    current = { runtime: null, chat: null };
    root = createRoot(document.getElementById("root"));
    root.render(h(App));
    for (let i = 0; i < 200 && !current.runtime; i++) await sleep(10);
    await current.runtime.threads.switchToThread(threadId);
    for (let i = 0; i < 400 && thread().getState().isLoading; i++) await sleep(10);
  }
  await settle();
}
const messages = current.chat?.messages ?? [];
root?.unmount();
process.stdout.write(JSON.stringify({ threadId, messages, errors, appended, resumed }));
process.exit(0);
