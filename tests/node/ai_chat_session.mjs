// Drive a whole chat session through the real `ai` package's Chat (AbstractChat with a plain state, as
// @ai-sdk/react's Chat is), against the service: send, edit (sendMessage with messageId: same id, new text),
// regenerate, a frontend tool answered with addToolOutput + sendAutomaticallyWhen, stop, and a reload that
// resumes (a new Chat over the stored messages, then resumeStream() as useChat({resume: true}) does on mount).
// argv: <api url> <bearer token> <chat id> <json actions> [only-last]
//   actions: [{"send": text} | {"edit": index, "text": text} | {"regenerate": true} | {"toolOutput": output}
//             | {"send": text, "stopAfter": chars} (the README's stop: DELETE /api/chat/{id}/stream, then stop())
//             | {"send": text, "dropAfter": chars} (abort the fetch only: a dropped connection, a reload)
//             | {"reload": true} (a new Chat over GET /api/threads/{id}/messages; resumes a reply in progress)]
//   only-last: send only the last message as `message` (prepareSendMessagesRequest), as the README recommends.
// env: AI_PACKAGE: the package to import ("ai" = 6.x, "ai7" = the 7.x alias in package.json).
// stdout: {"messages": <the client's final UIMessage[]>, "errors": [...], "version": <the package's version>}
import { readFileSync } from "node:fs";

const pkg = process.env.AI_PACKAGE || "ai";
const { AbstractChat, DefaultChatTransport, lastAssistantMessageIsCompleteWithToolCalls } = await import(pkg);
const version = JSON.parse(readFileSync(new URL(`./node_modules/${pkg}/package.json`, import.meta.url))).version;

const [api, token, chatId, rawActions, onlyLast] = process.argv.slice(2);
const actions = JSON.parse(rawActions);
const base = api.replace(/\/api\/chat$/, "");
const headers = { Authorization: `Bearer ${token}` };

class PlainState {
  constructor(messages = []) {
    this.status = "ready";
    this.error = undefined;
    this.messages = messages;
  }
  pushMessage(message) {
    this.messages = [...this.messages, message];
  }
  popMessage() {
    this.messages = this.messages.slice(0, -1);
  }
  replaceMessage(index, message) {
    this.messages = [...this.messages.slice(0, index), message, ...this.messages.slice(index + 1)];
  }
  snapshot(thing) {
    return structuredClone(thing);
  }
}

class Chat extends AbstractChat {
  constructor({ messages, ...init }) {
    super({ ...init, state: new PlainState(messages) });
  }
}

const errors = [];
let pendingToolOutput = null;
const transport = new DefaultChatTransport({
  api,
  headers,
  ...(onlyLast === "only-last" && {
    prepareSendMessagesRequest: ({ id, messages, trigger, messageId }) => ({
      body: { id, message: messages.at(-1), trigger, messageId },
    }),
  }),
});

function makeChat(messages = []) {
  const chat = new Chat({
    id: chatId,
    messages,
    transport,
    onError: (error) => errors.push(String(error)),
    sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithToolCalls,
    onToolCall: async ({ toolCall }) => {
      if (pendingToolOutput !== null) {
        const output = pendingToolOutput;
        pendingToolOutput = null;
        // Not awaited inside onToolCall, as the AI SDK docs advise (it would deadlock the stream), and not deferred:
        // deferred, it can land after the stream ended, and the SDK then continues twice (a client race).
        void chat.addToolOutput({ tool: toolCall.toolName, toolCallId: toolCall.toolCallId, output });
      }
    },
  });
  return chat;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const settle = async (chat) => {
  for (let i = 0; i < 400; i++) {
    await sleep(25);
    if (chat.status === "ready" || chat.status === "error") {
      await sleep(100);
      if (chat.status === "ready" || chat.status === "error") return;
    }
  }
};
const replyText = (chat) => {
  const last = chat.messages.at(-1);
  if (last?.role !== "assistant") return "";
  return last.parts.map((p) => (p.type === "text" ? p.text : "")).join("");
};
const untilText = async (chat, chars) => {
  for (let i = 0; i < 1000 && replyText(chat).length < chars; i++) await sleep(10);
};

/** What a reloaded page starts from: the thread's current branch, and whether its last reply is still running. */
async function storedBranch() {
  const rows = [];
  let cursor = null;
  let head = null;
  do {
    const query = cursor ? `?cursor=${encodeURIComponent(cursor)}` : "";
    const response = await fetch(`${base}/api/threads/${encodeURIComponent(chatId)}/messages${query}`, { headers });
    const page = await response.json();
    rows.push(...page.messages);
    head = page.head_id ?? head;
    cursor = page.next_cursor;
  } while (cursor);
  const byId = new Map(rows.map((row) => [row.id, row]));
  const branch = [];
  for (let row = byId.get(head); row; row = byId.get(row.parent_id)) branch.unshift(row);
  return branch;
}

let chat = makeChat();
for (const action of actions) {
  if ("toolOutput" in action) {
    pendingToolOutput = action.toolOutput;
    continue;
  }
  if ("send" in action) {
    const sent = chat.sendMessage({ text: action.send });
    if ("stopAfter" in action) {
      await untilText(chat, action.stopAfter);
      // The stop contract (README): ask the server to stop the generation, then stop the client.
      await fetch(`${base}/api/chat/${encodeURIComponent(chatId)}/stream`, { method: "DELETE", headers });
      await chat.stop();
    } else if ("dropAfter" in action) {
      await untilText(chat, action.dropAfter);
      await chat.stop(); // only the fetch ends: to the server, a dropped connection
    }
    await sent;
  } else if ("edit" in action) {
    const user = chat.messages.filter((m) => m.role === "user")[action.edit];
    await chat.sendMessage({ text: action.text, messageId: user.id });
  } else if ("regenerate" in action) {
    await chat.regenerate();
  } else if ("reload" in action) {
    // A new page: the stored branch; a reply still being generated is dropped and replayed by the resume.
    const branch = await storedBranch();
    const running = branch.at(-1)?.status === "in_progress" && branch.at(-1).content.role === "assistant";
    const messages = branch.map((row) => ({ id: row.id, ...row.content }));
    chat = makeChat(running ? messages.slice(0, -1) : messages);
    await chat.resumeStream();
    if (running && chat.messages.at(-1)?.role !== "assistant") {
      // Nothing to resume (204: the connection owned it, and its end stopped it): show the reply once it is saved.
      let rows = branch;
      for (let i = 0; i < 300 && rows.at(-1)?.status === "in_progress"; i++) {
        await sleep(50);
        rows = await storedBranch();
      }
      chat = makeChat(rows.map((row) => ({ id: row.id, ...row.content })));
    }
  }
  await settle(chat);
}
process.stdout.write(JSON.stringify({ messages: chat.messages, errors, version }));
