import { buildSchema as buildFederationSchema } from '@apollo/federation-internals';
import { GraphQLError, introspectionTypes, type ValidationRule } from 'graphql';

/**
 * graphql-js validates introspection fields that @apollo/gateway's query planner does not know
 * (its own copy of the introspection types is older: no `__Type.isOneOf`, no
 * `__Directive.isDeprecated`, no `__Schema.directives(includeDeprecated:)`, ...); the planner then
 * throws, and the caller would get a 500. This rule refuses them as validation errors instead.
 * The planner's set is read from @apollo/federation-internals itself, so an upgrade that adds a
 * field makes it valid here with no change.
 */
function plannerIntrospection(): ReadonlyMap<string, ReadonlySet<string>> {
  const schema = buildFederationSchema('type Query { _: Int }');
  const supported = new Map<string, Set<string>>();
  for (const type of introspectionTypes) {
    const planned = schema.type(type.name);
    const fields = new Set<string>();
    if (planned && 'fields' in planned) {
      for (const field of planned.fields()) {
        fields.add(field.name);
        if ('arguments' in field) for (const argument of field.arguments()) fields.add(`${field.name}(${argument.name}:)`);
      }
    }
    supported.set(type.name, fields);
  }
  return supported;
}

let supported: ReadonlyMap<string, ReadonlySet<string>> | undefined;

export const supportedIntrospectionRule: ValidationRule = (context) => {
  supported ??= plannerIntrospection();
  const known = supported;
  return {
    Field(node) {
      const parent = context.getParentType();
      const fields = parent ? known.get(parent.name) : undefined;
      if (!fields) return;
      const name = node.name.value;
      if (name === '__typename') return; // valid on every type, introspection's included
      const unknown = [name, ...(node.arguments ?? []).map((a) => `${name}(${a.name.value}:)`)].find((entry) => !fields.has(entry));
      if (unknown) context.reportError(new GraphQLError(`Introspection of ${parent!.name}.${unknown} is not supported by this gateway`, { nodes: [node] }));
    },
  };
};
