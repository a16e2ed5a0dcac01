import { Kind, type DocumentNode, type FragmentDefinitionNode, type OperationDefinitionNode, type SelectionNode, type SelectionSetNode } from 'graphql';

/** Refused while inlining: more field selections, once fragments are expanded, than allowed. */
export class OperationTooLargeError extends Error {
  override readonly name = 'OperationTooLargeError';
  constructor(readonly maximum: number) {
    super(`more than ${maximum} field selections after expanding fragments`);
  }
}

/**
 * The operation with every fragment spread replaced by an inline fragment (its type condition, the
 * spread's directives): one AST node per selection in context, which every analysis pass then walks
 * without knowing fragments exist. Expanding can multiply a document (a fragment spread ten times,
 * spreading another ten times, ...), so fields are counted as they are produced and the expansion
 * stops past `maxFields`, before the copy is ever built. Unknown fragments and cycles (which
 * validation refuses anyway) expand to nothing.
 */
export function inlineFragments(document: DocumentNode, operation: OperationDefinitionNode, maxFields: number): OperationDefinitionNode {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  let fields = 0;

  const inline = (set: SelectionSetNode, visiting: ReadonlySet<string>): SelectionSetNode => {
    const selections: SelectionNode[] = [];
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        if (++fields > maxFields) throw new OperationTooLargeError(maxFields);
        selections.push(selection.selectionSet ? { ...selection, selectionSet: inline(selection.selectionSet, visiting) } : selection);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        selections.push({ ...selection, selectionSet: inline(selection.selectionSet, visiting) });
      } else {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (!fragment || visiting.has(name)) continue;
        selections.push({
          kind: Kind.INLINE_FRAGMENT,
          typeCondition: fragment.typeCondition,
          directives: selection.directives ?? [],
          selectionSet: inline(fragment.selectionSet, new Set([...visiting, name])),
        });
      }
    }
    return { ...set, selections };
  };

  return { ...operation, selectionSet: inline(operation.selectionSet, new Set()) };
}
