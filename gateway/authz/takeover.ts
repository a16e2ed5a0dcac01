import { Kind, parse, print, visit, type ConstDirectiveNode } from 'graphql';
import { AUTHORIZATION_SPEC_URLS, indexRequirements, linksOf, type RequirementIndex } from '../../lib/auth-directives.js';

export interface AuthorizationTakeover {
  /** The supergraph for @apollo/gateway: the authorization links no longer marked `for: SECURITY`. */
  readonly gatewaySdl: string;
  /** What the supergraph's authorization directives require, for the gateway's own enforcement. */
  readonly requirements: RequirementIndex;
  /** The specs taken over (empty when the supergraph uses none). */
  readonly features: readonly string[];
}

const TAKEN_OVER = Object.values(AUTHORIZATION_SPEC_URLS);

/**
 * @apollo/gateway refuses a supergraph linking @authenticated, @requiresScopes or @policy "for:
 * SECURITY" because it cannot enforce them. The gateway enforces them itself, so it reads them
 * here and hands @apollo/gateway the same supergraph with those three links' purpose removed.
 * Any other SECURITY or EXECUTION feature is left alone, so @apollo/gateway still refuses what
 * nobody enforces. Only gateway/authz/gateway.ts calls this, and it always installs enforcement.
 */
export function takeOverAuthorization(supergraphSdl: string): AuthorizationTakeover {
  const document = parse(supergraphSdl);
  const links = linksOf(document).filter((link) => link.for === 'SECURITY' && TAKEN_OVER.some((url) => link.url.startsWith(url)));
  if (links.length === 0) return { gatewaySdl: supergraphSdl, requirements: indexRequirements(document), features: [] };
  const nodes = new Set<ConstDirectiveNode>(links.map((l) => l.node));
  const rewritten = visit(document, {
    Directive(node) {
      if (!nodes.has(node as ConstDirectiveNode)) return undefined;
      return { ...node, arguments: (node.arguments ?? []).filter((arg) => !(arg.name.value === 'for' && arg.value.kind === Kind.ENUM)) };
    },
  });
  return { gatewaySdl: print(rewritten), requirements: indexRequirements(document), features: links.map((l) => l.url) };
}
