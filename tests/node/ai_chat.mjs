// Send one chat turn through the real `ai` package's DefaultChatTransport and assemble the reply with
// readUIMessageStream, as useChat does. argv: <api url> <bearer token> <json body {id, messages, tools?}>
// stdout: {"message": <final UIMessage>, "errors": [...]}
import { DefaultChatTransport, readUIMessageStream } from "ai";

const [api, token, rawBody] = process.argv.slice(2);
const body = JSON.parse(rawBody);
const transport = new DefaultChatTransport({ api, headers: { Authorization: `Bearer ${token}` } });
const errors = [];
const stream = await transport.sendMessages({
  chatId: body.id,
  messages: body.messages,
  trigger: "submit-message",
  messageId: undefined,
  abortSignal: undefined,
  body: body.tools ? { tools: body.tools } : undefined,
});
let message;
for await (const snapshot of readUIMessageStream({ stream, onError: (e) => errors.push(String(e)) })) {
  message = snapshot;
}
process.stdout.write(JSON.stringify({ message, errors }));
