import { Supergraph } from '@apollo/federation-internals';
import { CriticalityLevel, diff, type Change } from '@graphql-inspector/core';
import { parse, type GraphQLSchema } from 'graphql';
import semver from 'semver';
import { composeProducts } from '../compose.js';
import { classificationWarnings, formatClassificationWarning } from '../classification-lint.js';
import { formatLintProblem, lintSubgraphSchema } from '../schema-lint.js';

export type Severity = 'breaking' | 'dangerous' | 'safe';

/** What recorded usage says about one coordinate over the window. */
export interface CoordinateUsage {
  readonly requests: number;
  readonly clients: readonly { readonly name: string; readonly version: string | null; readonly requests: number }[];
}

/** An operation that read a coordinate in the window: what the change would break. */
export interface CoordinateOperation {
  readonly name: string;
  /** SHA-256 (hex) of its document; null for operations counted past the gateway's cap (`~other`). */
  readonly hash: string | null;
  readonly requests: number;
  readonly clients: readonly string[];
  readonly lastSeen: string;
}

export interface CheckedChange {
  readonly severity: Severity;
  readonly type: string;
  readonly message: string;
  /** The schema coordinate it touches, when it has one (`Type.field`, `Type.field(arg:)`). */
  readonly coordinate: string | undefined;
  /** Breaking changes only: recorded usage of the coordinate in the window (excluded clients left out). */
  readonly usage: CoordinateUsage | undefined;
  /** Breaking changes to a used coordinate only: the operations that read it in the window, which the change would break. */
  readonly operations: readonly CoordinateOperation[];
  /** Reasons this change blocks the proposal. */
  readonly blocks: readonly string[];
}

export interface SchemaCheckInput {
  subgraph: string;
  proposedSdl: string;
  /** Where the proposal was read from, to name it in lint problems. @default `schema/<subgraph>.graphql (proposed)` */
  proposedFile?: string;
  /** The product's version now (its descriptor). */
  currentVersion: string;
  /** The version the proposal would ship as. */
  proposedVersion: string;
  /** Usage of a coordinate in the window; undefined when nothing is known. */
  usageOf(coordinate: string): CoordinateUsage | undefined;
  /** The operations that read a coordinate in the window (excluded clients left out); asked only for breaking changes to used coordinates. @default none known */
  operationsOf?(coordinate: string): Promise<readonly CoordinateOperation[]>;
  /** A breaking change blocks only at or above this many requests in the window. @default 1 */
  minRequests?: number;
  windowLabel: string;
}

export interface SchemaCheckResult {
  readonly compositionErrors: readonly string[];
  /** The proposal's schema lint problems (scripts/schema-lint.ts), one line each; any of them blocks. */
  readonly lintProblems: readonly string[];
  /** Fields of the proposal named like personal data without @classification, one line each; they never block. */
  readonly warnings: readonly string[];
  readonly changes: readonly CheckedChange[];
  readonly blocked: boolean;
  readonly report: string;
}

function apiSchema(supergraphSdl: string): GraphQLSchema {
  return Supergraph.build(supergraphSdl, { supportedFeatures: null }).apiSchema().toGraphQLJSSchema();
}

/** graphql-inspector paths are `Type.field` or `Type.field.arg`; usage keys arguments as `Type.field(arg:)`. */
function coordinateOf(change: Change): string | undefined {
  if (!change.path) return undefined;
  const parts = change.path.split('.');
  if (parts.length === 3) return `${parts[0]}.${parts[1]}(${parts[2]}:)`;
  return change.path;
}

const describeClients = (usage: CoordinateUsage) =>
  usage.clients.map((c) => (c.version ? `${c.name} ${c.version}` : c.name)).join(', ');

/**
 * A proposed subgraph schema against the current supergraph and recorded usage: composes the
 * proposal with the other subgraphs, diffs the API schemas, classifies each change, and decides
 * whether it may ship: no breaking change to a field used in the window, no removal of a field
 * that was not deprecated first, and a major version for any breaking change.
 */
export async function checkSchemaChange(input: SchemaCheckInput): Promise<SchemaCheckResult> {
  const minRequests = input.minRequests ?? 1;
  const current = composeProducts();
  if (!current.supergraphSdl) throw new Error(`the current subgraphs do not compose: ${current.errors.join('; ')}`);
  const file = input.proposedFile ?? `schema/${input.subgraph}.graphql (proposed)`;
  const proposedDocument = parse(input.proposedSdl);
  const lintProblems = lintSubgraphSchema(proposedDocument).map((p) => formatLintProblem(file, p));
  const warnings = classificationWarnings(proposedDocument).map((w) => formatClassificationWarning(file, w));
  const proposed = composeProducts({ [input.subgraph]: input.proposedSdl });
  if (!proposed.supergraphSdl) {
    const report = [`# Schema check: ${input.subgraph}`, '', '**Blocked:** the proposal does not compose with the other subgraphs.', '', ...proposed.errors.map((e) => `- ${e}`), '', ...lintSection(lintProblems), ...warningSection(warnings)].join('\n');
    return { compositionErrors: proposed.errors, lintProblems, warnings, changes: [], blocked: true, report };
  }
  const before = apiSchema(current.supergraphSdl);
  const after = apiSchema(proposed.supergraphSdl);
  const rawChanges = await diff(before, after);
  const majorBump = semver.major(input.proposedVersion) > semver.major(input.currentVersion);
  const changes: CheckedChange[] = await Promise.all(rawChanges.map(async (change): Promise<CheckedChange> => {
    const severity: Severity = change.criticality.level === CriticalityLevel.Breaking ? 'breaking' : change.criticality.level === CriticalityLevel.Dangerous ? 'dangerous' : 'safe';
    const coordinate = coordinateOf(change);
    const blocks: string[] = [];
    let usage: CoordinateUsage | undefined;
    if (severity === 'breaking') {
      usage = coordinate ? (input.usageOf(coordinate) ?? { requests: 0, clients: [] }) : undefined;
      if (usage && usage.requests >= minRequests) blocks.push(`still used: ${usage.requests} requests from ${usage.clients.length} client(s) in ${input.windowLabel}`);
      if (change.type === 'FIELD_REMOVED' && coordinate) {
        const [type, field] = coordinate.split('.');
        const existing = (before.getType(type!) as { getFields?: () => Record<string, { deprecationReason?: string | null }> } | undefined)?.getFields?.()[field!];
        if (!existing?.deprecationReason) blocks.push('removed without being deprecated first');
      }
      if (!majorBump) blocks.push(`breaking without a major version (${input.currentVersion} -> ${input.proposedVersion})`);
    }
    const operations = coordinate && usage && usage.requests > 0 && input.operationsOf ? await input.operationsOf(coordinate) : [];
    return { severity, type: String(change.type), message: change.message, coordinate, usage, operations, blocks };
  }));
  const blocked = lintProblems.length > 0 || changes.some((c) => c.blocks.length > 0);
  return { compositionErrors: [], lintProblems, warnings, changes, blocked, report: report(input, changes, lintProblems, warnings, blocked) };
}

/** The house rules compose enforces (priced lists, guarded fields): a proposal breaking one cannot ship. */
function lintSection(problems: readonly string[]): string[] {
  const lines = [`## Schema lint (${problems.length})`, ''];
  if (problems.length === 0) return [...lines, 'None.', ''];
  return [...lines, ...problems.map((p) => `- ${p}. **Blocks.**`), ''];
}

/** Personal data without a classification: worth a look, never a block (names are only a hint). */
function warningSection(warnings: readonly string[]): string[] {
  const lines = [`## Personal data warnings (${warnings.length})`, ''];
  if (warnings.length === 0) return [...lines, 'None.', ''];
  return [...lines, ...warnings.map((w) => `- ${w}. Classify it with @classification, or ignore this if it is not personal data.`), ''];
}

function report(input: SchemaCheckInput, changes: readonly CheckedChange[], lintProblems: readonly string[], warnings: readonly string[], blocked: boolean): string {
  const lines = [`# Schema check: ${input.subgraph} ${input.currentVersion} -> ${input.proposedVersion}`, '', `Usage window: ${input.windowLabel}. Composition: ok.`, '', ...lintSection(lintProblems), ...warningSection(warnings)];
  const section = (title: string, severity: Severity) => {
    const selected = changes.filter((c) => c.severity === severity);
    lines.push(`## ${title} (${selected.length})`, '');
    if (selected.length === 0) lines.push('None.', '');
    for (const c of selected) {
      let line = `- ${c.message}`;
      if (c.usage) {
        line += c.usage.requests > 0
          ? `: ${c.usage.requests} requests from ${c.usage.clients.length} client${c.usage.clients.length === 1 ? '' : 's'} (${describeClients(c.usage)}) in ${input.windowLabel}`
          : `: no recorded use in ${input.windowLabel}`;
      }
      if (c.blocks.length) line += `. **Blocks:** ${c.blocks.join('; ')}`;
      lines.push(line);
      // The operations it would break, as app teams know them: name and document hash (their manifests' ids).
      for (const o of c.operations) {
        lines.push(`  - breaks operation \`${o.name}\`${o.hash ? ` (${o.hash.slice(0, 12)})` : ''}: ${o.requests} request${o.requests === 1 ? '' : 's'} from ${o.clients.join(', ')}, last ${o.lastSeen}`);
      }
    }
    if (selected.length) lines.push('');
  };
  section('Breaking changes', 'breaking');
  section('Dangerous changes', 'dangerous');
  section('Safe changes', 'safe');
  lines.push(blocked ? '**Verdict: blocked.**' : '**Verdict: safe to ship.**', '');
  return lines.join('\n');
}
