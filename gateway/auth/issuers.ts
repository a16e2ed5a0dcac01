import { z } from 'zod';

/** Asymmetric JWS algorithms: the only ones a trusted issuer may use (never `none`, never HMAC). */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

export const DEFAULT_ROLES_CLAIMS = ['roles', 'realm_access.roles'] as const;
export const DEFAULT_SCOPES_CLAIMS = ['scope', 'scp'] as const;
export const DEFAULT_CLIENT_ID_CLAIMS = ['azp', 'client_id', 'cid'] as const;

const claimPath = z.string().regex(/^[A-Za-z0-9_$:-]+(?:\.[A-Za-z0-9_$:-]+)*$/, 'a dot-separated claim path such as realm_access.roles');

/** An OAuth scope token (RFC 6749 section 3.3): printable ASCII without spaces, quotes or backslashes. */
const scopeToken = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'browserClient.scopes: each an OAuth scope such as openid (no spaces, quotes or backslashes)');

/** Scopes a browser client asks for when none are configured: an ID token, whose claims name the signed-in user. */
export const DEFAULT_BROWSER_SCOPES = ['openid'] as const;

/**
 * How the sandbox and the usage page sign users in at this issuer: the authorization code flow with
 * PKCE, as a public client (a page cannot keep a secret, so it has none).
 */
const browserClientSchema = z
  .object({
    /** The public client registered at the issuer, with `<gateway>/graphql` and `<gateway>/usage` as redirect URIs. */
    clientId: z.string().min(1, 'browserClient.clientId: the id of the public client registered at the issuer').max(256, 'browserClient.clientId: at most 256 characters'),
    /** Scopes requested at sign-in; `offline_access` (where the issuer wants it) gets a refresh token. */
    scopes: z.array(scopeToken).min(1, 'browserClient.scopes: at least one scope (openid by default)').default([...DEFAULT_BROWSER_SCOPES]),
    /** RFC 8707 resource indicator sent with the authorization request, for issuers that need one to issue the gateway's audience. */
    resource: z.string().url('browserClient.resource: an absolute URI (RFC 8707)').optional(),
  })
  .strict();

export type BrowserClientConfig = z.infer<typeof browserClientSchema>;

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

const issuerSchema = z
  .object({
    /** Exact `iss` value; also the base for discovery (`<issuer>/.well-known/openid-configuration`). */
    issuer: z.string().url(),
    /** Accepted `aud` values: a token must name at least one. */
    audiences: z.array(z.string().min(1)).min(1),
    /** Skips discovery and reads keys here. */
    jwksUri: z.string().url().optional(),
    algorithms: z.array(z.enum(ASYMMETRIC_ALGORITHMS)).min(1).default([...ASYMMETRIC_ALGORITHMS]),
    /** Where roles are: the first path holding an array of strings wins. */
    rolesClaims: z.array(claimPath).min(1).default([...DEFAULT_ROLES_CLAIMS]),
    /** Where scopes are: a space-separated string or an array of strings. */
    scopesClaims: z.array(claimPath).min(1).default([...DEFAULT_SCOPES_CLAIMS]),
    clientIdClaims: z.array(claimPath).min(1).default([...DEFAULT_CLIENT_ID_CLAIMS]),
    /** Lets the sandbox and the usage page sign users in here; absent: this issuer is trusted for tokens only. */
    browserClient: browserClientSchema.optional(),
  })
  .strict()
  .superRefine((issuer, ctx) => {
    // A page's tokens travel to the token endpoint: only over TLS, unless the issuer is on this very machine.
    // Refinements run even when a field failed (the issuer's own URL issue is reported already).
    if (!issuer.browserClient || !URL.canParse(issuer.issuer)) return;
    const url = new URL(issuer.issuer);
    if (url.protocol !== 'https:' && !LOOPBACK_HOSTS.has(url.hostname)) {
      ctx.addIssue({ code: 'custom', path: ['browserClient'], message: `sign-in in the browser needs an https issuer (or a loopback one), got ${issuer.issuer}` });
    }
  });

export type IssuerConfig = z.infer<typeof issuerSchema>;

/** OIDC_ISSUERS: a JSON array of trusted issuers. */
export const issuersSchema = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'not valid JSON (expected an array of issuers)' });
      return z.NEVER;
    }
  })
  .pipe(z.array(issuerSchema))
  .refine((list) => new Set(list.map((i) => i.issuer)).size === list.length, 'each issuer may appear once');
