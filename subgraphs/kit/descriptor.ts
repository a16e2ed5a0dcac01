import { Kind, parse, type DocumentNode } from 'graphql';
import semver from 'semver';
import { z } from 'zod';
import { fromPackageRoot } from '../../lib/package-root.js';
import { describeIssues, readYamlFile } from '../../lib/yaml-file.js';
import type { ProductName } from './data-product.js';

/**
 * A data product's descriptor (the data product spec): who owns it, which version it is at, what
 * it promises (SLA, access, quality) and how to use it (example operations). One file per product,
 * subgraphs/<name>/descriptor.yaml, validated at start: a mistake names the file and the field.
 */
const coordinate = z.string().regex(/^[A-Z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$/, 'a schema coordinate such as Customer.email');

const rule = z.discriminatedUnion('check', [
  z.object({ name: z.string().min(1), field: coordinate, check: z.literal('notNull'), description: z.string().optional() }).strict(),
  z.object({ name: z.string().min(1), field: coordinate, check: z.literal('unique'), description: z.string().optional() }).strict(),
  z.object({ name: z.string().min(1), field: coordinate, check: z.literal('email'), description: z.string().optional() }).strict(),
  z
    .object({ name: z.string().min(1), field: coordinate, check: z.literal('range'), min: z.number(), max: z.number(), description: z.string().optional() })
    .strict()
    .refine((r) => r.min <= r.max, 'min must not exceed max'),
]);

/**
 * Most entries of each list a descriptor may hold: the catalogue's lists are priced from these
 * (`@listSize(assumedSize:)` in schema/platform.graphql), so they are limits, not guesses.
 */
export const DESCRIPTOR_LIMITS = { accessRoles: 50, qualityRules: 50, exampleOperations: 20, storedFields: 100, events: 20 } as const;

export const descriptorSchema = z
  .object({
    apiVersion: z.literal('dataproducts/v1'),
    kind: z.literal('DataProduct'),
    metadata: z
      .object({
        name: z.string().regex(/^[a-z][a-z0-9-]*$/),
        domain: z.string().min(1),
        owner: z.object({ team: z.string().min(1), email: z.string().email() }).strict(),
        version: z.string().refine((v) => semver.valid(v) === v, 'a semantic version such as 1.4.0'),
      })
      .strict(),
    spec: z
      .object({
        description: z.string().min(20, 'describe the product in a sentence or two'),
        sla: z
          .object({
            availability: z.number().gt(0).max(100),
            latencyP95Ms: z.number().int().positive(),
            freshnessMinutes: z.number().int().positive(),
          })
          .strict(),
        accessRoles: z.array(z.string().min(1)).min(1).max(DESCRIPTOR_LIMITS.accessRoles),
        qualityRules: z.array(rule).max(DESCRIPTOR_LIMITS.qualityRules).default([]),
        exampleOperations: z
          .array(z.object({ name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), description: z.string().min(1), query: z.string().min(1) }).strict())
          .max(DESCRIPTOR_LIMITS.exampleOperations)
          .default([]),
        /** The event streams it publishes (contracts beside its GraphQL types and REST views): NATS subjects `dpg.<product>.<event>.v<major>`. */
        events: z
          .array(
            z
              .object({
                subject: z.string().regex(/^dpg\.[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*\.v[0-9]+$/, 'a subject such as dpg.finance.transaction-created.v1'),
                name: z.string().regex(/^[A-Z][A-Za-z0-9]*$/, 'an event name such as TransactionCreated'),
                version: z.string().refine((v) => semver.valid(v) === v, 'a semantic version such as 1.0.0'),
                description: z.string().min(1),
              })
              .strict(),
          )
          .max(DESCRIPTOR_LIMITS.events)
          .default([]),
      })
      .strict(),
  })
  .strict();

export type DataProductDescriptor = z.infer<typeof descriptorSchema>;
export type QualityRule = DataProductDescriptor['spec']['qualityRules'][number];

export class DescriptorError extends Error {
  override readonly name = 'DescriptorError';
}

export function descriptorFile(product: ProductName): string {
  return fromPackageRoot('subgraphs', product, 'descriptor.yaml');
}

export interface DescriptorContext {
  /** The product the file belongs to: metadata.name must match. */
  product: string;
  /** The product's SDL: quality rules must name its fields. */
  contract?: DocumentNode;
  /** Roles of policies/access.yaml: accessRoles must be among them. */
  knownRoles?: ReadonlySet<string>;
}

export function loadDescriptor(file: string, context: DescriptorContext): DataProductDescriptor {
  return parseDescriptor(readYamlFile(file, (message) => new DescriptorError(message)), file, context);
}

export function parseDescriptor(raw: unknown, file: string, context: DescriptorContext): DataProductDescriptor {
  const parsed = descriptorSchema.safeParse(raw);
  if (!parsed.success) {
    throw new DescriptorError(describeIssues(file, parsed.error));
  }
  const descriptor = parsed.data;
  const problems: string[] = [];
  if (descriptor.metadata.name !== context.product) problems.push(`${file}: metadata.name: "${descriptor.metadata.name}" but the file belongs to the ${context.product} data product`);
  descriptor.spec.accessRoles.forEach((role, i) => {
    if (context.knownRoles && !context.knownRoles.has(role)) problems.push(`${file}: spec.accessRoles.${i}: unknown role "${role}" (see policies/access.yaml)`);
  });
  if (context.contract) {
    const fields = contractFields(context.contract);
    descriptor.spec.qualityRules.forEach((r, i) => {
      if (!fields.has(r.field)) problems.push(`${file}: spec.qualityRules.${i}.field: ${r.field} is not a field of the ${context.product} data product`);
    });
  }
  descriptor.spec.exampleOperations.forEach((op, i) => {
    try {
      parse(op.query);
    } catch (error) {
      problems.push(`${file}: spec.exampleOperations.${i}.query: does not parse (${(error as Error).message})`);
    }
  });
  descriptor.spec.events.forEach((event, i) => {
    const [, product, , major] = event.subject.split('.');
    if (product !== context.product) problems.push(`${file}: spec.events.${i}.subject: ${event.subject} is not under dpg.${context.product}.`);
    if (major !== `v${semver.major(event.version)}`) problems.push(`${file}: spec.events.${i}.subject: ends in ${major} but the version is ${event.version}`);
  });
  if (problems.length) throw new DescriptorError(problems.join('\n'));
  return descriptor;
}

function contractFields(contract: DocumentNode): Set<string> {
  const fields = new Set<string>();
  for (const definition of contract.definitions) {
    if ((definition.kind === Kind.OBJECT_TYPE_DEFINITION || definition.kind === Kind.OBJECT_TYPE_EXTENSION) && definition.fields) {
      for (const field of definition.fields) fields.add(`${definition.name.value}.${field.name.value}`);
    }
  }
  return fields;
}
