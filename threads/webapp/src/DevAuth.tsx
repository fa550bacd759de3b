// The development sign-in: pick a user and an optional organization; the service's development issuer
// mints a session token in Clerk's format (POST /dev/session), verified like any Clerk token.

import { useCallback, useMemo, useRef, useState, type FormEvent } from "react";

import { ApiError, errorFromResponse, offlineError, type AppSettings } from "./api";
import { AuthBanner } from "./AuthBanner";
import { ChatApp } from "./ChatApp";
import { workspaceKeyOf, type Session } from "./session";

const STORAGE_KEY = "chat.devSession";

type DevSession = { user: string; org: string | null; token: string; expiresAt: number };

function loadStored(): DevSession | null {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    const parsed = raw ? (JSON.parse(raw) as DevSession) : null;
    return parsed && typeof parsed.user === "string" && typeof parsed.token === "string" ? parsed : null;
  } catch {
    return null;
  }
}

async function mint(settings: AppSettings, user: string, org: string | null): Promise<DevSession> {
  let response: Response;
  try {
    response = await fetch(settings.devSessionUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(org ? { user, org } : { user }),
    });
  } catch {
    throw offlineError();
  }
  if (!response.ok) {
    const error = await errorFromResponse(response);
    throw response.status === 404
      ? new ApiError("request", "The development sign-in is turned off on this server.", { status: 404 })
      : error;
  }
  const body = (await response.json()) as { token: string; user_id: string; org_id: string | null; expires_at: number };
  return { user: body.user_id, org: body.org_id, token: body.token, expiresAt: body.expires_at };
}

function SignInForm({
  settings,
  initial,
  onSignedIn,
}: {
  settings: AppSettings;
  initial?: { user: string; org: string | null };
  onSignedIn: (session: DevSession) => void;
}) {
  const [user, setUser] = useState(initial?.user ?? "user_alice");
  const [org, setOrg] = useState(initial?.org ?? "");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await mint(settings, user.trim(), org.trim() || null));
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="signin">
      <form className="signin-card" onSubmit={submit} data-testid="dev-signin">
        <h1>Sign in (development)</h1>
        <p className="hint">
          No Clerk keys are configured, so this server signs development tokens itself. Pick any user id; add an
          organization to work in that organization's workspace.
        </p>
        <label>
          User
          <input data-testid="dev-user" value={user} onChange={(e) => setUser(e.target.value)} required />
        </label>
        <label>
          Organization (optional)
          <input data-testid="dev-org" value={org} onChange={(e) => setOrg(e.target.value)} placeholder="org_acme" />
        </label>
        {error && (
          <p className="error" role="alert" data-testid="signin-error">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy || !user.trim()} data-testid="dev-signin-submit">
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}

function OrgSwitcher({ current, onSwitch }: { current: string | null; onSwitch: (org: string | null) => void }) {
  const [value, setValue] = useState(current ?? "");
  return (
    <form
      className="org-switch"
      onSubmit={(e) => {
        e.preventDefault();
        onSwitch(value.trim() || null);
      }}
    >
      <input
        aria-label="Organization"
        data-testid="org-input"
        value={value}
        onChange={(e) => setValue(e.target.value)}
        placeholder="personal"
      />
      <button type="submit" data-testid="org-switch">
        Switch organization
      </button>
    </form>
  );
}

export function DevRoot({ settings }: { settings: AppSettings }) {
  const [session, setSession] = useState<DevSession | null>(loadStored);
  const [authProblem, setAuthProblem] = useState<ApiError | null>(null);
  const [switchError, setSwitchError] = useState<string | null>(null);
  // Bumped by "Sign in again": the app remounts and reloads what the expired token could not load.
  const [epoch, setEpoch] = useState(0);
  const tokenRef = useRef(session?.token ?? null);

  const adopt = useCallback((next: DevSession | null) => {
    tokenRef.current = next?.token ?? null;
    if (next) localStorage.setItem(STORAGE_KEY, JSON.stringify(next));
    else localStorage.removeItem(STORAGE_KEY);
    setAuthProblem(null);
    setSwitchError(null);
    setSession(next);
  }, []);

  const switchOrg = useCallback(
    async (org: string | null) => {
      if (!session) return;
      try {
        adopt(await mint(settings, session.user, org));
      } catch (err) {
        setSwitchError(err instanceof Error ? err.message : String(err));
      }
    },
    [adopt, session, settings],
  );

  const chatSession = useMemo<Session | null>(() => {
    if (!session) return null;
    return {
      userId: session.user,
      orgId: session.org,
      workspaceKey: workspaceKeyOf(session.user, session.org),
      getToken: async () => tokenRef.current,
      onSignInExpired: (error) => setAuthProblem(error),
      controls: (
        <div className="identity">
          <span data-testid="whoami">
            {session.user}
            {session.org ? ` · ${session.org}` : " · personal"}
          </span>
          <OrgSwitcher key={session.org ?? ""} current={session.org} onSwitch={switchOrg} />
          <button type="button" data-testid="sign-out" onClick={() => adopt(null)}>
            Switch user
          </button>
        </div>
      ),
    };
  }, [session, switchOrg, adopt]);

  if (!session || !chatSession) return <SignInForm settings={settings} onSignedIn={adopt} />;
  return (
    <div className="shell">
      {authProblem && <AuthBanner problem={authProblem} onRetry={() => void switchOrg(session.org).then(() => setEpoch((n) => n + 1))} />}
      {switchError && (
        <div className="banner" role="alert">
          {switchError}
        </div>
      )}
      {/* Keyed on the workspace: another user or organization gets a fresh runtime and list, never the old one. */}
      <ChatApp key={`${chatSession.workspaceKey}#${epoch}`} settings={settings} session={chatSession} />
    </div>
  );
}
