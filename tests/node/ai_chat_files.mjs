// A chat turn with file attachments through the real `ai` package's Chat (AbstractChat with a plain state, as
// @ai-sdk/react's Chat is): `sendMessage({text, files})` with AI SDK file parts, then optionally `regenerate()`,
// then a "reload": the thread's messages read back from GET /api/threads/{id}/messages.
// argv: <service url> <bearer token> <chat id> <json files: FileUIPart[]> <text> [regenerate]
// stdout: {"messages": <the client's final UIMessage[]>, "reload": <GET messages body>, "errors": [...]}
import { AbstractChat, DefaultChatTransport } from "ai";

const [base, token, chatId, rawFiles, text, regenerate] = process.argv.slice(2);
const headers = { Authorization: `Bearer ${token}` };

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
const chat = new Chat({
  id: chatId,
  transport: new DefaultChatTransport({ api: `${base}/api/chat`, headers }),
  onError: (error) => errors.push(String(error)),
});
await chat.sendMessage({ text, files: JSON.parse(rawFiles) });
if (regenerate === "regenerate") {
  await chat.regenerate();
}
const reload = await fetch(`${base}/api/threads/${encodeURIComponent(chatId)}/messages`, { headers });
process.stdout.write(JSON.stringify({ messages: chat.messages, reload: await reload.json(), errors }));
