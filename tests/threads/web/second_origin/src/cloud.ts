import { AssistantCloud } from "assistant-cloud";

import { API } from "./config";

// The Clerk session is exchanged for a short-lived workspace token; the client adds /v1 to baseUrl itself.
export function createCloud(getToken: () => Promise<string | null>): AssistantCloud {
  return new AssistantCloud({
    baseUrl: API,
    authToken: async () => {
      const r = await fetch(`${API}/api/assistant-ui-token`, {
        method: "POST",
        headers: { Authorization: `Bearer ${await getToken()}` },
      });
      return r.text();
    },
  });
}
// const { threads } = await createCloud(getToken).threads.list(); // GET /v1/threads with the workspace token
