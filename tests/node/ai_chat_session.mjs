// Drive a whole chat session through the real `ai` package's Chat (AbstractChat with a plain state, as
// @ai-sdk/react's Chat is), against the service: send, edit (sendMessage with messageId: same id, new text),
// regenerate, and a frontend tool answered with addToolOutput + sendAutomaticallyWhen.
// argv: <api url> <bearer token> <chat id> <json actions> [only-last]
//   actions: [{"send": text} | {"edit": index, "text": text} | {"regenerate": true} | {"toolOutput": output}]
//   only-last: send only the last message as `message` (prepareSendMessagesRequest), as the README recommends.
// stdout: {"messages": <the client's final UIMessage[]>, "errors": [...]}
import { AbstractChat, DefaultChatTransport, lastAssistantMessageIsCompleteWithToolCalls } from "ai";

const [api, token, chatId, rawActions, onlyLast] = process.argv.slice(2);
const actions = JSON.parse(rawActions);

class PlainState {
  constructor() {
    this.status = "ready";
    this.error = undefined;
    this.messages = [];
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
  constructor(init) {
    super({ ...init, state: new PlainState() });
  }
}

const errors = [];
let pendingToolOutput = null;
const transport = new DefaultChatTransport({
  api,
  headers: { Authorization: `Bearer ${token}` },
  ...(onlyLast === "only-last" && {
    prepareSendMessagesRequest: ({ id, messages, trigger, messageId }) => ({
      body: { id, message: messages.at(-1), trigger, messageId },
    }),
  }),
});
const chat = new Chat({
  id: chatId,
  transport,
  onError: (error) => errors.push(String(error)),
  sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithToolCalls,
  onToolCall: async ({ toolCall }) => {
    if (pendingToolOutput !== null) {
      const output = pendingToolOutput;
      pendingToolOutput = null;
      // Not awaited inside onToolCall, as the AI SDK docs advise (it would deadlock the stream).
      setTimeout(() => chat.addToolOutput({ tool: toolCall.toolName, toolCallId: toolCall.toolCallId, output }), 0);
    }
  },
});

const settle = async () => {
  for (let i = 0; i < 400; i++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    if (chat.status === "ready" || chat.status === "error") {
      await new Promise((resolve) => setTimeout(resolve, 100));
      if (chat.status === "ready" || chat.status === "error") return;
    }
  }
};

for (const action of actions) {
  if ("toolOutput" in action) {
    pendingToolOutput = action.toolOutput;
  } else if ("send" in action) {
    await chat.sendMessage({ text: action.send });
  } else if ("edit" in action) {
    const user = chat.messages.filter((m) => m.role === "user")[action.edit];
    await chat.sendMessage({ text: action.text, messageId: user.id });
  } else if ("regenerate" in action) {
    await chat.regenerate();
  }
  await settle();
}
process.stdout.write(JSON.stringify({ messages: chat.messages, errors }));
