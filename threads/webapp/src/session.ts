import type { ReactNode } from "react";

import type { ApiError } from "./api";

/** Who is signed in, as the chat app needs it; the same shape for Clerk and the development sign-in. */
export type Session = {
  userId: string;
  orgId: string | null;
  /** Changes exactly when the workspace does: the chat app is remounted on it, so no list outlives its owner. */
  workspaceKey: string;
  getToken: () => Promise<string | null>;
  /** Header controls for switching user / organization and signing out. */
  controls: ReactNode;
  /**
   * Called when the service refused the token: expired or signed out (kind "auth"), or refused because of the
   * server's configuration (kind "config", e.g. this origin missing from CLERK_AUTHORIZED_PARTIES).
   */
  onSignInExpired: (error: ApiError) => void;
};

export const workspaceKeyOf = (userId: string, orgId: string | null) => (orgId ? `${orgId}:${userId}` : userId);
