import fc from 'fast-check';
import { getNamedType, getNullableType, isCompositeType, isListType, isObjectType } from 'graphql';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { mintDevToken } from '../gateway/auth/dev-issuer.js';
import { loadConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/server.js';
import { ERROR_CODES, ERROR_STATUS, type ErrorCode } from '../lib/errors.js';
import { createLogger } from '../lib/logger.js';
import { startAbstractCatalog, type AbstractCatalog } from './helpers/abstract-catalog.js';
import { writeLimits } from './helpers/limits.js';
import { assertValidDocument, materialize, operationArbitraries, selectableFields, type GeneratedOperation, type MaterializedOperation, type Mode, type OperationArbitraries } from './helpers/operation-arbitraries.js';
import { createOracle, type Limit, type Measures, type OperationLimits, type Oracle } from './helpers/operation-oracle.js';
import { costQuota, describeHttpRequest, fitsInGet, remainingCost, sendOperations, type GraphQLBody, type RawResponse, type Transport } from './helpers/raw-requests.js';
import { startStack, SUPERGRAPH_FILE, type Stack } from './helpers/stack.js';
import { readAccessFile, readSupergraphFacts, type AccessFile, type SupergraphFacts } from './helpers/supergraph-facts.js';

/*
 * Issue 10's safety net: operations generated from the real supergraph, for every role of
 * policies/access.yaml and for anonymous callers, sent to one running stack (three data products
 * on PostgreSQL, the gateway with its in-process platform subgraph); the same over a small
 * catalogue with an interface and a union, which ours lack. Four properties, each over its own
 * mix of generated requests:
 *   1. authorization: no field the role may not read comes back non-null;
 *   2. errors: every error has a code of the closed set, no engine text, the right HTTP status;
 *   3. cost: the cost charged is never below the number of list items returned;
 *   4. limits: an operation over a limit is refused, never served.
 * Expectations come from the SDL's directives, access.yaml and the limits written below (see
 * helpers/operation-oracle.ts), not from the gateway's own analysis.
 *
 * Seeded, a fixed number of runs. A failure prints its seed and path and the request as sent;
 * replay it with PROPERTY_SEED=<seed> PROPERTY_PATH=<path> npx vitest run test/properties.test.ts -t '<subject> <property>'.
 * PROPERTY_RUNS: runs per property (authorization gets three times as many). PROPERTY_SURVEY=1:
 * do not stop at the first failure, list every class of violation found. PROPERTY_VERBOSE=1: print
 * what each property exercised.
 */

/** A safety net, not a measure: a property's runs take seconds, more on a loaded machine. */
const PROPERTY_TIMEOUT_MS = 180_000;
const SEED = Number(process.env.PROPERTY_SEED ?? 20_261_010);
const RUNS = Number(process.env.PROPERTY_RUNS ?? 200);
const PATH = process.env.PROPERTY_PATH;
const SURVEY = !!process.env.PROPERTY_SURVEY;
/** After the first failure, at most this many more requests are spent shrinking it (each candidate is one request). */
const SHRINK_BUDGET = Number(process.env.PROPERTY_SHRINK_BUDGET ?? 60);

/**
 * Smaller than production (policies/rate-limits.yaml) so that generated operations reach every
 * limit with small documents; defaultListSize as in production, since it prices real lists.
 */
const LIMITS: OperationLimits = { maxCost: 5000, defaultListSize: 10, maxDepth: 8, maxAliases: 12, maxDirectives: 15, maxTokens: 500, maxBatch: 4 };
/** Before every @sunset date of today's schema: a sunset is an expectation of its own (sunsetUsed). */
const NOW = Date.parse('2026-10-01T12:00:00Z');
const REFUSALS: ReadonlySet<string> = new Set(['OPERATION_LIMIT_EXCEEDED', 'COST_LIMIT_EXCEEDED']);
/** A healthy stack answering generated requests never has a reason for these. */
const NEVER: ReadonlySet<ErrorCode> = new Set(['INTERNAL_SERVER_ERROR', 'SUBGRAPH_ERROR', 'SUBGRAPH_UNAVAILABLE', 'SUBGRAPH_TIMEOUT', 'SERVICE_UNAVAILABLE', 'RATE_LIMITED', 'UNAUTHENTICATED']);

/** Text that belongs to the engine, the runtime or a library, never to a client-facing error. */
const LEAKS: readonly [string, RegExp][] = [
  ['stack overflow', /Maximum call stack/i],
  ['JavaScript error class', /\b(TypeError|ReferenceError|RangeError|SyntaxError|EvalError|URIError|AggregateError)\b/],
  ['JavaScript runtime message', /Cannot read propert|is not a function|is not iterable|undefined is not|Cannot convert undefined|Unexpected token .* in JSON/i],
  ['stack frame', /\n\s+at\s|\bat\s+\S+\s+\(?(?:file:|node:|\/)[^)\s]*:\d+:\d+/],
  ['dependency path', /node_modules|graphql-js|@apollo\/|federation-internals/i],
  ['file path', /file:\/\/|(?:\/[\w.@-]+){2,}\.(?:[cm]?[jt]s|json|sql|ya?ml)\b|\/(?:work|home|tmp|usr|opt|srv|app)\//],
  ['subgraph address', /https?:\/\/(?:127\.0\.0\.1|localhost|\[::1\])|:400[1-3]\b|ECONNREFUSED|ECONNRESET|ETIMEDOUT|socket hang up|fetch failed/i],
  ['SQL', /\bSELECT\b[\s\S]*\bFROM\b|\bINSERT INTO\b|syntax error at or near|relation ".*" does not exist|\bviolates\b.*constraint|\bpg_\w+/i],
];

interface PropertyRequest {
  readonly role: string | null;
  readonly transport: Transport;
  readonly operations: readonly GeneratedOperation[];
}

interface Prepared {
  readonly role: string | null;
  readonly transport: Transport;
  readonly operations: readonly {
    readonly generated: GeneratedOperation;
    readonly materialized: MaterializedOperation;
    readonly measures: Measures;
    readonly exceeded: readonly Limit[];
    readonly invalid: readonly string[];
    readonly sunset: readonly string[];
  }[];
}

interface Outcome {
  readonly response: RawResponse;
  /** Cost points this request took from its caller's budget; undefined when no RateLimit header said. */
  readonly charged: number | undefined;
}

/**
 * What the properties run against: a gateway and what the test knows about its supergraph. The
 * data products are the main subject; a small catalogue with interfaces and unions (which ours
 * lack) is the second.
 */
interface Subject {
  /** As in the describe block, for the replay hint. */
  readonly name: string;
  readonly url: string;
  readonly facts: SupergraphFacts;
  readonly oracle: Oracle;
  readonly general: OperationArbitraries;
  /**
   * The same generators for one caller, picking what the authorization property is about more
   * often: fields that role may not read six times, readable fields with a rule three times. Not
   * at the root: a denied root field is null with nothing under it to check (a non-null one nulls
   * all of `data`), so there only readable protected fields are favoured.
   */
  readonly forRole: (role: string | null) => OperationArbitraries;
  /** The same generators picking lists of objects four times as often: what the cost property counts. */
  readonly listsFirst: OperationArbitraries;
}

const access: AccessFile = readAccessFile(new URL('../policies/access.yaml', import.meta.url).pathname);
const roles: readonly (string | null)[] = [...Object.keys(access.roles), null];
let callers = 0;

function subjectOf(name: string, url: string, facts: SupergraphFacts): Subject {
  const oracle = createOracle(facts, access, LIMITS);
  const guarded = new Set(oracle.guardedCoordinates());
  const lists = new Set<string>();
  for (const type of Object.values(facts.schema.getTypeMap())) {
    if (!isObjectType(type)) continue;
    for (const field of selectableFields(facts.schema, type)) {
      if (isListType(getNullableType(field.type)) && isCompositeType(getNamedType(field.type))) lists.add(`${type.name}.${field.name}`);
    }
  }
  const root = `${facts.schema.getQueryType()!.name}.`;
  const byRole = new Map<string | null, OperationArbitraries>();
  return {
    name,
    url,
    facts,
    oracle,
    general: operationArbitraries(facts.schema, LIMITS),
    listsFirst: operationArbitraries(facts.schema, LIMITS, { emphasis: (coordinate) => (lists.has(coordinate) ? 4 : 1) }),
    forRole(role) {
      const known = byRole.get(role);
      if (known) return known;
      const made = operationArbitraries(facts.schema, LIMITS, {
        emphasis: (coordinate) => (!guarded.has(coordinate) ? 1 : oracle.mayRead(role, coordinate) ? 3 : coordinate.startsWith(root) ? 1 : 6),
        // Every field this role may not read, reached through fields it may: the whole matrix of test/authorization.test.ts, generated.
        targets: { coordinates: [...guarded].filter((c) => !oracle.mayRead(role, c)), through: (coordinate) => oracle.mayRead(role, coordinate) },
      });
      byRole.set(role, made);
      return made;
    },
  };
}

const PRODUCTS = 'the data products';
const CATALOGUE = 'a catalogue with interfaces and unions';

// A window longer than the test and budgets nobody reaches: what is charged is read, never refused.
const limitsFile = writeLimits({ windowSeconds: 86_400, anonymous: { requests: 1_000_000, cost: 1_000_000_000 }, default: { requests: 1_000_000, cost: 1_000_000_000 }, operation: LIMITS });
let stack: Stack;
let products: Subject;
let catalog: AbstractCatalog;
let catalogGateway: RunningGateway;
let abstract: Subject;

beforeAll(async () => {
  stack = await startStack({ customers: 60, env: { RATE_LIMITS_FILE: limitsFile, SUBGRAPH_TIMEOUT_MS: '30000' }, now: () => NOW });
  products = subjectOf(PRODUCTS, stack.url, readSupergraphFacts(SUPERGRAPH_FILE));
  catalog = await startAbstractCatalog();
  catalogGateway = await startGateway(loadConfig({ NODE_ENV: 'test', PORT: '0', LOG_LEVEL: 'silent', SUPERGRAPH: catalog.supergraphPath, RATE_LIMITS_FILE: limitsFile }), createLogger('test', 'silent'));
  abstract = subjectOf(CATALOGUE, catalogGateway.url, readSupergraphFacts(catalog.supergraphPath));
});

afterAll(async () => {
  await catalogGateway?.stop();
  await catalog?.stop();
  await stack?.stop();
});

/** How requests travel: mostly single POSTs; GET, batches and persisted queries besides. */
const TRANSPORTS: readonly Transport[] = ['post', 'post', 'post', 'post', 'get', 'get', 'batch', 'batch', 'apq'];

function requestArbitrary(
  subject: Subject,
  weights: Partial<Record<Mode, number>>,
  batch: { readonly max: number },
  transports: readonly Transport[] = TRANSPORTS,
  generators: (role: string | null) => OperationArbitraries = () => subject.general,
): fc.Arbitrary<PropertyRequest> {
  return fc
    .record({ role: fc.constantFrom(...roles), transport: fc.constantFrom<Transport>(...transports) })
    .chain(({ role, transport }) => {
      const operation = generators(role).operation(weights);
      return (transport === 'batch' ? fc.array(operation, { minLength: 2, maxLength: batch.max }) : operation.map((o) => [o])).map((operations) => ({ role, transport, operations }));
    })
    .map((request) => Object.assign(request, { [fc.toStringMethod]: () => describeRequest(prepare(subject, request)) }));
}

function prepare(subject: Subject, request: PropertyRequest): Prepared {
  const { schema } = subject.facts;
  const operations = request.operations.map((generated) => {
    const materialized = materialize(schema, generated.operation);
    const invalid = subject.oracle.validationErrors(materialized);
    // The rules a generated document may break on purpose (graphql-js's introspection depth, and
    // introspection the planner cannot serve); anything else is this test's bug.
    if (invalid.some((m) => m !== 'Maximum introspection depth exceeded' && !m.endsWith('is not served by the planner'))) assertValidDocument(schema, materialized.text);
    const measures = subject.oracle.measure(materialized);
    return { generated, materialized, measures, exceeded: subject.oracle.exceeded(measures), invalid, sunset: subject.oracle.sunsetUsed(materialized, NOW) };
  });
  const transport = request.transport === 'get' && !fitsInGet(operations[0]!.materialized) ? 'post' : request.transport;
  return { role: request.role, transport, operations };
}

function describeRequest(prepared: Prepared): string {
  const ops = prepared.operations.map((o, i) => `  #${i} ${o.generated.mode}/${o.generated.intent} ${JSON.stringify(o.measures)}${o.exceeded.length ? ` over: ${o.exceeded.join(',')}` : ''}${o.invalid.length ? ` invalid: ${o.invalid.join('; ')}` : ''}`);
  return `role=${prepared.role ?? 'anonymous'} ${describeHttpRequest(prepared.transport, prepared.operations.map((o) => o.materialized))}\n${ops.join('\n')}`;
}

async function probe(subject: Subject, token: string | undefined): Promise<RawResponse> {
  const typename = materialize(subject.facts.schema, { fragments: [], selections: [{ kind: 'field', name: '__typename', aliased: false, args: [], directives: [], selections: undefined }], extraVariables: {} });
  return sendOperations(subject.url, 'post', [typename], token);
}

/**
 * Sends the request as a caller of the role. What it was charged: every authenticated run is a
 * new caller (its budget starts at the policy's quota); anonymous callers share the loopback
 * address, so a probe (`{ __typename }`, cost 0) reads the balance before. A batch's RateLimit
 * header is whichever of its operations answered last, so a probe after reads the balance then.
 */
async function execute(subject: Subject, prepared: Prepared): Promise<Outcome> {
  callers += 1;
  const token = prepared.role === null ? undefined : await mintDevToken({ roles: [prepared.role], clientId: `props-${process.pid}-${callers}`, subject: `props-${callers}` });
  const before = token ? undefined : remainingCost((await probe(subject, undefined)).headers);
  const response = await sendOperations(subject.url, prepared.transport, prepared.operations.map((o) => o.materialized), token);
  const after = prepared.transport === 'batch' ? (await probe(subject, token)).headers : response.headers;
  const start = before ?? costQuota(after);
  const left = remainingCost(after);
  return { response, charged: start === undefined || left === undefined ? undefined : start - left };
}

/** The GraphQL results of a response, one per operation; a batch refused as a whole is one result. */
function resultsOf(prepared: Prepared, response: RawResponse): { whole: boolean; results: readonly (GraphQLBody | undefined)[] } {
  const json = response.json;
  if (prepared.transport === 'batch' && Array.isArray(json)) return { whole: false, results: json as GraphQLBody[] };
  if (prepared.transport === 'batch') return { whole: true, results: [json as GraphQLBody | undefined] };
  return { whole: false, results: [json as GraphQLBody | undefined] };
}

function report(property: string, prepared: Prepared, outcome: Outcome, violations: readonly string[]): Error {
  const body = outcome.response.text.length > 2000 ? `${outcome.response.text.slice(0, 2000)}... (${outcome.response.text.length} characters)` : outcome.response.text;
  return new Error(
    [`${property}:`, ...violations.map((v) => `  - ${v}`), `request: ${describeRequest(prepared)}`, `response: HTTP ${outcome.response.status} ratelimit=${outcome.response.headers.get('ratelimit')} charged=${outcome.charged}`, body].join('\n'),
  );
}

/**
 * Counts what a property actually exercised (`tally('denied fields answered')`), so that it cannot
 * pass vacuously: runProperty's `coverage` asks for at least so many per run of each.
 */
type Tally = (what: string, n?: number) => void;
type Check = (prepared: Prepared, outcome: Outcome, tally: Tally) => string[];

interface Property {
  readonly name: string;
  readonly arbitrary: fc.Arbitrary<PropertyRequest>;
  /** Minimum of each tally per run. */
  readonly coverage: Readonly<Record<string, number>>;
  readonly check: Check;
  readonly runs: number;
}

/**
 * Runs a property: `runs` generated requests from SEED. After the first failure, shrinking is
 * bounded by SHRINK_BUDGET requests (candidates past it are skipped: the smallest failure found
 * so far is reported), so that a red run stays short. The message carries fast-check's seed and
 * path, the counterexample as an HTTP request, and what was wrong with its answer. A passing run
 * must also have exercised what it checks: at least `coverage[what]` per run of each tally.
 */
async function runProperty(subject: Subject, { name, arbitrary, coverage, check, runs }: Property): Promise<void> {
  const seen = new Map<string, number>();
  const tally: Tally = (what, n = 1) => void seen.set(what, (seen.get(what) ?? 0) + n);
  if (SURVEY) return survey(subject, name, arbitrary, check, runs, tally, seen);
  let failures = 0;
  let spentShrinking = 0;
  const property = fc.asyncProperty(arbitrary, async (request) => {
    if (failures > 0 && ++spentShrinking > SHRINK_BUDGET) return;
    const prepared = prepare(subject, request);
    const outcome = await execute(subject, prepared);
    const violations = check(prepared, outcome, tally);
    if (violations.length) {
      failures += 1;
      throw report(name, prepared, outcome, violations);
    }
  });
  const details = await fc.check(property, { seed: SEED, numRuns: runs, ...(PATH ? { path: PATH } : {}) });
  if (details.failed) {
    const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    throw new Error(
      `${name}: property failed after ${details.numRuns} run(s), shrunk ${details.numShrinks} time(s)\n` +
        `replay: PROPERTY_SEED=${details.seed} PROPERTY_PATH=${details.counterexamplePath} npx vitest run test/properties.test.ts -t '${subject.name} ${name}'\n\n${error}`,
    );
  }
  if (process.env.PROPERTY_VERBOSE) console.info(name, runs, 'runs', Object.fromEntries(seen));
  if (PATH) return; // one replayed request cannot cover anything
  const thin = Object.entries(coverage).filter(([what, perRun]) => (seen.get(what) ?? 0) < perRun * runs);
  if (thin.length) throw new Error(`${name}: passed without exercising enough in ${runs} runs: ${thin.map(([what, perRun]) => `${what} ${seen.get(what) ?? 0} (at least ${Math.ceil(perRun * runs)})`).join(', ')}`);
}

/**
 * PROPERTY_SURVEY=1: every run, no stopping at the first failure; violations grouped by class (the
 * message without its numbers and quoted text), each with its shortest request. For triage: what
 * fails, and in how many different ways.
 */
async function survey(subject: Subject, name: string, arbitrary: fc.Arbitrary<PropertyRequest>, check: Check, runs: number, tally: Tally, seen: ReadonlyMap<string, number>): Promise<void> {
  const classes = new Map<string, { count: number; example: string }>();
  await fc.assert(
    fc.asyncProperty(arbitrary, async (request) => {
      const prepared = prepare(subject, request);
      const outcome = await execute(subject, prepared);
      for (const violation of check(prepared, outcome, tally)) {
        const key = violation.replace(/"[^"]*"|`[^`]*`|#\d+|\d+(\.\d+)?/g, '_').replace(/:.*$/s, '').slice(0, 120);
        const example = report(name, prepared, outcome, [violation]).message;
        const known = classes.get(key);
        if (!known) classes.set(key, { count: 1, example });
        else classes.set(key, { count: known.count + 1, example: example.length < known.example.length ? example : known.example });
      }
    }),
    { seed: SEED, numRuns: runs },
  );
  if (process.env.PROPERTY_VERBOSE) console.info(name, runs, 'runs', Object.fromEntries(seen));
  if (classes.size) {
    const lines = [...classes].map(([key, { count, example }]) => `[${count}x] ${key}\n${example}`);
    throw new Error(`${name}: ${classes.size} class(es) of violation in ${runs} runs\n\n${lines.join('\n\n')}`);
  }
}

const codeOf = (error: { extensions?: Readonly<Record<string, unknown>> }): string => String(error.extensions?.code);
const hasData = (body: GraphQLBody | undefined): boolean => !!body && typeof body === 'object' && 'data' in body;
const limitOf = (limit: Limit): number => ({ depth: LIMITS.maxDepth, aliases: LIMITS.maxAliases, directives: LIMITS.maxDirectives, tokens: LIMITS.maxTokens, cost: LIMITS.maxCost })[limit];

/** 1. No field the role may not read comes back non-null; no FORBIDDEN for a field it may read. */
function authorization(subject: Subject, runs: number): Property {
  return {
    name: 'authorization',
    runs,
    arbitrary: requestArbitrary(subject, { targeted: 6, random: 4, costly: 1, introspection: 1, deep: 1, aliases: 1 }, { max: LIMITS.maxBatch }, TRANSPORTS, (role) => subject.forRole(role)),
    // Measured: about 2 denied and 4 readable protected fields per run on the data products, 0.6 and 0.8 on the catalogue.
    coverage: { 'denied fields answered': 0.25, 'readable protected fields answered': 0.25 },
    check(prepared, { response }, tally) {
      const violations: string[] = [];
      const { whole, results } = resultsOf(prepared, response);
      if (whole) return violations;
      results.forEach((body, i) => {
        const op = prepared.operations[i];
        if (!op || !body || typeof body !== 'object') return;
        const { leaks, denied, readableProtected } = subject.oracle.authorization(prepared.role, op.materialized, body.data);
        tally('denied fields answered', denied);
        tally('readable protected fields answered', readableProtected);
        for (const leak of leaks) violations.push(`#${i} ${prepared.role ?? 'anonymous'} got a value it may not read at ${leak}`);
        for (const error of body.errors ?? []) {
          const coordinate = error.extensions?.coordinate;
          if (codeOf(error) === 'FORBIDDEN' && typeof coordinate === 'string' && subject.oracle.mayRead(prepared.role, coordinate)) {
            violations.push(`#${i} FORBIDDEN for ${coordinate}, which ${prepared.role ?? 'anonymous'} may read`);
          }
        }
      });
      return violations;
    },
  };
}

/** 2. Codes of the closed set, no engine text, the status of the code; input errors answered as such. */
function errors(subject: Subject, runs: number): Property {
  return {
    name: 'errors',
    runs,
    arbitrary: requestArbitrary(subject, { random: 3, costly: 1, deep: 1, aliases: 1, directives: 1, tokens: 1, introspection: 1, 'invalid-input': 3, hostile: 3 }, { max: LIMITS.maxBatch + 2 }, [...TRANSPORTS, 'apq-mismatch']),
    // Measured on the data products: about 1.2 errors and 0.4 operations with invalid input per run.
    coverage: { 'errors checked': 0.3, 'input errors expected': 0.1 },
    check(prepared, { response }, tally) {
      const violations: string[] = [];
      if (response.json === undefined || typeof response.json !== 'object' || response.json === null) return [`the body is not a JSON object or array: ${response.text.slice(0, 200)}`];
      const { whole, results } = resultsOf(prepared, response);
      results.forEach((body, i) => {
        const op = whole ? undefined : prepared.operations[i];
        if (!body || typeof body !== 'object') return void violations.push(`#${i} no result`);
        const errors = body.errors ?? [];
        tally('errors checked', errors.length);
        for (const error of errors) {
          const code = codeOf(error);
          if (!(ERROR_CODES as readonly string[]).includes(code)) violations.push(`#${i} code ${code} is not in the closed set (message: ${String(error.message).slice(0, 200)})`);
          const text = `${String(error.message)} ${JSON.stringify(error.extensions ?? {})}`;
          for (const [what, pattern] of LEAKS) if (pattern.test(text)) violations.push(`#${i} ${what} in an error: ${text.slice(0, 300)}`);
          if (NEVER.has(code as ErrorCode)) violations.push(`#${i} ${code} for a generated request on a healthy stack: ${String(error.message).slice(0, 200)}`);
        }
        if (op && prepared.transport === 'apq-mismatch') {
          // The hash is not the query's: a malformed request, refused before anything runs.
          tally('input errors expected');
          const codes = errors.map(codeOf);
          // A document over a limit checked before parsing (nesting, tokens) may be refused for that first: both are refusals.
          const refusedFirst = op.exceeded.length > 0 || op.generated.mode === 'hostile';
          const allowed = new Set(['BAD_REQUEST', ...(refusedFirst ? REFUSALS : [])]);
          if (hasData(body) || codes.length === 0 || !codes.every((c) => allowed.has(c))) violations.push(`#${i} a persisted query whose hash is not its query's answered with ${codes.join(',') || 'no error'} (expected BAD_REQUEST)`);
        } else if (op) {
          const codes = new Set(errors.map(codeOf));
          if (op.generated.intent === 'valid') {
            const allowed = new Set(['FORBIDDEN', 'BAD_USER_INPUT', ...REFUSALS, ...(op.sunset.length ? ['FIELD_SUNSET'] : []), ...(op.invalid.length ? ['GRAPHQL_VALIDATION_FAILED'] : [])]);
            for (const code of codes) if (!allowed.has(code) && !NEVER.has(code as ErrorCode)) violations.push(`#${i} ${code} for a valid operation`);
          } else {
            // Invalid or hostile input: an input error, whatever the value looks like; never a failure. Hostile
            // nesting is bounded before parsing (issue 10, defect 6): OPERATION_LIMIT_EXCEEDED is its clear 400.
            tally('input errors expected');
            const nestingRefused = op.generated.intent === 'hostile' && (body.errors ?? []).some((e) => codeOf(e) === 'OPERATION_LIMIT_EXCEEDED' && /^(nesting|valueNesting)$/.test(String(e.extensions?.limit)));
            const allowed = new Set(['BAD_USER_INPUT', 'GRAPHQL_VALIDATION_FAILED', 'FORBIDDEN', ...(nestingRefused ? ['OPERATION_LIMIT_EXCEEDED'] : [])]);
            for (const code of codes) if (!allowed.has(code) && !NEVER.has(code as ErrorCode)) violations.push(`#${i} ${code} for ${op.generated.intent} input (expected BAD_USER_INPUT)`);
            const root = op.materialized.selections.find((s) => s.kind === 'field');
            const readable = root?.kind === 'field' && subject.oracle.mayRead(prepared.role, `${subject.facts.schema.getQueryType()!.name}.${root.name}`);
            if (readable && !nestingRefused && !codes.has('BAD_USER_INPUT') && !codes.has('GRAPHQL_VALIDATION_FAILED')) violations.push(`#${i} ${op.generated.intent} input answered without BAD_USER_INPUT (codes: ${[...codes].join(',') || 'none'})`);
          }
        }
        // A whole-request refusal has the status of its code (one of them, when field errors ride along); a result with data is 200.
        if (prepared.transport !== 'batch' || whole) {
          const statuses: number[] = errors.map((e) => ERROR_STATUS[codeOf(e) as ErrorCode]).filter((x) => x !== undefined);
          if (hasData(body)) {
            if (response.status !== 200) violations.push(`HTTP ${response.status} for a result with data`);
          } else if (errors.length === 0) {
            violations.push('neither data nor errors');
          } else if (!statuses.includes(response.status)) {
            violations.push(`HTTP ${response.status} for a refusal with ${errors.map(codeOf).join(',')} (their statuses: ${statuses.join(',')})`);
          }
        }
      });
      return violations;
    },
  };
}

/** 3. The cost charged is never below the number of list items returned. */
function cost(subject: Subject, runs: number): Property {
  return {
    name: 'cost',
    runs,
    arbitrary: requestArbitrary(subject, { random: 3, costly: 4, introspection: 2, aliases: 1 }, { max: LIMITS.maxBatch }, TRANSPORTS, () => subject.listsFirst),
    // Measured on the data products: about 0.4 per run.
    coverage: { 'responses with list items': 0.1 },
    check(prepared, { response, charged }, tally) {
      const { whole, results } = resultsOf(prepared, response);
      if (whole) return [];
      let items = 0;
      const byList = new Map<string, number>();
      const overPriced = new Map<string, { returned: number; priced: number }>();
      results.forEach((body, i) => {
        const op = prepared.operations[i];
        if (!op || !body || !hasData(body)) return;
        const counted = subject.oracle.listItems(op.materialized, body.data);
        items += counted.total;
        for (const [list, n] of counted.byList) byList.set(list, (byList.get(list) ?? 0) + n);
        for (const [list, o] of counted.overPriced) overPriced.set(list, o);
      });
      if (items === 0) return [];
      tally('responses with list items');
      if (charged === undefined) return [`${items} list items served, but no RateLimit header says what was charged`];
      if (charged >= items) return [];
      // Which lists outgrew their price (by the README's rules), and where the charge fell short.
      const culprits = [...overPriced].map(([l, o]) => `${l} (${o.returned} returned, priced as ${o.priced})`).sort();
      const lists = [...byList].map(([l, n]) => `${l} ${n}`).join(', ');
      const modelCost = prepared.operations.reduce((sum, o) => sum + o.measures.cost, 0);
      const why = culprits.length
        ? `lists larger than their price ${culprits.map((c) => c.replace(/ \(.*/, '')).join(', ')}`
        : charged < modelCost
          ? "charged less than the README's rules price it"
          : "more items than even the README's rules price";
      return [`charged below the list items returned, ${why}: ${culprits.join(', ')} charged ${charged} for ${items} items (${lists}); cost by the README's rules: ${prepared.operations.map((o) => o.measures.cost).join(' + ')}`];
    },
  };
}

/** 4. An operation over a limit (or a batch over its size) is refused with 400, never served. */
function limits(subject: Subject, runs: number): Property {
  return {
    name: 'limits',
    runs,
    arbitrary: requestArbitrary(subject, { deep: 3, aliases: 3, directives: 2, tokens: 2, costly: 3, introspection: 3, random: 1 }, { max: LIMITS.maxBatch + 2 }),
    // Measured on the data products: about 0.45 and 0.08 per run.
    coverage: { 'operations over a limit': 0.15, 'batches over the limit': 0.02 },
    check(prepared, { response }, tally) {
      const violations: string[] = [];
      const { whole, results } = resultsOf(prepared, response);
      if (prepared.transport === 'batch' && prepared.operations.length > LIMITS.maxBatch) {
        tally('batches over the limit');
        const body = results[0];
        if (!whole) violations.push(`a batch of ${prepared.operations.length} (limit ${LIMITS.maxBatch}) was run`);
        else if (response.status !== 400 || hasData(body) || (body?.errors ?? []).map(codeOf).join() !== 'OPERATION_LIMIT_EXCEEDED') violations.push(`a batch of ${prepared.operations.length} not refused with 400 OPERATION_LIMIT_EXCEEDED`);
        return violations;
      }
      if (whole) return [`a batch within the limit was refused as a whole: HTTP ${response.status}`];
      results.forEach((body, i) => {
        const op = prepared.operations[i];
        if (!op || op.generated.intent !== 'valid' || op.exceeded.length === 0) return;
        tally('operations over a limit');
        const over = op.exceeded.map((l) => `${l} ${op.measures[l]} > ${limitOf(l)}`).join(', ');
        const refusals = new Set([...REFUSALS, ...(op.invalid.length ? ['GRAPHQL_VALIDATION_FAILED'] : []), ...(op.sunset.length ? ['FIELD_SUNSET'] : [])]);
        const codes = (body?.errors ?? []).map(codeOf);
        if (!body || hasData(body) || codes.length === 0) violations.push(`#${i} served although over ${op.exceeded.join(' and ')}: ${over} (codes: ${codes.join(',') || 'none'})`);
        else if (!codes.every((c) => refusals.has(c))) violations.push(`#${i} over ${op.exceeded.join(' and ')} but refused with ${codes.join(',')}: ${over}`);
        if (prepared.transport !== 'batch' && response.status !== 400) violations.push(`#${i} over ${op.exceeded.join(' and ')}: HTTP ${response.status}, not 400: ${over}`);
      });
      return violations;
    },
  };
}

describe('properties over generated operations (issue 10)', () => {
  describe(PRODUCTS, () => {
    // Authorization is the cheapest per run, and a leak may concern one role and one field only: three times the runs.
    it('authorization: no field the role may not read comes back non-null', () => runProperty(products, authorization(products, 3 * RUNS)), PROPERTY_TIMEOUT_MS);
    it('errors: codes of the closed set, no engine text, the status of the code', () => runProperty(products, errors(products, RUNS)), PROPERTY_TIMEOUT_MS);
    it('cost: the cost charged is never below the list items returned', () => runProperty(products, cost(products, RUNS)), PROPERTY_TIMEOUT_MS);
    it('limits: an operation over a limit is refused, never served', () => runProperty(products, limits(products, RUNS)), PROPERTY_TIMEOUT_MS);
  });

  // Ours have no interface or union; a catalogue that has both, with rules on their members, so
  // that the properties also hold through `... on`. Smaller, so fewer runs.
  describe(CATALOGUE, () => {
    it('authorization: no field the role may not read comes back non-null', () => runProperty(abstract, authorization(abstract, RUNS)), PROPERTY_TIMEOUT_MS);
    it('errors: codes of the closed set, no engine text, the status of the code', () => runProperty(abstract, errors(abstract, Math.ceil(RUNS / 2))), PROPERTY_TIMEOUT_MS);
    it('cost: the cost charged is never below the list items returned', () => runProperty(abstract, cost(abstract, Math.ceil(RUNS / 2))), PROPERTY_TIMEOUT_MS);
    it('limits: an operation over a limit is refused, never served', () => runProperty(abstract, limits(abstract, Math.ceil(RUNS / 2))), PROPERTY_TIMEOUT_MS);
  });
});
