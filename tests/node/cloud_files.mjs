// Drives the real `assistant-cloud` client through files, scores, feedback, run leases and the project listing.
// stdin: {"baseUrl", "mode": "jwt"|"apikey"|"anonymous"|"provider", "urlTtlMs", ...mode credentials}
// stdout: JSON results; the Python test asserts on them. An unexpected client error fails the run (exit 1).
import { AssistantCloud, CloudAPIError } from "assistant-cloud";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const { baseUrl, mode } = input;
const out = { mode };

class MemoryStorage {
  #items = new Map();
  getItem(k) { return this.#items.has(k) ? this.#items.get(k) : null; }
  setItem(k, v) { this.#items.set(k, String(v)); }
  removeItem(k) { this.#items.delete(k); }
}
globalThis.localStorage = new MemoryStorage();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function clerkTokenCallback(sessionToken) {
  return async () => {
    const r = await fetch(`${baseUrl}/api/assistant-ui-token`, { method: "POST", headers: { Authorization: `Bearer ${sessionToken}` } });
    if (!r.ok) throw new Error(`assistant-ui-token: ${r.status} ${await r.text()}`);
    return r.text();
  };
}

function makeCloud(which) {
  const creds = input[which];
  if (mode === "jwt") return new AssistantCloud({ baseUrl, authToken: clerkTokenCallback(creds.sessionToken), telemetry: false });
  if (mode === "apikey") return new AssistantCloud({ baseUrl, apiKey: creds.apiKey, userId: creds.userId, workspaceId: creds.workspaceId, telemetry: false });
  if (mode === "anonymous") return new AssistantCloud({ baseUrl, anonymous: true, telemetry: false });
  if (mode === "provider") return new AssistantCloud({ baseUrl, authToken: async () => creds.providerToken, telemetry: false });
  throw new Error(`unknown mode ${mode}`);
}

// The status (and code) a client call fails with, or "ok".
async function outcome(promise) {
  try { await promise; return "ok"; } catch (e) {
    if (e instanceof CloudAPIError) return e.code ? `${e.status} ${e.code}` : String(e.status);
    throw e;
  }
}
const tamper = (url) => {
  const u = new URL(url);
  const sig = u.searchParams.get("signature");
  if (sig) u.searchParams.set("signature", (sig[0] === "a" ? "b" : "a") + sig.slice(1));
  else u.search = u.search.replace(/Signature=([^&])/, (m, c) => `Signature=${c === "A" ? "B" : "A"}`);
  return u.toString();
};
const statusOf = async (url, init) => (await fetch(url, init)).status;

const PNG = Buffer.from("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c63f8ffff3f0005fe02fea7d6a4c80000000049454e44ae426082", "hex");

const cloud = makeCloud("first");
const { thread_id: t } = await cloud.threads.create({ last_message_at: new Date() });

// --- files: upload through the presigned URL, download through the presigned download URL -------------------
const up = await cloud.files.generatePresignedUploadUrl({ filename: "pixel.png" });
out.upload = { success: up.success, hasKey: typeof up.key === "string", expiresAt: up.expiresAt, publicUrl: up.publicUrl };
out.tamperedPut = await statusOf(tamper(up.signedUrl), { method: "PUT", body: PNG, headers: { "Content-Type": "image/png" } });
out.put = await statusOf(up.signedUrl, { method: "PUT", body: PNG, headers: { "Content-Type": "image/png" } });
const down = await cloud.files.generatePresignedDownloadUrl({ key: up.key });
const got = await fetch(down.signedUrl);
out.download = { status: got.status, same: Buffer.from(await got.arrayBuffer()).equals(PNG), type: got.headers.get("content-type"), key: down.key };
const byUrl = await cloud.files.generatePresignedDownloadUrl({ url: up.publicUrl });
out.downloadByUrl = byUrl.key === up.key;
out.tamperedGet = await statusOf(tamper(down.signedUrl));
// A message naming the file attaches it to the thread (deleted with it).
await cloud.threads.messages.create(t, { parent_id: null, format: "aui/v0", content: { role: "user", content: [{ type: "image", image: up.publicUrl }], metadata: {} } });

// Refusals: a type the service does not take, bytes that are not what the name says, the deprecated PDF call.
out.badType = await outcome(cloud.files.generatePresignedUploadUrl({ filename: "tool.exe" }));
const liar = await cloud.files.generatePresignedUploadUrl({ filename: "fake.png" });
const liarPut = await fetch(liar.signedUrl, { method: "PUT", body: "just text, not a PNG" });
out.mismatch = { status: liarPut.status, ...(liarPut.status === 200 ? {} : await liarPut.json().catch(() => ({}))) };
if (liarPut.status === 200) out.mismatchDownload = await outcome(cloud.files.generatePresignedDownloadUrl({ key: liar.key }));
out.pdfToImages = await outcome(cloud.files.pdfToImages({ file_url: "https://example.test/a.pdf" }));
const text = await cloud.files.generatePresignedUploadUrl({ filename: "notes.txt" });
out.textPut = await statusOf(text.signedUrl, { method: "PUT", body: "plain notes ✓\n", headers: { "Content-Type": "text/plain" } });

// --- scores: one per (user, message, name), a repeat updates -----------------------------------------------
const { message_id: m } = await cloud.threads.messages.create(t, { parent_id: null, format: "aui/v0", content: { role: "assistant", content: [{ type: "text", text: "hi" }], metadata: {} } });
const s1 = await cloud.scores.create({ name: "quality", data_type: "numeric", value: 0.25, thread_id: t, message_id: m });
const s2 = await cloud.scores.create({ name: "quality", data_type: "numeric", value: 0.75, thread_id: t, message_id: m, comment: "better" });
const s3 = await cloud.scores.create({ name: "helpful", data_type: "boolean", value: true, thread_id: t, message_id: m });
const s4 = await cloud.scores.create({ name: "tone", data_type: "categorical", string_value: "friendly", thread_id: t });
out.scores = { same: s1.score_id === s2.score_id, second: s2, boolean: s3, categorical: s4 };
out.scoreBad = await outcome(cloud.scores.create({ name: "quality", data_type: "numeric", thread_id: t, message_id: m }));

// --- feedback: one per user and message ---------------------------------------------------------------------
const f1 = await cloud.threads.messages.feedback(t, m, { type: "positive" });
const f2 = await cloud.threads.messages.feedback(t, m, { type: "negative", comment: "changed my mind" });
out.feedback = { same: f1.feedback_id === f2.feedback_id, second: f2 };

// --- run leases -------------------------------------------------------------------------------------------
const created = await cloud.threads.messages.create(t, { parent_id: m, format: "aui/v0", external_id: "run-msg-1", open_run: true, content: { role: "assistant", content: [], status: { type: "running" }, metadata: {} } });
out.lease = { hasLease: typeof created.run?.lease_id === "string", interval: created.run?.heartbeat_interval_ms };
const lease = created.run.lease_id;
out.heartbeat = await cloud.threads.runs.heartbeat(t, lease);
await cloud.threads.messages.update(t, created.message_id, { lease_id: lease, content: { role: "assistant", content: [{ type: "text", text: "partial" }], metadata: {} } });
// A repeated append as the holder (create with external_id + lease_id) writes the stored message.
await cloud.threads.messages.create(t, { parent_id: m, format: "aui/v0", external_id: "run-msg-1", lease_id: lease, content: { role: "assistant", content: [{ type: "text", text: "partial 2" }], metadata: {} } });
const runningList = (await cloud.threads.messages.list(t)).messages.find((x) => x.id === created.message_id);
out.running = { run: runningList.run, text: runningList.content.content[0].text };
out.wrongLease = await outcome(cloud.threads.messages.update(t, m, { lease_id: lease, content: { role: "assistant", content: [], metadata: {} } }));
out.unknownLeaseBeat = await outcome(cloud.threads.runs.heartbeat(t, "lease_nope"));
await cloud.threads.runs.end(t, lease, { reason: "done" });
await cloud.threads.runs.end(t, lease, { reason: "error" }); // idempotent, keeps the first reason
out.afterEnd = {
  heartbeat: await outcome(cloud.threads.runs.heartbeat(t, lease)),
  write: await outcome(cloud.threads.messages.update(t, created.message_id, { lease_id: lease, content: { role: "assistant", content: [], metadata: {} } })),
  run: (await cloud.threads.messages.list(t)).messages.find((x) => x.id === created.message_id).run,
};

// --- the project-wide listing: API keys only ------------------------------------------------------------
out.projects = await outcome(cloud.projects.threads.list({ limit: 2 }));
if (mode === "apikey") {
  const p1 = await cloud.projects.threads.list({ limit: 1 });
  const p2 = await cloud.projects.threads.list({ limit: 1, after: p1.threads[0].id });
  const msgs = await cloud.projects.threads.messages.list(t, { limit: 2 });
  out.projectPages = [p1.threads.map((x) => x.id), p2.threads.map((x) => x.id)];
  out.projectMessages = msgs.messages.length;
  out.projectArchived = (await cloud.projects.threads.list({ is_archived: true })).threads.length;
  out.projectMissing = await outcome(cloud.projects.threads.messages.list("thr_AAAAAAAAAAAAAAAAAAAAAA"));
  const { token } = await cloud.auth.tokens.create();
  const viaToken = new AssistantCloud({ baseUrl, authToken: async () => token, telemetry: false });
  out.projectsViaWorkspaceToken = await outcome(viaToken.projects.threads.list());
}

// --- a second workspace: cannot download, resolve or write any of it -------------------------------------
if (mode === "anonymous") globalThis.localStorage = new MemoryStorage();
const other = makeCloud("second");
out.second = {
  downloadByKey: await outcome(other.files.generatePresignedDownloadUrl({ key: up.key })),
  downloadByUrl: await outcome(other.files.generatePresignedDownloadUrl({ url: up.publicUrl })),
  score: await outcome(other.scores.create({ name: "x", data_type: "numeric", value: 1, thread_id: t, message_id: m })),
  feedback: await outcome(other.threads.messages.feedback(t, m, { type: "positive" })),
  heartbeat: await outcome(other.threads.runs.heartbeat(t, lease)),
  messages: await outcome(other.threads.messages.list(t)),
};

// --- an expired presigned URL is refused ----------------------------------------------------------------
const late = await cloud.files.generatePresignedDownloadUrl({ key: up.key });
await sleep(input.urlTtlMs + 1200);
out.expiredGet = await statusOf(late.signedUrl);
out.key = up.key;
out.threadId = t;

process.stdout.write(JSON.stringify(out));
