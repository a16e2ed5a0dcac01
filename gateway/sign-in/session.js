// The signed-in session of a gateway page (the sandbox, the usage page): who is signed in, and a
// valid access token for each request. Plain browser JavaScript, an ES module without a build step.
// The OAuth protocol is oauth4webapi's (served by the gateway from node_modules): the authorization
// code flow with PKCE as a public client (no secret in the page), against an issuer the gateway
// trusts and names in the page's #sign-in-config data block. In development mode without external
// issuers, the same block names the roles one may sign in as, with tokens from the gateway's
// development issuer.
//
// Tokens live in this tab's sessionStorage only (they survive the issuer's redirect and a reload,
// die with the tab), are renewed before they expire (a refresh token, or a new development token),
// and sign-out removes them. When a token can be neither used nor renewed, the session says so
// and asks the user to sign in again.
import * as oauth from './oauth4webapi.js';

/** The session of this tab, shared by the pages of this origin. */
const SESSION_KEY = 'dpg.sign-in.session.v1';
/** The PKCE verifier, state and nonce of a sign-in under way: written before the redirect, read once back. */
const PENDING_KEY = 'dpg.sign-in.pending.v1';
/** A token is renewed this long before it expires, or halfway through its life when that is shorter. */
export const RENEW_AHEAD_MS = 60_000;
/** A token this close to its expiry is not sent: the gateway's clock may be ahead of the browser's. */
const EXPIRY_MARGIN_MS = 5_000;
/** Lifetime assumed when the token response says none and the token is not a readable JWT. */
const DEFAULT_LIFETIME_S = 300;

/** A failure the page may show: a code and a sentence, never a stack. */
export class SignInError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'SignInError';
    this.code = code;
  }
}

/** The page's sign-in configuration: { issuers: [...], dev: { roles, tokenPath } | null }. */
export function readSignInConfig(doc = document) {
  const block = doc.getElementById('sign-in-config');
  const config = block ? JSON.parse(block.textContent || '{}') : {};
  return { issuers: Array.isArray(config.issuers) ? config.issuers : [], dev: config.dev || null };
}

/** sessionStorage when the browser allows it, else this page's memory (private modes, policies). */
function tabStorage() {
  const memory = new Map();
  const get = (key) => {
    try {
      return sessionStorage.getItem(key);
    } catch {
      return memory.has(key) ? memory.get(key) : null;
    }
  };
  const set = (key, value) => {
    try {
      sessionStorage.setItem(key, value);
    } catch {
      memory.set(key, value);
    }
  };
  const remove = (key) => {
    memory.delete(key);
    try {
      sessionStorage.removeItem(key);
    } catch {
      // Nothing stored there.
    }
  };
  return {
    read(key) {
      try {
        const value = JSON.parse(get(key) || 'null');
        return value && typeof value === 'object' ? value : null;
      } catch {
        return null;
      }
    },
    write: (key, value) => set(key, JSON.stringify(value)),
    remove,
  };
}

/** The payload of a JWT, read for display and expiry only (the gateway verifies tokens; the page never trusts them). */
function jwtPayload(token) {
  try {
    const part = token.split('.')[1];
    const binary = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    const payload = JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
    return payload && typeof payload === 'object' ? payload : {};
  } catch {
    return {};
  }
}

/** Roles as the gateway reads them by default: `roles`, else Keycloak's `realm_access.roles`. */
function rolesOf(payload) {
  const roles = Array.isArray(payload.roles) ? payload.roles : payload.realm_access && Array.isArray(payload.realm_access.roles) ? payload.realm_access.roles : [];
  return roles.filter((role) => typeof role === 'string');
}

/**
 * The session of this page. `redirectPath` is the page's own path, registered at the issuer as a
 * redirect URI (the issuer sends the user back there with the authorization code).
 */
export function createSession(config, { redirectPath }) {
  const storage = tabStorage();
  const listeners = new Set();
  const redirectUri = new URL(redirectPath, window.location.href).href;
  /** Discovery documents, fetched once per page view. */
  const metadata = new Map();
  let current = storage.read(SESSION_KEY);
  let notice = null;
  let renewing = null;
  let timer;

  const issuerOf = (id) => config.issuers.find((issuer) => issuer.issuer === id);
  // A session this page cannot renew (its issuer no longer offered, development sign-in gone) is forgotten.
  if (current && !(current.kind === 'dev' ? config.dev : issuerOf(current.issuer))) {
    storage.remove(SESSION_KEY);
    current = null;
  }
  let status = current ? 'signed-in' : 'signed-out';
  const protocolOptions = (issuer) => (issuer.insecure ? { [oauth.allowInsecureRequests]: true } : {});

  function snapshot() {
    return {
      status,
      notice,
      kind: current ? current.kind : null,
      label: current ? current.label : null,
      issuer: current ? current.issuer : null,
      roles: current ? current.roles : [],
      // Changes whenever the identity does (not when a token is renewed): pages re-read what depends on who is signed in.
      identity: current ? `${current.issuer} ${current.subject}` : null,
    };
  }

  function emit() {
    const view = snapshot();
    for (const listener of listeners) listener(view);
  }

  function schedule() {
    clearTimeout(timer);
    if (!current) return;
    const ahead = Math.min(RENEW_AHEAD_MS, Math.max(0, (current.expiresAt - current.issuedAt) / 2));
    timer = setTimeout(() => void renew(), Math.max(0, current.expiresAt - ahead - Date.now()));
  }

  function adopt(next) {
    current = next;
    storage.write(SESSION_KEY, next);
    status = 'signed-in';
    notice = null;
    schedule();
    emit();
  }

  function end(nextStatus, nextNotice) {
    clearTimeout(timer);
    current = null;
    storage.remove(SESSION_KEY);
    status = nextStatus;
    notice = nextNotice;
    emit();
  }

  /** A session from a token response: its lifetime from `expires_in`, else the token's `exp`. */
  function sessionFrom({ kind, issuer, accessToken, refreshToken, expiresIn, label, role }) {
    const now = Date.now();
    const payload = jwtPayload(accessToken);
    const lifetimeMs =
      typeof expiresIn === 'number' && expiresIn > 0 ? expiresIn * 1000 : typeof payload.exp === 'number' ? payload.exp * 1000 - now : DEFAULT_LIFETIME_S * 1000;
    return {
      kind,
      issuer,
      subject: typeof payload.sub === 'string' ? payload.sub : label,
      label: label || (typeof payload.sub === 'string' ? payload.sub : 'signed in'),
      roles: rolesOf(payload),
      role: role || null,
      accessToken,
      refreshToken: refreshToken || null,
      issuedAt: now,
      expiresAt: now + lifetimeMs,
    };
  }

  async function discover(issuer) {
    if (!metadata.has(issuer.issuer)) {
      const loading = (async () => {
        const url = new URL(issuer.issuer);
        const response = await oauth.discoveryRequest(url, { algorithm: 'oidc', ...protocolOptions(issuer) });
        const as = await oauth.processDiscoveryResponse(url, response);
        // The page's CSP lets it call the issuer's origin and nothing else.
        if (new URL(as.token_endpoint).origin !== url.origin) {
          throw new SignInError('TOKEN_ENDPOINT_ELSEWHERE', `The issuer's token endpoint is not on ${url.origin}, which is all this page may call.`);
        }
        return as;
      })();
      metadata.set(issuer.issuer, loading);
      loading.catch(() => metadata.delete(issuer.issuer));
    }
    return metadata.get(issuer.issuer);
  }

  async function devToken(role) {
    let response;
    try {
      response = await fetch(config.dev.tokenPath, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ role }),
        credentials: 'omit',
        cache: 'no-store',
      });
    } catch {
      throw new SignInError('NETWORK_ERROR', 'The gateway could not be reached.');
    }
    const body = await response.json().catch(() => null);
    if (!response.ok || !body || typeof body.access_token !== 'string') {
      const code = body && body.errors && body.errors[0] && body.errors[0].extensions ? body.errors[0].extensions.code : `HTTP_${response.status}`;
      throw new SignInError(code, 'The gateway refused a development sign-in.');
    }
    return sessionFrom({ kind: 'dev', issuer: 'development', accessToken: body.access_token, expiresIn: body.expires_in, label: `dev:${role}`, role });
  }

  /** A token response of the issuer as a session (the ID token, when there is one, names the user). */
  function oidcSession(issuer, result, previous) {
    let label = previous ? previous.label : null;
    const claims = result.id_token ? oauth.getValidatedIdTokenClaims(result) : undefined;
    if (claims) label = [claims.name, claims.preferred_username, claims.email, claims.sub].find((value) => typeof value === 'string' && value) || label;
    return sessionFrom({
      kind: 'oidc',
      issuer: issuer.issuer,
      accessToken: result.access_token,
      // Issuers that rotate refresh tokens send a new one; others keep the first.
      refreshToken: result.refresh_token || (previous ? previous.refreshToken : null),
      expiresIn: result.expires_in,
      label,
    });
  }

  async function refresh(previous) {
    const issuer = issuerOf(previous.issuer);
    if (!issuer) throw new SignInError('ISSUER_GONE', 'The gateway no longer offers this issuer.');
    const as = await discover(issuer);
    const client = { client_id: issuer.clientId };
    const extra = issuer.resource ? { additionalParameters: { resource: issuer.resource } } : {};
    const response = await oauth.refreshTokenGrantRequest(as, client, oauth.None(), previous.refreshToken, { ...protocolOptions(issuer), ...extra });
    return oidcSession(issuer, await oauth.processRefreshTokenResponse(as, client, response), previous);
  }

  /** Renews the token now: a refresh token, a new development token, or (neither possible) sign in again. */
  function renew() {
    renewing ??= (async () => {
      const previous = current;
      if (!previous) return;
      try {
        if (previous.kind === 'dev') adopt(await devToken(previous.role));
        else if (previous.refreshToken) adopt(await refresh(previous));
        else throw new SignInError('NO_REFRESH_TOKEN', 'The issuer gave no refresh token.');
      } catch (error) {
        // Still valid: keep it and try once more when it is about to end; else ask to sign in again.
        if (current === previous && Date.now() < previous.expiresAt - EXPIRY_MARGIN_MS) {
          clearTimeout(timer);
          timer = setTimeout(() => void renew(), Math.max(0, previous.expiresAt - EXPIRY_MARGIN_MS - Date.now()));
        } else if (current === previous) {
          end('expired', 'Your session has expired: sign in again.');
        }
        if (!(error instanceof SignInError) && !(error instanceof oauth.ResponseBodyError)) console.warn('sign-in: renewal failed', error);
      }
    })().finally(() => {
      renewing = null;
    });
    return renewing;
  }

  /** Back from the issuer with ?code= (or ?error=): trade the code for tokens, then clean the URL. */
  async function completeSignIn() {
    const url = new URL(window.location.href);
    if (!url.searchParams.has('code') && !url.searchParams.has('error')) return;
    const pending = storage.read(PENDING_KEY);
    storage.remove(PENDING_KEY);
    // The code is single-use and means nothing to the page once read: out of the address bar and history.
    window.history.replaceState(null, '', redirectUri);
    const issuer = pending ? issuerOf(pending.issuer) : undefined;
    if (!pending || !issuer) {
      end('signed-out', 'That sign-in was not started here (or this tab was reloaded in between): sign in again.');
      return;
    }
    status = 'busy';
    emit();
    try {
      const as = await discover(issuer);
      const client = { client_id: issuer.clientId };
      const params = oauth.validateAuthResponse(as, client, url, pending.state);
      const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, redirectUri, pending.verifier, protocolOptions(issuer));
      const result = await oauth.processAuthorizationCodeResponse(as, client, response, {
        expectedNonce: pending.nonce || undefined,
        requireIdToken: issuer.scopes.includes('openid'),
      });
      adopt(oidcSession(issuer, result, null));
    } catch (error) {
      end('signed-out', describe(error, 'Sign-in failed'));
    }
  }

  function describe(error, prefix) {
    if (error instanceof SignInError) return `${prefix}: ${error.message}`;
    if (error instanceof oauth.AuthorizationResponseError || error instanceof oauth.ResponseBodyError) {
      return `${prefix}: the issuer answered ${error.error}${error.error_description ? ` (${error.error_description})` : ''}.`;
    }
    console.warn('sign-in:', error);
    return `${prefix}: the issuer could not be reached or answered unexpectedly.`;
  }

  return {
    config,
    snapshot,
    /** Calls `listener(snapshot)` now and on every change; returns the unsubscribe function. */
    subscribe(listener) {
      listeners.add(listener);
      listener(snapshot());
      return () => listeners.delete(listener);
    },
    /** Finishes a sign-in the issuer sent the user back from, and keeps a restored session fresh. */
    async start() {
      if (current && Date.now() >= current.expiresAt - EXPIRY_MARGIN_MS) await renew();
      else schedule();
      await completeSignIn();
    },
    /** A token valid for at least a few seconds, renewed first if need be; null when signed out. */
    async accessToken() {
      if (renewing) await renewing;
      if (current && Date.now() >= current.expiresAt - EXPIRY_MARGIN_MS) await renew();
      return current ? current.accessToken : null;
    },
    /** The gateway refused the token (revoked, keys rotated): renew it, or ask to sign in again. */
    async rejected(token) {
      if (current && current.accessToken === token) {
        current = { ...current, expiresAt: Date.now() };
        await renew();
      }
    },
    /** Leaves for the issuer's sign-in page (the authorization request); comes back to this page. */
    async signInWith(issuerId) {
      const issuer = issuerOf(issuerId);
      if (!issuer) return;
      status = 'busy';
      notice = null;
      emit();
      try {
        const as = await discover(issuer);
        const verifier = oauth.generateRandomCodeVerifier();
        const state = oauth.generateRandomState();
        const nonce = issuer.scopes.includes('openid') ? oauth.generateRandomNonce() : null;
        const authorization = new URL(as.authorization_endpoint);
        const params = {
          client_id: issuer.clientId,
          redirect_uri: redirectUri,
          response_type: 'code',
          scope: issuer.scopes.join(' '),
          code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256',
          state,
          ...(nonce ? { nonce } : {}),
          ...(issuer.resource ? { resource: issuer.resource } : {}),
        };
        for (const [name, value] of Object.entries(params)) authorization.searchParams.set(name, value);
        storage.write(PENDING_KEY, { issuer: issuer.issuer, verifier, state, nonce });
        window.location.assign(authorization.href);
      } catch (error) {
        status = current ? 'signed-in' : 'signed-out';
        notice = describe(error, 'Sign-in failed');
        emit();
      }
    },
    /** Development sign-in: a token for the role from the gateway's development issuer. */
    async signInAs(role) {
      if (!config.dev) return;
      status = 'busy';
      notice = null;
      emit();
      try {
        adopt(await devToken(role));
      } catch (error) {
        status = current ? 'signed-in' : 'signed-out';
        notice = describe(error, 'Sign-in failed');
        emit();
      }
    },
    /** Forgets the tokens of this tab. */
    signOut() {
      storage.remove(PENDING_KEY);
      end('signed-out', null);
    },
  };
}
