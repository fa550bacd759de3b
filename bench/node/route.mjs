// The chat route of the assistant-ui Clerk guide, in Node, for bench/turn.py to measure the service against:
// verify the Clerk session token (@clerk/backend verifyToken, networkless with the PEM key), then
// streamText with an OpenAI-compatible provider and return toUIMessageStreamResponse(). No persistence,
// no titles: the guide's route does neither. Served by node:http on 127.0.0.1.
//
//   node route.mjs --port PORT --base-url http://127.0.0.1:UPSTREAM/v1 --jwt-key-file key.pub.pem
import { readFileSync } from "node:fs";
import http from "node:http";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { verifyToken } from "@clerk/backend";
import { convertToModelMessages, streamText } from "ai";

const arg = (name) => process.argv[process.argv.indexOf(`--${name}`) + 1];
const jwtKey = readFileSync(arg("jwt-key-file"), "utf8");
const provider = createOpenAICompatible({ name: "bench", baseURL: arg("base-url"), apiKey: "x" });

async function chat(req, res) {
  const header = req.headers.authorization ?? "";
  try {
    await verifyToken(header.replace(/^Bearer /, ""), { jwtKey });
  } catch {
    res.writeHead(401, { "content-type": "application/json" }).end('{"error":"unauthorized"}');
    return;
  }
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const { messages } = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  const result = streamText({ model: provider("bench"), messages: await convertToModelMessages(messages) });
  const response = result.toUIMessageStreamResponse();
  res.writeHead(response.status, Object.fromEntries(response.headers));
  for await (const piece of response.body) res.write(piece);
  res.end();
}

const server = http.createServer((req, res) => {
  if (req.method === "POST" && req.url === "/api/chat") {
    chat(req, res).catch(() => res.destroy());
  } else {
    res.writeHead(req.url === "/healthz" ? 200 : 404).end();
  }
});
server.listen(Number(arg("port")), "127.0.0.1", 4096, () => console.log(`listening on ${server.address().port}`));
