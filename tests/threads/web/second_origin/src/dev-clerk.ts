// Stands in for `@clerk/clerk-react` in the test page (a Vite alias): `useAuth().getToken()` returns the session
// token the page got from the development issuer (`POST /dev/session`), which the service verifies like Clerk's.
import { API } from "./config";

let token: string | null = null;

export async function signInWithDevIssuer(user: string): Promise<string> {
  const response = await fetch(`${API}/dev/session`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user }),
  });
  if (!response.ok) throw new Error(`dev sign-in: ${response.status}`);
  token = ((await response.json()) as { token: string }).token;
  return token;
}

// Stable, like Clerk's `getToken`.
const getToken = async (): Promise<string | null> => token;

export function useAuth(): { getToken: () => Promise<string | null> } {
  return { getToken };
}
