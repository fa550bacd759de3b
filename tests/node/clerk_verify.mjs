// Verdicts of the real @clerk/backend verifyToken on a batch of tokens.
// stdin: {"jwtKey": PEM, "options": {...}, "tokens": {"name": "jwt", ...}}
// stdout: {"name": "ok" | "<reason code>", ...}
import { verifyToken } from "@clerk/backend";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));

const verdicts = {};
for (const [name, token] of Object.entries(input.tokens)) {
  try {
    await verifyToken(token, { jwtKey: input.jwtKey, ...input.options });
    verdicts[name] = "ok";
  } catch (err) {
    verdicts[name] = err?.reason ?? `error:${err?.message}`;
  }
}
process.stdout.write(JSON.stringify(verdicts));
