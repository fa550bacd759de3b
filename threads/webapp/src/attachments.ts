// Attachments: an assistant-ui AttachmentAdapter that uploads each file to this service's attachment store (the
// Assistant Cloud compatible presigned upload, with a workspace token from POST /api/assistant-ui-token), so the
// chat message carries the file's URL (`/v1/files/attachments/:id`), never its bytes. The server reads the file
// from the store for the model and checks it belongs to the same workspace.
//
// The file's URL is not a credential: showing a preview fetches it with the workspace token and displays a blob
// URL. Files not yet sent are previewed straight from the local File.

import type { AttachmentAdapter, CompleteAttachment, PendingAttachment } from "@assistant-ui/react";
import { createContext, createElement, useContext, useEffect, useState, type ReactNode } from "react";

import { ApiError, errorFromResponse, type ApiClient } from "./api";
import "./attachments.css";

// What the server accepts (ATTACHMENTS_ALLOWED_TYPES' default), by the extension it reads the type from.
const TYPES: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  pdf: "application/pdf",
  txt: "text/plain",
  md: "text/plain",
};
export const ACCEPT = [...new Set(Object.values(TYPES)), ...Object.keys(TYPES).map((e) => `.${e}`)].join(",");
const SERVICE_FILE = /\/v1\/files\/attachments\/file_[A-Za-z0-9_-]{22}$/;

function typeOf(name: string): string | undefined {
  const dot = name.lastIndexOf(".");
  return dot > 0 ? TYPES[name.slice(dot + 1).toLowerCase()] : undefined;
}

/** One workspace-token cache and the authorised reads of the service's files, per API client. */
export class FileAccess {
  private cached: { token: string; expiresAt: number } | null = null;
  private readonly previews = new Map<string, Promise<string>>();

  constructor(readonly api: ApiClient) {}

  async token(): Promise<string> {
    if (this.cached && this.cached.expiresAt - 30_000 > Date.now()) return this.cached.token;
    const response = await this.api.fetch(this.api.url("/api/assistant-ui-token"), { method: "POST" });
    const token = (await response.text()).trim();
    let expiresAt = Date.now() + 60_000;
    try {
      const claims = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))) as { exp?: number };
      if (typeof claims.exp === "number") expiresAt = claims.exp * 1000;
    } catch {
      /* an opaque token: keep it a minute */
    }
    this.cached = { token, expiresAt };
    return token;
  }

  private async v1(path: string, init: RequestInit): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set("Authorization", `Bearer ${await this.token()}`);
    const response = await fetch(path.startsWith("http") ? path : this.api.url(path), { ...init, headers });
    if (!response.ok) throw await errorFromResponse(response);
    return response;
  }

  /** Uploads a file; resolves to its stable URL on this service. */
  async upload(file: File): Promise<string> {
    const contentType = typeOf(file.name);
    if (!contentType) throw new ApiError("request", `${file.name}: this type of file cannot be attached.`);
    const body = JSON.stringify({ filename: file.name });
    const created = await this.v1("/v1/files/attachments/generate-presigned-upload-url", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body,
    });
    const { signedUrl, publicUrl } = (await created.json()) as { signedUrl: string; publicUrl: string };
    // The signed URL is the credential (and S3's signs the content type): no Authorization header here.
    let put: Response;
    try {
      put = await fetch(signedUrl, { method: "PUT", headers: { "Content-Type": contentType }, body: file });
    } catch {
      throw new ApiError("offline", `${file.name} could not be uploaded. Check your connection and retry.`);
    }
    if (!put.ok) throw await errorFromResponse(put);
    return publicUrl;
  }

  /** A URL an <img> can show: local ones as they are, the service's files read with the workspace token. */
  displayUrl(url: string): Promise<string> {
    if (!SERVICE_FILE.test(url)) return Promise.resolve(url);
    let preview = this.previews.get(url);
    if (!preview) {
      preview = this.v1(url, {}).then(async (response) => URL.createObjectURL(await response.blob()));
      preview.catch(() => this.previews.delete(url));
      this.previews.set(url, preview);
    }
    return preview;
  }
}

const accessByClient = new WeakMap<ApiClient, FileAccess>();

// A refused upload fails assistant-ui's send, whose caller (the Send button, Enter) does not catch it. The refusal
// was already shown in words; the rejection itself is expected, not a crash.
const reportedFailures = new WeakSet<object>();
if (typeof window !== "undefined") {
  window.addEventListener("unhandledrejection", (event) => {
    if (typeof event.reason === "object" && event.reason !== null && reportedFailures.has(event.reason)) {
      event.preventDefault();
    }
  });
}

export function fileAccessFor(api: ApiClient): FileAccess {
  let access = accessByClient.get(api);
  if (!access) accessByClient.set(api, (access = new FileAccess(api)));
  return access;
}

/**
 * The composer's adapter: files are previewed at once, uploaded when the message is sent. A refused upload is
 * reported (`report`, the app's banner, with the server's message) and fails the send: assistant-ui then keeps the
 * draft and its attachments, so nothing is sent without the file.
 */
export function createAttachmentAdapter(api: ApiClient, report: (error: ApiError) => void): AttachmentAdapter {
  const access = fileAccessFor(api);
  return {
    accept: ACCEPT,
    async add({ file }): Promise<PendingAttachment> {
      const contentType = typeOf(file.name) ?? file.type;
      return {
        id: crypto.randomUUID(),
        type: contentType.startsWith("image/") ? "image" : contentType === "application/pdf" ? "document" : "file",
        name: file.name,
        contentType,
        file,
        status: { type: "requires-action", reason: "composer-send" },
      };
    },
    async send(attachment: PendingAttachment): Promise<CompleteAttachment> {
      let url: string;
      try {
        url = await access.upload(attachment.file);
      } catch (error) {
        const shown = error instanceof ApiError ? error : new ApiError("request", `${attachment.name} could not be uploaded.`);
        report(shown);
        reportedFailures.add(shown);
        throw shown;
      }
      const content: CompleteAttachment["content"] = attachment.type === "image"
        ? [{ type: "image", image: url, filename: attachment.name }]
        : [{ type: "file", data: url, mimeType: attachment.contentType ?? "", filename: attachment.name }];
      return { ...attachment, status: { type: "complete" }, content };
    },
    async remove() {
      // Nothing is uploaded before the message is sent.
    },
  };
}

const FileAccessContext = createContext<FileAccess | null>(null);

export function FileAccessProvider({ api, children }: { api: ApiClient; children: ReactNode }) {
  return createElement(FileAccessContext.Provider, { value: fileAccessFor(api) }, children);
}

/** The preview URL of an attachment: its local File (composer), else its content's URL read from the service. */
export function usePreviewUrl(file: File | undefined, url: string | undefined): string | undefined {
  const access = useContext(FileAccessContext);
  const [shown, setShown] = useState<string | undefined>(undefined);
  useEffect(() => {
    if (file) {
      const local = URL.createObjectURL(file);
      setShown(local);
      return () => URL.revokeObjectURL(local);
    }
    if (!url) return;
    let live = true;
    (access ? access.displayUrl(url) : Promise.resolve(url)).then(
      (value) => live && setShown(value),
      () => live && setShown(undefined),
    );
    return () => {
      live = false;
    };
  }, [file, url, access]);
  return shown;
}
