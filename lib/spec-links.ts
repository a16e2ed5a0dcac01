import { Kind, type ConstArgumentNode, type ConstDirectiveNode, type ConstValueNode, type DocumentNode } from 'graphql';

/** Federation's own spec: subgraphs import its directives (`@key`, `@requiresScopes`, `@cost`, ...). */
export const FEDERATION_URL = 'https://specs.apollo.dev/federation/';

export interface LinkInfo {
  readonly node: ConstDirectiveNode;
  readonly url: string;
  readonly as: string | undefined;
  readonly for: string | undefined;
  readonly imports: readonly { name: string; as: string | undefined }[];
}

/** Every `@link` applied to the schema (definition or extensions). */
export function linksOf(document: DocumentNode): LinkInfo[] {
  const links: LinkInfo[] = [];
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.SCHEMA_DEFINITION && definition.kind !== Kind.SCHEMA_EXTENSION) continue;
    for (const directive of definition.directives ?? []) {
      if (directive.name.value !== 'link') continue;
      const args = argumentsOf(directive.arguments);
      const url = args.get('url');
      if (url?.kind !== Kind.STRING) continue;
      const imports: { name: string; as: string | undefined }[] = [];
      const list = args.get('import');
      if (list?.kind === Kind.LIST) {
        for (const item of list.values) {
          if (item.kind === Kind.STRING) imports.push({ name: item.value, as: undefined });
          if (item.kind === Kind.OBJECT) {
            const fields = new Map(item.fields.map((f) => [f.name.value, f.value]));
            const name = fields.get('name');
            const as = fields.get('as');
            if (name?.kind === Kind.STRING) imports.push({ name: name.value, as: as?.kind === Kind.STRING ? as.value : undefined });
          }
        }
      }
      const as = args.get('as');
      const purpose = args.get('for');
      links.push({
        node: directive,
        url: url.value,
        as: as?.kind === Kind.STRING ? as.value : undefined,
        for: purpose?.kind === Kind.ENUM ? purpose.value : undefined,
        imports,
      });
    }
  }
  return links;
}

/**
 * The names a spec's directive goes by in this document, following the link spec: the spec's
 * root directive (same name as the spec, e.g. `@cost` of .../cost/v0.1) is `@<as or spec name>`;
 * an imported one is its import name (or `as`); any other is `@<as or spec name>__<directive>`.
 * Several links to the same spec (or the same directive through federation) add up.
 */
export function directiveLocalNames(document: DocumentNode, specUrlPrefix: string, directive: string): Set<string> {
  const names = new Set<string>();
  const specName = specUrlPrefix.replace(/\/+$/, '').split('/').pop() ?? '';
  for (const link of linksOf(document)) {
    if (!link.url.startsWith(specUrlPrefix)) continue;
    const prefix = link.as ?? specName;
    if (directive === specName) {
      names.add(prefix);
      continue;
    }
    names.add(`${prefix}__${directive}`);
    const imported = link.imports.find((i) => i.name === `@${directive}`);
    if (imported) names.add((imported.as ?? imported.name).replace(/^@/, ''));
  }
  return names;
}

export function argumentsOf(args: readonly ConstArgumentNode[] | undefined): Map<string, ConstValueNode> {
  return new Map((args ?? []).map((a) => [a.name.value, a.value]));
}
