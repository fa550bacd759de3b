// Reconnect to a running chat stream through the real `ai` package's DefaultChatTransport.reconnectToStream
// (GET {api}/{chatId}/stream) and assemble it with readUIMessageStream.
// argv: <api url> <bearer token> <chat id>; stdout: {"message": <UIMessage> | null, "errors": [...]}
import { DefaultChatTransport, readUIMessageStream } from "ai";

const [api, token, chatId] = process.argv.slice(2);
const transport = new DefaultChatTransport({ api, headers: { Authorization: `Bearer ${token}` } });
const errors = [];
const stream = await transport.reconnectToStream({ chatId });
let message = null;
if (stream) {
  for await (const snapshot of readUIMessageStream({ stream, onError: (e) => errors.push(String(e)) })) {
    message = snapshot;
  }
}
process.stdout.write(JSON.stringify({ message, errors }));
