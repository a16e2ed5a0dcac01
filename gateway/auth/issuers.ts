import { z } from 'zod';

/** Asymmetric JWS algorithms: the only ones a trusted issuer may use (never `none`, never HMAC). */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

export const DEFAULT_ROLES_CLAIMS = ['roles', 'realm_access.roles'] as const;
export const DEFAULT_SCOPES_CLAIMS = ['scope', 'scp'] as const;
export const DEFAULT_CLIENT_ID_CLAIMS = ['azp', 'client_id', 'cid'] as const;

const claimPath = z.string().regex(/^[A-Za-z0-9_$:-]+(?:\.[A-Za-z0-9_$:-]+)*$/, 'a dot-separated claim path such as realm_access.roles');

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
  })
  .strict();

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
