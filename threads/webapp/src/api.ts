// One HTTP client for the service: adds the session token, and turns every failure into an ApiError whose
// `message` a person can read (expired sign-in, rate limits, an unreachable server, a refused request).

export type AppSettings = {
  mode: "dev" | "clerk";
  apiBase: string;
  publishableKey: string;
  devSessionUrl: string;
};

export type ErrorKind = "auth" | "config" | "rate-limit" | "offline" | "not-found" | "server" | "request";

export class ApiError extends Error {
  readonly kind: ErrorKind;
  readonly status: number;
  readonly code: string;
  readonly retryAfter: number | undefined;

  constructor(kind: ErrorKind, message: string, opts: { status?: number; code?: string; retryAfter?: number } = {}) {
    super(message);
    this.name = "ApiError";
    this.kind = kind;
    this.status = opts.status ?? 0;
    this.code = opts.code ?? kind;
    this.retryAfter = opts.retryAfter;
  }
}

export type TokenGetter = () => Promise<string | null>;
export type ErrorListener = (error: ApiError) => void;

async function bodyOf(response: Response): Promise<{ error?: string; message?: string }> {
  try {
    const data = await response.clone().json();
    return typeof data === "object" && data !== null ? data : {};
  } catch {
    return {};
  }
}

/**
 * A refusal that signing in again cannot fix: the server is configured not to accept this page's tokens.
 * Names the setting to change, so whoever runs the server knows what to do.
 */
export function configurationProblem(code: string): string | null {
  const origin = typeof window !== "undefined" ? window.location.origin : "this site";
  if (code === "token-invalid-authorized-parties") {
    return (
      `The server refused the sign-in because this site (${origin}) is not in its CLERK_AUTHORIZED_PARTIES ` +
      "setting. Whoever runs the server should add this origin to CLERK_AUTHORIZED_PARTIES; signing in again will not help."
    );
  }
  if (code === "origin-not-allowed") {
    return (
      `The server refused a request from this site (${origin}): the origin is not among its CLERK_AUTHORIZED_PARTIES. ` +
      "Whoever runs the server should add this origin to CLERK_AUTHORIZED_PARTIES."
    );
  }
  if (code === "token-invalid-issuer") {
    return "The server refused the sign-in: the token's issuer does not match its CLERK_ISSUER / CLERK_PUBLISHABLE_KEY setting.";
  }
  return null;
}

/** The readable error for a non-2xx response (the service answers `{error, message}`). */
export async function errorFromResponse(response: Response): Promise<ApiError> {
  const body = await bodyOf(response);
  const code = body.error ?? `http_${response.status}`;
  const detail = body.message ?? response.statusText;
  const status = response.status;
  if (status === 401 || (status === 403 && code === "origin-not-allowed")) {
    const config = configurationProblem(code);
    if (config) return new ApiError("config", config, { status, code });
    const expired = code.includes("expired");
    return new ApiError(
      "auth",
      expired
        ? "Your sign-in has expired. Sign in again to continue."
        : `You are signed out (${detail || code}). Sign in again to continue.`,
      { status, code },
    );
  }
  if (status === 429) {
    const header = Number(response.headers.get("Retry-After"));
    const retryAfter = Number.isFinite(header) && header > 0 ? Math.ceil(header) : undefined;
    const wait = retryAfter ? `Try again in ${retryAfter} second${retryAfter === 1 ? "" : "s"}.` : "Try again shortly.";
    // The service's own text repeats the wait; one plain sentence reads better.
    return new ApiError("rate-limit", `Too many requests right now. ${wait}`, {
      status,
      code,
      retryAfter,
    });
  }
  if (status === 404) return new ApiError("not-found", detail || "Not found.", { status, code });
  if (status >= 500) {
    return new ApiError("server", `The server had a problem (${status}). Try again in a moment.`, { status, code });
  }
  return new ApiError("request", detail || `Request refused (${status}).`, { status, code });
}

export function offlineError(): ApiError {
  const offline = typeof navigator !== "undefined" && navigator.onLine === false;
  return new ApiError(
    "offline",
    offline
      ? "You are offline. Check your connection; your messages are kept and you can retry."
      : "Cannot reach the server. Check that it is running, then retry.",
  );
}

export class ApiClient {
  constructor(
    readonly base: string,
    private readonly getToken: TokenGetter,
    private readonly onError: ErrorListener = () => {},
  ) {}

  /** Shows an error the way a failed call would (for failures found outside `fetch`). */
  report(error: ApiError): void {
    this.onError(error);
  }

  url(path: string): string {
    return `${this.base.replace(/\/$/, "")}${path}`;
  }

  /** `fetch` with the Bearer token; throws ApiError for network failures and non-2xx answers. */
  fetch = (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => this.send(input, init, false);

  private async send(input: RequestInfo | URL, init: RequestInit, quiet: boolean): Promise<Response> {
    const headers = new Headers(init.headers);
    const token = await this.getToken();
    if (token) headers.set("Authorization", `Bearer ${token}`);
    let response: Response;
    try {
      response = await fetch(input, { ...init, headers });
    } catch (err) {
      if (err instanceof DOMException && err.name === "AbortError") throw err;
      const error = offlineError();
      if (!quiet) this.onError(error);
      throw error;
    }
    if (!response.ok) {
      const error = await errorFromResponse(response);
      if (!quiet || error.kind === "auth" || error.kind === "config") this.onError(error);
      throw error;
    }
    return response;
  }

  /** A JSON call; `quiet` calls report only an expired sign-in, and leave other failures to the caller. */
  async json<T>(method: string, path: string, body?: unknown, opts: { quiet?: boolean } = {}): Promise<T> {
    const init: RequestInit = {
      method,
      headers: body === undefined ? { Accept: "application/json" } : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    };
    const response = await this.send(this.url(path), init, opts.quiet ?? false);
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }
}

export type ThreadRow = {
  id: string;
  title: string | null;
  is_archived: boolean;
  metadata: Record<string, unknown> | null;
  external_id: string | null;
  created_at: string;
  updated_at: string;
  last_message_at: string | null;
};

export type MessageRow = {
  id: string;
  parent_id: string | null;
  height: number;
  format: string;
  content: Record<string, unknown>;
  status: string;
  created_at: string;
  updated_at: string;
};

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Knows which threads have a chat response still streaming. The chat endpoint titles a new thread at the
 * end of its first reply, so title generation waits for that reply instead of racing it.
 */
export class ChatTracker {
  private readonly running = new Map<string, Promise<void>>();
  private readonly started = new Map<string, () => void>();

  /** Wraps a chat `fetch`: the thread counts as busy until the response body ends, fails or is cancelled. */
  wrap(fetchImpl: typeof fetch): typeof fetch {
    return async (input, init) => {
      const threadId = threadIdOf(init?.body);
      let settle = () => {};
      if (threadId) {
        const done = new Promise<void>((resolve) => (settle = resolve));
        this.running.set(threadId, done);
        this.started.get(threadId)?.();
        void done.then(() => this.running.get(threadId) === done && this.running.delete(threadId));
      }
      let response: Response;
      try {
        response = await fetchImpl(input, init);
      } catch (err) {
        settle();
        throw err;
      }
      if (!response.body) {
        settle();
        return response;
      }
      const reader = response.body.getReader();
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          try {
            const { done, value } = await reader.read();
            if (done) {
              settle();
              controller.close();
            } else controller.enqueue(value);
          } catch (err) {
            settle();
            controller.error(err);
          }
        },
        cancel(reason) {
          settle();
          return reader.cancel(reason);
        },
      });
      return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
    };
  }

  /** Resolves once the thread's chat response has ended (waiting briefly for one to start), or after `maxMs`. */
  async settled(threadId: string, { startWithinMs = 2000, maxMs = 120_000 } = {}): Promise<void> {
    if (!this.running.has(threadId)) {
      await Promise.race([new Promise<void>((resolve) => this.started.set(threadId, resolve)), sleep(startWithinMs)]);
      this.started.delete(threadId);
    }
    const running = this.running.get(threadId);
    if (running) await Promise.race([running, sleep(maxMs)]);
  }
}

function threadIdOf(body: BodyInit | null | undefined): string | undefined {
  if (typeof body !== "string") return undefined;
  try {
    const id = (JSON.parse(body) as { id?: unknown }).id;
    return typeof id === "string" ? id : undefined;
  } catch {
    return undefined;
  }
}
