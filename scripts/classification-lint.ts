import { Kind, type DocumentNode, type FieldDefinitionNode } from 'graphql';
import { classificationDirectiveNames } from '../lib/classification/index.js';

/**
 * A warning, not a rule: a field named like personal data without `@classification` is probably
 * an oversight (nobody masks, pseudonymizes or audits it), but names are only a hint, so
 * `npm run compose` and `npm run schema:check` print it and go on.
 */
export interface ClassificationWarning {
  /** `Type.field`. */
  readonly coordinate: string;
  readonly message: string;
}

/**
 * Words that name personal data in a field name, matched on the name's camelCase words joined back
 * (`contactEmail`, `dateOfBirth`, `homeAddress`, `mobilePhone`, `lastName`).
 */
const PERSONAL_NAME = /e-?mail|phone|mobile|birth|address|street|postcode|postal|zipcode|passport|iban|ssn|surname|(?:first|last|full|given|family|middle|maiden|nick)name/i;

/**
 * A bare `name` (or `preferredName`, `displayName`, ...) is everywhere (products, segments, rules):
 * it counts only on a type that already holds personal data (a classified field, or another field
 * named like personal data).
 */
const BARE_NAME = /^(?:name|[a-z]\w*Name)$/;

/** Every unclassified field named like personal data, in document order. */
export function classificationWarnings(document: DocumentNode): ClassificationWarning[] {
  const names = classificationDirectiveNames(document);
  const classified = (field: FieldDefinitionNode) => (field.directives ?? []).some((d) => names.has(d.name.value));
  const byType = new Map<string, FieldDefinitionNode[]>();
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OBJECT_TYPE_DEFINITION && definition.kind !== Kind.OBJECT_TYPE_EXTENSION && definition.kind !== Kind.INTERFACE_TYPE_DEFINITION && definition.kind !== Kind.INTERFACE_TYPE_EXTENSION) continue;
    const fields = byType.get(definition.name.value) ?? [];
    fields.push(...(definition.fields ?? []));
    byType.set(definition.name.value, fields);
  }
  const warnings: { at: number; warning: ClassificationWarning }[] = [];
  for (const [type, fields] of byType) {
    const holdsPersonalData = fields.some((f) => classified(f) || PERSONAL_NAME.test(f.name.value));
    for (const field of fields) {
      if (classified(field)) continue;
      const name = field.name.value;
      if (!PERSONAL_NAME.test(name) && !(holdsPersonalData && BARE_NAME.test(name))) continue;
      warnings.push({
        at: field.loc?.start ?? 0,
        warning: { coordinate: `${type}.${name}`, message: 'named like personal data but has no @classification (nothing masks, pseudonymizes or audits it)' },
      });
    }
  }
  return warnings.sort((a, b) => a.at - b.at).map((w) => w.warning);
}

/** One line per warning: `schema/platform.graphql: DataProductOwner.email: ...`. */
export function formatClassificationWarning(file: string, warning: ClassificationWarning): string {
  return `${file}: ${warning.coordinate}: ${warning.message} [CLASSIFICATION_MISSING]`;
}
