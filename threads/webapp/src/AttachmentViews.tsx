// Attachment chips and previews (assistant-ui's AttachmentPrimitive): in the composer, with a Remove button, before
// sending (the local file); in a sent user message, from the service's store (see attachments.ts), after a reload too.

import { AttachmentPrimitive, useAuiState } from "@assistant-ui/react";
import { XIcon } from "lucide-react";

import { usePreviewUrl } from "./attachments";

/** The URL an attachment's preview shows: the local file before sending, its stored copy once sent. */
function useAttachmentPreview(): { url: string | undefined; image: boolean; name: string } {
  const attachment = useAuiState((s) => s.attachment);
  const part = attachment.content?.find((p) => p.type === "image" || p.type === "file");
  const stored = part?.type === "image" ? part.image : part?.type === "file" ? part.data : undefined;
  const image = attachment.type === "image" || (attachment.contentType ?? "").startsWith("image/");
  const url = usePreviewUrl(image ? attachment.file : undefined, image && !attachment.file ? stored : undefined);
  return { url, image, name: attachment.name };
}

function AttachmentBody() {
  const { url, image, name } = useAttachmentPreview();
  return (
    <>
      {image && url ? (
        <img className="attachment-preview" src={url} alt={name} data-testid="attachment-preview" />
      ) : (
        <AttachmentPrimitive.unstable_Thumb className="attachment-thumb" aria-hidden />
      )}
      <span className="attachment-name" data-testid="attachment-name" title={name}>
        <AttachmentPrimitive.Name />
      </span>
    </>
  );
}

export function ComposerAttachment() {
  return (
    <AttachmentPrimitive.Root className="attachment" data-testid="composer-attachment">
      <AttachmentBody />
      <AttachmentPrimitive.Remove className="attachment-remove" aria-label="Remove attachment" title="Remove">
        <XIcon aria-hidden size={14} />
      </AttachmentPrimitive.Remove>
    </AttachmentPrimitive.Root>
  );
}

export function MessageAttachment() {
  return (
    <AttachmentPrimitive.Root className="attachment" data-testid="message-attachment">
      <AttachmentBody />
    </AttachmentPrimitive.Root>
  );
}
