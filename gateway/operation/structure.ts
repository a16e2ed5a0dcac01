import { visit, type OperationDefinitionNode } from 'graphql';

/** How an operation is built, for the structural limits. */
export interface Structure {
  /** Deepest field nesting: root fields are depth 1; introspection and __typename count like any field. */
  readonly depth: number;
  /** Fields selected under an alias, introspection and __typename included. */
  readonly aliases: number;
  /** Directives applied anywhere in the operation (a fragment's count once per place it is used). */
  readonly directives: number;
  /** Selects `__schema` or `__type` at the root. */
  readonly introspection: boolean;
}

/** The structure pass, over an operation whose fragments are inlined. */
export function structureOf(operation: OperationDefinitionNode): Structure {
  let level = 0;
  let depth = 0;
  let aliases = 0;
  let directives = operation.directives?.length ?? 0;
  let introspection = false;
  visit(operation.selectionSet, {
    Field: {
      enter(node) {
        level += 1;
        depth = Math.max(depth, level);
        if (node.alias) aliases += 1;
        directives += node.directives?.length ?? 0;
        if (level === 1 && (node.name.value === '__schema' || node.name.value === '__type')) introspection = true;
      },
      leave() {
        level -= 1;
      },
    },
    InlineFragment(node) {
      directives += node.directives?.length ?? 0;
    },
  });
  return { depth, aliases, directives, introspection };
}
