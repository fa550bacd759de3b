// Drives the real `assistant-cloud` client against a live /v1 service and reports what it saw.
// stdin: {"baseUrl", "mode": "jwt"|"apikey"|"anonymous"|"provider", "sleepMs", ...mode credentials}
// stdout: JSON results; the Python test asserts on them. Any client error fails the run (exit 1).
import {
  AssistantCloud,
  CloudAPIError,
  CloudMessagePersistence,
  createFormattedPersistence,
  generateThreadTitle,
  readAnonymousRefreshToken,
} from "assistant-cloud";
import { aiSDKV6FormatAdapter } from "assistant-cloud/ai-sdk";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const { baseUrl, mode } = input;
const out = { mode, requests: [] };

// A browser-like localStorage, so anonymous mode keeps and rotates its refresh token.
class MemoryStorage {
  #items = new Map();
  getItem(k) { return this.#items.has(k) ? this.#items.get(k) : null; }
  setItem(k, v) { this.#items.set(k, String(v)); }
  removeItem(k) { this.#items.delete(k); }
}
globalThis.localStorage = new MemoryStorage();

// Record which kind of credential each request carried (instrumentation only; requests go through unchanged).
const realFetch = globalThis.fetch;
const kindOf = (auth) => {
  if (!auth) return "none";
  const token = auth.replace(/^Bearer /, "");
  if (token.startsWith("aui_sk_")) return "api-key";
  try {
    const payload = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());
    return payload.token_use === "workspace" ? "workspace" : `provider:${payload.iss}`;
  } catch { return "other"; }
};
globalThis.fetch = async (url, init = {}) => {
  const headers = new Headers(init.headers ?? {});
  const path = new URL(String(url)).pathname;
  const response = await realFetch(url, init);
  out.requests.push({ path, method: init.method ?? "GET", auth: kindOf(headers.get("Authorization")), status: response.status });
  return response;
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let tokenCalls = 0;

function clerkTokenCallback(sessionToken) {
  return async () => {
    tokenCalls++;
    const r = await fetch(`${baseUrl}/api/assistant-ui-token`, {
      method: "POST",
      headers: { Authorization: `Bearer ${sessionToken}` },
    });
    if (!r.ok) throw new Error(`assistant-ui-token: ${r.status} ${await r.text()}`);
    return r.text();
  };
}

function makeCloud(which) {
  const creds = input[which];
  if (mode === "jwt") return new AssistantCloud({ baseUrl, authToken: clerkTokenCallback(creds.sessionToken), telemetry: false });
  if (mode === "apikey") return new AssistantCloud({ baseUrl, apiKey: creds.apiKey, userId: creds.userId, workspaceId: creds.workspaceId, telemetry: false });
  if (mode === "anonymous") return new AssistantCloud({ baseUrl, anonymous: true, telemetry: false });
  if (mode === "provider") {
    let i = 0;
    return new AssistantCloud({
      baseUrl,
      authToken: async () => { tokenCalls++; return creds.providerTokens[Math.min(i++, creds.providerTokens.length - 1)]; },
      telemetry: false,
    });
  }
  throw new Error(`unknown mode ${mode}`);
}

const cloud = makeCloud("first");

// Threads: create, list, rename, archive, list active and archived in parallel (as the thread list adapter does).
const { thread_id: a } = await cloud.threads.create({ last_message_at: new Date() });
const { thread_id: b } = await cloud.threads.create({ last_message_at: new Date(), metadata: { tag: "b" } });
const { thread_id: c } = await cloud.threads.create({ last_message_at: new Date(), external_id: "ext-c" });
await cloud.threads.update(a, { title: "Renamed thread" });
await cloud.threads.update(b, { is_archived: true });
const [active, archived] = await Promise.all([
  cloud.threads.list(),
  cloud.threads.list({ is_archived: true }),
]);
out.active = active.threads.map((t) => ({ id: t.id, title: t.title, is_archived: t.is_archived, workspace_id: t.workspace_id }));
out.archived = archived.threads.map((t) => ({ id: t.id, is_archived: t.is_archived, metadata: t.metadata }));
out.ids = { a, b, c };
const paged = await cloud.threads.list({ limit: 1 });
const paged2 = await cloud.threads.list({ limit: 1, after: paged.threads[0].id });
out.paging = [paged.threads.map((t) => t.id), paged2.threads.map((t) => t.id)];

// aui/v0 messages through the client's own persistence: a tree with a branch, then an update.
const persistence = new CloudMessagePersistence(cloud);
const auiUser = { role: "user", content: [{ type: "text", text: "How do I bake sourdough bread at home?" }], metadata: {} };
await persistence.append(a, "u1", null, "aui/v0", auiUser);
await persistence.append(a, "a1", "u1", "aui/v0", { role: "assistant", content: [{ type: "text", text: "Start with a starter." }], status: { type: "complete" }, metadata: {} });
await persistence.append(a, "a1b", "u1", "aui/v0", { role: "assistant", content: [{ type: "text", text: "Alternative answer." }], metadata: {} });
await persistence.append(a, "u2", "a1", "aui/v0", { role: "user", content: [{ type: "text", text: "Thanks" }], metadata: {} });
await persistence.update(a, "a1", "aui/v0", { role: "assistant", content: [{ type: "text", text: "Start with an active starter." }], metadata: {} });
const fresh = new CloudMessagePersistence(cloud);
const loaded = await fresh.load(a, "aui/v0");
out.aui = loaded.map((m) => ({ id: m.id, parent_id: m.parent_id, height: m.height, format: m.format, text: m.content.content?.[0]?.text }));
out.auiPersisted = fresh.isPersisted("u1");

// ai-sdk/v6 messages through the formatted persistence and the ai-sdk format adapter.
const aiPersistence = createFormattedPersistence(new CloudMessagePersistence(cloud), aiSDKV6FormatAdapter);
await aiPersistence.append(c, { parentId: null, message: { id: "ui-1", role: "user", parts: [{ type: "text", text: "Plan a weekend trip to Lisbon" }] } });
await aiPersistence.append(c, { parentId: "ui-1", message: { id: "ui-2", role: "assistant", parts: [{ type: "step-start" }, { type: "text", text: "Day one: Alfama." }], metadata: { model: "x" } } });
const aiLoaded = await createFormattedPersistence(new CloudMessagePersistence(cloud), aiSDKV6FormatAdapter).load(c);
out.aiSdk = aiLoaded.messages.map((m) => ({ parentId: m.parentId, id: m.message.id, role: m.message.role, parts: m.message.parts }));

// Feedback, title run, run report.
const listed = await cloud.threads.messages.list(a);
const assistantMsg = listed.messages.find((m) => m.content.role === "assistant");
out.feedback = await cloud.threads.messages.feedback(a, assistantMsg.id, { type: "positive", comment: " great " });
out.title = await generateThreadTitle(cloud, { threadId: c, messages: [{ role: "user", content: [{ type: "text", text: "Plan a weekend trip to Lisbon" }] }] });
out.titleOnThread = (await cloud.threads.get(c)).title;
out.runReport = await cloud.runs.report({ thread_id: a, status: "completed", model_id: "test-model", input_tokens: 12, output_tokens: 34, duration_ms: 56, output_text: "hi" });

// Token refresh: wait past the cached token's usable window; the client must fetch a new one and carry on.
const callsBefore = tokenCalls;
const refreshBefore = readAnonymousRefreshToken(baseUrl);
await sleep(input.sleepMs ?? 0);
out.afterSleep = (await cloud.threads.get(a)).title;
out.tokenCalls = { before: callsBefore, after: tokenCalls };
out.refreshRotated = mode === "anonymous" ? refreshBefore !== readAnonymousRefreshToken(baseUrl) : null;

// Delete, then the thread is gone (404 from the client's error type).
await cloud.threads.delete(b);
try { await cloud.threads.get(b); out.deletedGet = "found"; } catch (e) { out.deletedGet = e instanceof CloudAPIError ? e.status : String(e); }

// API-key mode: the backend mints a workspace token; a token-mode client sees the same threads.
if (mode === "apikey") {
  const { token } = await cloud.auth.tokens.create();
  const viaToken = new AssistantCloud({ baseUrl, authToken: async () => token, telemetry: false });
  out.viaMintedToken = (await viaToken.threads.list()).threads.map((t) => t.id).sort();
}

// Anonymous mode: a signed-in user claims the anonymous threads with the stored refresh token.
if (mode === "anonymous" && input.claimer) {
  const refreshToken = readAnonymousRefreshToken(baseUrl);
  const signedIn = new AssistantCloud({ baseUrl, authToken: clerkTokenCallback(input.claimer.sessionToken), telemetry: false });
  out.claim = await signedIn.threads.claim({ refresh_token: refreshToken });
  out.claimedThreads = (await signedIn.threads.list()).threads.map((t) => t.id).sort();
  try { await signedIn.threads.claim({ refresh_token: refreshToken }); out.reclaim = "ok"; } catch (e) { out.reclaim = e.status; }
  const r = await realFetch(`${baseUrl}/v1/auth/tokens/refresh`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ refresh_token: refreshToken }) });
  out.refreshAfterClaim = r.status;
  globalThis.localStorage = new MemoryStorage(); // the second anonymous browser below gets its own identity
}

// A second workspace sees none of it.
const other = makeCloud("second");
out.second = {
  active: (await other.threads.list()).threads.length,
  archived: (await other.threads.list({ is_archived: true })).threads.length,
};
try { await other.threads.get(a); out.second.get = "found"; } catch (e) { out.second.get = e.status; out.second.code = e.code; }
try { await other.threads.messages.list(c); out.second.messages = "found"; } catch (e) { out.second.messages = e.status; }

process.stdout.write(JSON.stringify(out));
