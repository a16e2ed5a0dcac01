import { Kind, parse, print, visit, type ConstDirectiveNode, type DocumentNode, type StringValueNode } from 'graphql';
import { isEmptyRequirement, type Requirement } from '../../lib/requirements.js';
import { AUTHORIZATION_SPEC_URLS, indexRequirements, type RequirementIndex } from '../../lib/auth-directives.js';
import { linksOf } from '../../lib/spec-links.js';
import { describeClassification, indexClassifications } from '../../lib/classification/index.js';
import type { Classification } from '../../lib/classification/model.js';

export interface AuthorizationTakeover {
  /** The supergraph for @apollo/gateway: the authorization links no longer marked `for: SECURITY`. */
  readonly gatewaySdl: string;
  /** What the supergraph's authorization directives require, for the gateway's own enforcement. */
  readonly requirements: RequirementIndex;
  /** The specs taken over (empty when the supergraph uses none). */
  readonly features: readonly string[];
  /** The supergraph as it was given, parsed. */
  readonly document: DocumentNode;
}

const TAKEN_OVER = Object.values(AUTHORIZATION_SPEC_URLS);

/**
 * @apollo/gateway refuses a supergraph linking @authenticated, @requiresScopes or @policy "for:
 * SECURITY" because it cannot enforce them. The gateway enforces them itself, so it reads them
 * here and hands @apollo/gateway the same supergraph with those three links' purpose removed.
 * Any other SECURITY or EXECUTION feature is left alone, so @apollo/gateway still refuses what
 * nobody enforces. Only gateway/authz/gateway.ts calls this, and it always installs enforcement.
 */
export function takeOverAuthorization(supergraph: string | DocumentNode): AuthorizationTakeover {
  const document = typeof supergraph === 'string' ? parse(supergraph) : supergraph;
  const supergraphSdl = typeof supergraph === 'string' ? supergraph : print(supergraph);
  const requirements = indexRequirements(document);
  const classifications = indexClassifications(document);
  const links = linksOf(document).filter((link) => link.for === 'SECURITY' && TAKEN_OVER.some((url) => link.url.startsWith(url)));
  if (links.length === 0 && classifications.size === 0) return { gatewaySdl: supergraphSdl, requirements, features: [], document };
  const nodes = new Set<ConstDirectiveNode>(links.map((l) => l.node));
  let typeName = '';
  const rewritten = visit(document, {
    Directive(node) {
      if (!nodes.has(node as ConstDirectiveNode)) return undefined;
      return { ...node, arguments: (node.arguments ?? []).filter((arg) => !(arg.name.value === 'for' && arg.value.kind === Kind.ENUM)) };
    },
    // The data dictionary says who may read what: the sandbox's docs show it next to each field.
    ObjectTypeDefinition: { enter: (node) => void (typeName = node.name.value), leave: (node) => withAccess(node, requirements.types.get(node.name.value), 'this type') },
    InterfaceTypeDefinition: { enter: (node) => void (typeName = node.name.value), leave: (node) => withAccess(node, requirements.types.get(node.name.value), 'this type') },
    FieldDefinition: (node) => {
      const coordinate = `${typeName}.${node.name.value}`;
      const classified = withClassification(node, classifications.get(coordinate));
      return withAccess(classified ?? node, requirements.fields.get(coordinate), 'this field') ?? classified;
    },
  });
  return { gatewaySdl: print(rewritten), requirements, features: links.map((l) => l.url), document };
}

/**
 * Appends "Classification: PII (EMAIL)." to a classified field's description: the data dictionary
 * says what kind of data a field holds before anyone reads it (before the "Access:" line).
 */
function withClassification<T extends { readonly description?: StringValueNode | undefined }>(node: T, classification: Classification | undefined): T | undefined {
  if (!classification) return undefined;
  const text = `Classification: ${describeClassification(classification)}.`;
  const description = node.description?.value ? `${node.description.value}\n\n${text}` : text;
  return { ...node, description: { kind: Kind.STRING, value: description, block: true } };
}

/** Appends "Access: ..." to a definition's description when a requirement applies to it. */
function withAccess<T extends { readonly description?: StringValueNode | undefined }>(node: T, requirement: Requirement | undefined, what: string): T | undefined {
  if (!requirement || isEmptyRequirement(requirement)) return undefined;
  const parts: string[] = [];
  for (const clause of requirement.scopes) parts.push(`scope ${clause.map((all) => all.join(' and ')).join(' or ')}`);
  for (const clause of requirement.policies) parts.push(`policy ${clause.map((all) => all.join(' and ')).join(' or ')}`);
  const text = parts.length ? `Access: reading ${what} needs ${parts.join(', and ')}.` : `Access: reading ${what} needs a signed-in caller.`;
  const description = node.description?.value ? `${node.description.value}\n\n${text}` : text;
  return { ...node, description: { kind: Kind.STRING, value: description, block: true } };
}
