import type { ApiError } from "./api";

/** A refused sign-in: either "sign in again" or, for a server configuration problem, the setting to fix. */
export function AuthBanner({ problem, onRetry }: { problem: ApiError; onRetry: () => void }) {
  const config = problem.kind === "config";
  return (
    <div className="banner banner-auth" role="alert" data-testid={config ? "auth-config" : "auth-expired"}>
      <span>{config ? problem.message : "Your sign-in has expired. Sign in again to continue."}</span>
      <button type="button" className="btn" onClick={onRetry} data-testid="sign-in-again">
        {config ? "Try again" : "Sign in again"}
      </button>
    </div>
  );
}
