/** Who is asking. Built once per request (gateway: from the bearer token; subgraph: from the gateway's identity token). */
export type Principal =
  | { readonly kind: 'anonymous'; readonly roles: ReadonlySet<string>; readonly scopes: ReadonlySet<string> }
  | {
      readonly kind: 'authenticated';
      readonly issuer: string;
      readonly subject: string;
      /** The OAuth client the token was issued to (azp / client_id), when the token says. */
      readonly clientId: string | undefined;
      readonly roles: ReadonlySet<string>;
      /** Effective scopes: the token's own plus those its roles grant in policies/access.yaml. */
      readonly scopes: ReadonlySet<string>;
    };

export const ANONYMOUS: Principal = Object.freeze({ kind: 'anonymous', roles: new Set<string>(), scopes: new Set<string>() });
