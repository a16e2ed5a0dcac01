import { ApolloGateway, type GatewayConfig } from '@apollo/gateway';
import type { GatewayExecutor, GatewayGraphQLRequestContext, GatewayInterface } from '@apollo/server-gateway-interface';
import type { DocumentNode, GraphQLError } from 'graphql';
import { requestError } from '../../lib/errors.js';
import { activeTracer, ATTR, markFailed } from '../../lib/tracing/tracer.js';
import { REALM } from '../auth/authenticate.js';
import type { AccessPolicies } from '../../lib/policies.js';
import type { Principal } from '../../lib/principal.js';
import type { OperationState } from '../context.js';
import type { AuditGate } from '../../lib/classification/model.js';
import { validateTreatments } from '../../lib/classification/policy.js';
import type { Pseudonymizer } from '../../lib/classification/pseudonym.js';
import { decideAccess, filteredOperation, forbiddenFieldError, restoreNulls } from './enforce.js';
import { createIntrospectionSplitter, executeIntrospection, mergeData } from './introspection.js';
import type { IntrospectionViews } from './introspection-views.js';
import { takeOverAuthorization } from './takeover.js';
import { applyTreatments, treatmentPlan } from './treat.js';

export type AuthorizationMode = 'filter' | 'reject';

export interface AuthorizationOptions {
  policies: AccessPolicies;
  /** filter: denied fields are removed and null with FORBIDDEN errors; reject: the whole operation is refused (403). */
  mode: AuthorizationMode;
  allowAnonymousIntrospection: boolean;
  /** Where the request's principal is in the context. */
  principalOf(context: unknown): Principal;
  /** Where the operation's state is in the context: its analysis is read, the denied fields written. */
  stateOf(context: unknown): OperationState | undefined;
  /** Called once per denied field (metrics). */
  onDenied?: (coordinate: string) => void;
  /** Wraps the execution of what authorization allowed, after each caller's own decision (execution sharing). */
  aroundExecution?: (execute: GatewayExecutor) => GatewayExecutor;
  /** Makes the pseudonyms of `pseudonymized` treatments (PSEUDONYM_KEY). */
  pseudonyms: Pseudonymizer;
  /** The audit trail's gate: audited classified fields are refused (AUDIT_UNAVAILABLE) while it is closed and not accepting. */
  audit?: AuditGate;
  /**
   * INTROSPECTION_VIEW=granted: `__schema` and `__type` are answered from the caller's view of the
   * schema. Undefined: from the full API schema, by @apollo/gateway.
   */
  introspection?: IntrospectionViews;
}

export interface AuthorizedGateway {
  readonly gateway: GatewayInterface;
  /** The authorization specs this gateway took over from @apollo/gateway and enforces. */
  readonly features: readonly string[];
}

/**
 * @apollo/gateway over a supergraph whose authorization directives the gateway enforces itself,
 * before planning. This is the only place the taken-over supergraph is handed to @apollo/gateway,
 * and it is always wrapped by the enforcing executor.
 */
export function createAuthorizedGateway(supergraph: string | DocumentNode, config: Omit<GatewayConfig, 'supergraphSdl'>, options: AuthorizationOptions): AuthorizedGateway {
  const takeover = takeOverAuthorization(supergraph);
  // masked and pseudonymized values are strings: a policy file that would put one in a field of
  // another type stops the gateway here, naming the file, the entry and the field.
  validateTreatments(options.policies, takeover.document);
  const inner = new ApolloGateway({
    ...config,
    supergraphSdl: takeover.gatewaySdl,
    // @apollo/gateway's spans (exported when tracing is on) never carry the document or an error's
    // message: both may quote a caller's values. Its defaults say the same; this keeps them so.
    telemetry: { includeDocument: false, recordExceptions: false },
  } as GatewayConfig);
  const enforce = enforcer(options);
  const gateway: GatewayInterface = {
    onSchemaLoadOrUpdate: (callback) => inner.onSchemaLoadOrUpdate(callback),
    stop: () => inner.stop(),
    async load(loadOptions) {
      const loaded = await inner.load(loadOptions);
      const executor = loaded.executor;
      if (!executor) throw new Error('@apollo/gateway loaded without an executor');
      return { ...loaded, executor: enforce(options.aroundExecution ? options.aroundExecution(executor) : executor) };
    },
  };
  return { gateway, features: takeover.features };
}

/** At most this many denied coordinates are named on the authorization span. */
const MAX_TRACED_COORDINATES = 20;

function enforcer(options: AuthorizationOptions) {
  const enforce = enforcement(options);
  const tracer = activeTracer();
  if (!tracer) return enforce;
  // Traced: the decision (which fields, what is removed) is one span; @apollo/gateway's
  // gateway.request span, which plans and executes what is left, follows it.
  return (execute: GatewayExecutor): GatewayExecutor =>
    async (context) => {
      const span = tracer.startSpan('authorization', { attributes: { [ATTR.AUTHZ_MODE]: options.mode } });
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        const denied = options.stateOf(context.context)?.denied ?? [];
        span.setAttribute(ATTR.AUTHZ_DENIED, denied.length);
        if (denied.length) span.setAttribute(ATTR.AUTHZ_DENIED_COORDINATES, [...new Set(denied.map((d) => d.field.coordinate))].slice(0, MAX_TRACED_COORDINATES));
        span.end();
      };
      // The span ends when execution starts (or the operation is answered without it).
      const decided = enforce((filtered) => {
        end();
        return execute(filtered);
      });
      try {
        return await decided(context);
      } catch (error) {
        if (!ended) markFailed(span, error);
        throw error;
      } finally {
        end();
      }
    };
}

function enforcement(options: AuthorizationOptions) {
  const splitIntrospection = createIntrospectionSplitter();
  return (execute: GatewayExecutor): GatewayExecutor =>
    async (context) => {
      // The analysis stage resolved the operation before anything executes; the executor only reads it.
      const state = options.stateOf(context.context);
      if (!state?.resolved) throw new Error('operation executed without its analysis');
      const { analysis, variables } = state.resolved;
      const principal = options.principalOf(context.context);
      if (analysis.introspection && principal.kind === 'anonymous' && !options.allowAnonymousIntrospection) {
        return { errors: [requestError('UNAUTHENTICATED', 'Introspection requires authentication', {}, { 'www-authenticate': `Bearer realm="${REALM}"` })] };
      }
      const { denied, treated, classified } = decideAccess(analysis, principal, options.policies, variables, options.audit);
      // Written forward for the audit trail: every classified field selected, with what the caller got.
      state.classified = classified;
      // Granted introspection: the view answers `__schema`/`__type`, @apollo/gateway the rest (if any).
      const view = analysis.introspection ? options.introspection?.viewOf(principal) : undefined;
      const split = view ? splitIntrospection(analysis) : undefined;
      if (view && split && !split.remote) return executeIntrospection(view, split, variables);
      if (denied.length === 0 && treated.length === 0 && !split) return execute(context);

      for (const d of denied) options.onDenied?.(d.field.coordinate);
      // Written forward for usage and metrics: which fields were denied, and how many errors say so.
      state.denied = denied;
      // Rejected whole: the same errors, with the HTTP status of FORBIDDEN and no data.
      if (options.mode === 'reject' && denied.length > 0) {
        const errors = dedupe(denied.map((d) => forbiddenFieldError(d, { rejectsRequest: true })));
        state.forbiddenErrors = errors.length;
        return { errors };
      }
      const errors = dedupe(denied.map((d) => forbiddenFieldError(d)));
      state.forbiddenErrors = errors.length;
      if (denied.some((d) => d.field.target.kind === 'root')) return { data: null, errors };
      // Treatments apply to the result, never to what the data products are asked: they see the
      // operation as it is (minus denied fields), so their shields check the same treatment.
      const plan = treated.length ? treatmentPlan(analysis, treated) : undefined;
      const typed = plan?.typedPaths ?? [];
      const filtered = denied.length || typed.length || split ? filteredOperation(analysis, denied, context.queryHash, typed, split?.removed) : undefined;
      const [result, local] = await Promise.all([
        execute(filtered ? ({ ...context, document: filtered.document, queryHash: filtered.queryHash, operation: filtered.document.definitions[0] } as GatewayGraphQLRequestContext) : context),
        view && split ? executeIntrospection(view, split, variables) : undefined,
      ]);
      let data = result.data;
      if (data) {
        if (plan) data = applyTreatments(data, plan, options.pseudonyms);
        if (filtered) restoreNulls(data, filtered);
        if (local && split) data = mergeData(split.keys, local.data, data);
      }
      const allErrors = [...errors, ...(local?.errors ?? []), ...(result.errors ?? [])];
      return {
        ...result,
        ...(data !== result.data ? { data } : {}),
        ...(allErrors.length ? { errors: allErrors } : {}),
        // Pseudonyms join only with pseudonyms of the same key: the response names it.
        ...(plan?.pseudonymizes ? { extensions: { ...result.extensions, pseudonymKeyId: options.pseudonyms.keyId } } : {}),
      };
    };
}

function dedupe(errors: GraphQLError[]): GraphQLError[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const key = `${e.path?.join('.')}|${String(e.extensions.coordinate)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
