// Clerk mode (a publishable key is configured): Clerk's own components sign the person in and switch
// organizations; `getToken()` supplies fresh session tokens that the service verifies. Tested offline with a
// stand-in for Clerk's front-end script (tests/threads/web/clerk_standin), loaded the way Clerk's is.

import {
  ClerkFailed,
  ClerkLoaded,
  ClerkLoading,
  ClerkProvider,
  OrganizationSwitcher,
  SignIn,
  SignedIn,
  SignedOut,
  UserButton,
  useAuth,
  useClerk,
} from "@clerk/clerk-react";
import { Fragment, useMemo, useState, type ReactNode } from "react";

import type { ApiError, AppSettings } from "./api";
import { AuthBanner } from "./AuthBanner";
import { ChatApp } from "./ChatApp";
import { workspaceKeyOf, type Session } from "./session";

/**
 * Remounts its children on every auth change Clerk reports (another session, user or active organization), so the
 * thread list, the open thread and the chat runtime are loaded again for the new workspace and never outlive the
 * sign-in that loaded them. Token refreshes are not auth changes: they keep the same ids.
 */
export function ReloadOnAuth({ children }: { children: ReactNode }) {
  const { sessionId, userId, orgId } = useAuth();
  return <Fragment key={`${sessionId ?? ""}|${userId ?? ""}|${orgId ?? ""}`}>{children}</Fragment>;
}

function SignedInApp({ settings }: { settings: AppSettings }) {
  const { userId, orgId, getToken } = useAuth();
  const clerk = useClerk();
  const [authProblem, setAuthProblem] = useState<ApiError | null>(null);

  const session = useMemo<Session | null>(() => {
    if (!userId) return null;
    return {
      userId,
      orgId: orgId ?? null,
      workspaceKey: workspaceKeyOf(userId, orgId ?? null),
      getToken: () => getToken(),
      onSignInExpired: (error) => setAuthProblem(error),
      controls: (
        <div className="identity">
          <OrganizationSwitcher hidePersonal={false} />
          <UserButton />
        </div>
      ),
    };
  }, [userId, orgId, getToken]);

  if (!session) return <p className="loading">Loading your session…</p>;
  return (
    <div className="shell">
      {authProblem && (
        <AuthBanner
          problem={authProblem}
          onRetry={() => (authProblem.kind === "config" ? setAuthProblem(null) : void clerk.signOut())}
        />
      )}
      <ChatApp key={session.workspaceKey} settings={settings} session={session} />
    </div>
  );
}

export default function ClerkRoot({ settings }: { settings: AppSettings }) {
  return (
    <ClerkProvider publishableKey={settings.publishableKey} afterSignOutUrl="/">
      <ClerkLoading>
        <p className="loading">Loading sign-in…</p>
      </ClerkLoading>
      <ClerkFailed>
        <p className="banner" role="alert">
          Clerk could not be loaded. Check your connection and the publishable key, then reload.
        </p>
      </ClerkFailed>
      <ClerkLoaded>
        <SignedOut>
          <main className="signin">
            <SignIn routing="hash" />
          </main>
        </SignedOut>
        <SignedIn>
          <ReloadOnAuth>
            <SignedInApp settings={settings} />
          </ReloadOnAuth>
        </SignedIn>
      </ClerkLoaded>
    </ClerkProvider>
  );
}
