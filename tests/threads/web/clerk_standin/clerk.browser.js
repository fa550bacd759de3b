// A local stand-in for Clerk's front-end script (clerk-js), for the browser tests of the app's Clerk mode.
//
// `@clerk/clerk-react` loads `https://<frontend-api>/npm/@clerk/clerk-js@5/dist/clerk.browser.js` (the Frontend
// API is encoded in the publishable key), waits for `window.Clerk.load`, then drives the object through the calls
// below: `load(options)`, `addListener`, `user` / `session` / `organization` / `client`, `session.getToken()`,
// `setActive`, `signOut`, and `mount*` / `unmount*` for <SignIn>, <UserButton> and <OrganizationSwitcher>. This
// file implements exactly those, with small plain-DOM widgets, against the test's loopback Frontend API
// (tests/threads/web/clerk_frontend.py), which signs session tokens with a key the service trusts. Like Clerk's own
// client cookie, the signed-in session survives a reload (here in localStorage).
(() => {
  "use strict";
  const script = document.currentScript;
  const FAPI = new URL(script ? script.src : location.href).origin;
  const STORE = "__clerk_standin_client";

  const api = async (path, body) => {
    const response = await fetch(FAPI + path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body ?? {}),
    });
    const data = await response.json();
    if (!response.ok) throw new Error(data.message || `Frontend API ${response.status}`);
    return data;
  };

  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    node.append(...children);
    return node;
  };

  class StandInClerk {
    constructor() {
      this.loaded = false;
      this.version = "5.0.0-standin";
      this.instanceType = "development";
      this.frontendApi = new URL(FAPI).host;
      this.client = undefined;
      this.session = undefined;
      this.user = undefined;
      this.organization = undefined;
      this.options = {};
      this._listeners = new Set();
      this._mounted = new Map(); // node -> render function
      this._tokens = new Map(); // organization id ("" for personal) -> {jwt, exp}
      this._statusHandlers = new Set();
    }

    get isSignedIn() {
      return !!this.session;
    }

    get status() {
      return this.loaded ? "ready" : "loading";
    }

    // clerk-react subscribes to "status" in an effect, which may run after this instant load has finished: a new
    // subscriber is told the current status at once (the real script's load takes network round trips).
    on(event, handler) {
      if (event !== "status") return;
      this._statusHandlers.add(handler);
      handler(this.status);
    }

    off(event, handler) {
      if (event === "status") this._statusHandlers.delete(handler);
    }

    async load(options) {
      this.options = options || {};
      let saved = null;
      try {
        saved = JSON.parse(localStorage.getItem(STORE) || "null");
      } catch {
        saved = null;
      }
      // A stored session the Frontend API no longer knows is signed out, as Clerk does with a revoked client.
      await this._adopt(saved, false).catch(() => this._adopt(null, false));
      this.loaded = true;
      for (const handler of this._statusHandlers) handler("ready");
    }

    addListener(listener) {
      this._listeners.add(listener);
      listener(this._resources());
      return () => this._listeners.delete(listener);
    }

    _resources() {
      return { client: this.client, session: this.session, user: this.user, organization: this.organization };
    }

    _emit() {
      const resources = this._resources();
      for (const listener of this._listeners) listener(resources);
      for (const render of this._mounted.values()) render();
    }

    /** `state`: {sessionId, user: {id, name, identifier, memberships: [{id, name, slug, role}]}, orgId}. */
    async _adopt(state, emit = true) {
      this._tokens.clear();
      if (state) localStorage.setItem(STORE, JSON.stringify(state));
      else localStorage.removeItem(STORE);
      if (!state) {
        this.session = null;
        this.user = null;
        this.organization = null;
        this.client = { id: "client_standin", sessions: [], signedInSessions: [], lastActiveSessionId: null };
      } else {
        const memberships = state.user.memberships.map((m) => ({
          id: `orgmem_${m.id}`,
          role: `org:${m.role}`,
          permissions: [],
          organization: { id: m.id, name: m.name, slug: m.slug, imageUrl: "", hasImage: false },
        }));
        this.user = {
          id: state.user.id,
          fullName: state.user.name,
          firstName: state.user.name,
          lastName: null,
          username: state.user.identifier,
          primaryEmailAddress: { emailAddress: state.user.identifier },
          imageUrl: "",
          hasImage: false,
          organizationMemberships: memberships,
        };
        const active = memberships.find((m) => m.organization.id === state.orgId);
        this.organization = active ? active.organization : null;
        const clerk = this;
        this.session = {
          id: state.sessionId,
          status: "active",
          user: this.user,
          actor: null,
          factorVerificationAge: null,
          lastActiveOrganizationId: this.organization ? this.organization.id : null,
          lastActiveToken: null,
          getToken: (options) => clerk._getToken(options),
        };
        this.client = {
          id: "client_standin",
          sessions: [this.session],
          signedInSessions: [this.session],
          lastActiveSessionId: this.session.id,
        };
      }
      this._state = state;
      // Like Clerk, a session is never exposed without its first token: clerk-react reads the claims from
      // `session.lastActiveToken` (and treats a session without them as an invalid state).
      if (state) await this._getToken({ skipCache: true });
      if (emit) this._emit();
    }

    /** A session token for the active organization, from the Frontend API; cached until shortly before it expires. */
    async _getToken(options) {
      if (!this.session || !this._state) return null;
      const orgId = this.organization ? this.organization.id : "";
      const cached = this._tokens.get(orgId);
      if (cached && !(options && options.skipCache) && cached.exp - 10 > Date.now() / 1000) return cached.jwt;
      const { jwt, claims } = await api(`/v1/client/sessions/${this.session.id}/tokens`, {
        organization_id: orgId || null,
      });
      this._tokens.set(orgId, { jwt, exp: claims.exp });
      this.session.lastActiveToken = { jwt: { claims: { ...claims, __raw: jwt } }, getRawString: () => jwt };
      return jwt;
    }

    async _signIn(identifier) {
      const { session_id: sessionId, user } = await api("/v1/client/sign_ins", { identifier });
      await this._adopt({ sessionId, user, orgId: null });
    }

    async setActive({ organization } = {}) {
      if (!this._state) return;
      const id = typeof organization === "string" ? organization : organization ? organization.id : null;
      await this._adopt({ ...this._state, orgId: id });
    }

    async signOut() {
      await this._adopt(null);
      const target = this.options.afterSignOutUrl;
      if (target && new URL(target, location.href).pathname !== location.pathname) location.assign(target);
    }

    // Components: each mount renders into the node React gave it, and re-renders on every auth change.
    _mount(node, render) {
      node.setAttribute("data-clerk-standin", "");
      const paint = () => node.replaceChildren(...render());
      this._mounted.set(node, paint);
      paint();
    }

    _unmount(node) {
      this._mounted.delete(node);
      node.replaceChildren();
    }

    mountSignIn(node) {
      this._mount(node, () => {
        const input = el("input", {
          name: "identifier",
          autocomplete: "username",
          "aria-label": "Email address or username",
          placeholder: "Email address or username",
        });
        const error = el("p", { role: "alert", class: "cl-formFieldErrorText" });
        const form = el(
          "form",
          {
            class: "cl-card cl-signIn-root",
            onsubmit: (event) => {
              event.preventDefault();
              this._signIn(input.value.trim()).catch((err) => (error.textContent = err.message));
            },
          },
          el("h1", { class: "cl-headerTitle" }, "Sign in"),
          el("label", {}, "Email address or username", input),
          error,
          el("button", { type: "submit", class: "cl-formButtonPrimary" }, "Continue"),
        );
        return [form];
      });
    }

    unmountSignIn(node) {
      this._unmount(node);
    }

    mountUserButton(node) {
      let open = false;
      this._mount(node, () => {
        if (!this.user) return [];
        const trigger = el(
          "button",
          {
            type: "button",
            class: "cl-userButtonTrigger",
            "aria-label": "Open user button",
            "aria-expanded": String(open),
            onclick: () => {
              open = !open;
              this._mounted.get(node)();
            },
          },
          this.user.fullName || this.user.id,
        );
        if (!open) return [trigger];
        const menu = el(
          "div",
          { role: "menu", class: "cl-userButtonPopoverCard" },
          el("p", {}, this.user.primaryEmailAddress.emailAddress),
          el("button", { type: "button", role: "menuitem", onclick: () => void this.signOut() }, "Sign out"),
        );
        return [trigger, menu];
      });
    }

    unmountUserButton(node) {
      this._unmount(node);
    }

    mountOrganizationSwitcher(node, props) {
      let open = false;
      this._mount(node, () => {
        if (!this.user) return [];
        const current = this.organization ? this.organization.name : "Personal account";
        const trigger = el(
          "button",
          {
            type: "button",
            class: "cl-organizationSwitcherTrigger",
            "aria-label": "Open organization switcher",
            "aria-expanded": String(open),
            onclick: () => {
              open = !open;
              this._mounted.get(node)();
            },
          },
          current,
        );
        if (!open) return [trigger];
        const choose = (id) => () => {
          open = false;
          void this.setActive({ organization: id });
        };
        const items = [];
        if (!(props && props.hidePersonal)) {
          items.push(el("button", { type: "button", role: "menuitem", onclick: choose(null) }, "Personal account"));
        }
        for (const m of this.user.organizationMemberships) {
          items.push(el("button", { type: "button", role: "menuitem", onclick: choose(m.organization.id) }, m.organization.name));
        }
        return [trigger, el("div", { role: "menu", class: "cl-organizationSwitcherPopoverCard" }, ...items)];
      });
    }

    unmountOrganizationSwitcher(node) {
      this._unmount(node);
    }

    // <OrganizationSwitcher> asks clerk-js to prefetch its data; the stand-in already has it.
    __experimental_prefetchOrganizationSwitcher() {}
  }

  window.Clerk = new StandInClerk();
})();
