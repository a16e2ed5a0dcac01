import { createHash } from 'node:crypto';
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { context, SpanKind, trace, type Tracer } from '@opentelemetry/api';
import { activeTracer, ATTR, inSpan, markFailed, SEMCONV } from '../../lib/tracing/tracer.js';
import type { Db, Row } from './db.js';

/*
 * How a data product continues the gateway's trace below its HTTP server span (lib/tracing/http.ts):
 * the GraphQL operation it was asked for on that span, a span per DataLoader batch and per SQL
 * statement. Statements are named by what they do and to which table (`SELECT customer.customers`)
 * and a hash of their text; their parameters (ids, emails, cursors) are never recorded.
 */

/** The operation the gateway sent (its name and type) and the codes of the errors answered, on the request's span. */
export function operationSpanPlugin<TContext extends BaseContext>(): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      const span = trace.getActiveSpan();
      if (!span) return;
      return {
        async didResolveOperation({ operationName, operation }) {
          span.setAttributes({
            ...(operationName ? { [ATTR.GRAPHQL_OPERATION_NAME]: operationName } : {}),
            ...(operation ? { [ATTR.GRAPHQL_OPERATION_TYPE]: operation.operation } : {}),
          });
        },
        async willSendResponse({ response }) {
          // Masked already (lib/error-mask.ts): codes from the closed set only.
          const errors = response.body.kind === 'single' ? response.body.singleResult.errors : undefined;
          if (errors?.length) span.setAttribute(ATTR.ERROR_CODES, [...new Set(errors.map((e) => String(e.extensions?.code ?? 'INTERNAL_SERVER_ERROR')))]);
        },
      };
    },
  };
}

/**
 * A DataLoader batch function that runs in a span of its own (`dataloader <name>`, with the number
 * of keys), so its statement is its child. Without tracing it is `batch` itself.
 */
export function tracedBatch<K, V>(name: string, batch: (keys: readonly K[]) => Promise<readonly (V | Error)[]>): (keys: readonly K[]) => Promise<readonly (V | Error)[]> {
  const tracer = activeTracer();
  if (!tracer) return batch;
  return (keys) => {
    // Batches outside a traced request (none today) stay untraced rather than start traces of their own.
    if (!trace.getSpan(context.active())?.isRecording()) return batch(keys);
    return inSpan(tracer, `dataloader ${name}`, { [ATTR.LOADER_NAME]: name, [ATTR.LOADER_BATCH_SIZE]: keys.length }, () => batch(keys));
  };
}

/**
 * The same database, with a CLIENT span per statement run inside a traced request. Statements run
 * outside one (readiness probes, quality checks, migrations) are not traced: they would each start
 * a trace nobody asked for.
 */
export function tracedDb(inner: Db, tracer: Tracer | undefined = activeTracer()): Db {
  if (!tracer) return inner;
  const facts = new StatementFacts();
  return {
    kind: inner.kind,
    query<T extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<T[]> {
      const parent = context.active();
      if (!trace.getSpan(parent)?.isRecording()) return inner.query<T>(sql, params);
      const statement = facts.of(sql);
      return tracer.startActiveSpan(statement.summary, { kind: SpanKind.CLIENT, attributes: statement.attributes }, parent, async (span) => {
        try {
          const rows = await inner.query<T>(sql, params);
          span.setAttribute(ATTR.DB_RETURNED_ROWS, rows.length);
          return rows;
        } catch (error) {
          // error.type is the SQLSTATE (57014 for a statement timeout), never the message, which may quote a value.
          markFailed(span, error);
          throw error;
        } finally {
          span.end();
        }
      });
    },
    exec: (sql) => inner.exec(sql),
    close: () => inner.close(),
  };
}

/** Statements are the code's own constants (values are always bound): a few dozen distinct texts. This bounds the cache anyway. */
const MAX_CACHED_STATEMENTS = 500;

interface Statement {
  readonly summary: string;
  readonly attributes: Readonly<Record<string, string>>;
}

/** What a statement's spans say about it, worked out once per distinct text. */
class StatementFacts {
  private readonly cache = new Map<string, Statement>();

  of(sql: string): Statement {
    let facts = this.cache.get(sql);
    if (!facts) {
      facts = describeStatement(sql);
      if (this.cache.size >= MAX_CACHED_STATEMENTS) this.cache.clear();
      this.cache.set(sql, facts);
    }
    return facts;
  }
}

/**
 * `SELECT customer.customers`: the statement's first keyword and the first table it reads or writes
 * (the semantic conventions' db.query.summary), and a short hash of its text that tells apart
 * statements with the same summary.
 */
export function describeStatement(sql: string): Statement {
  const operation = /^\s*([A-Za-z]+)/.exec(sql)?.[1]?.toUpperCase() ?? 'QUERY';
  const table = /\b(?:FROM|INTO|UPDATE|JOIN)\s+("?[A-Za-z_][\w$]*"?(?:\."?[A-Za-z_][\w$]*"?)?)/i.exec(sql)?.[1]?.replace(/"/g, '');
  const summary = table ? `${operation} ${table}` : operation;
  return {
    summary,
    attributes: {
      [SEMCONV.DB_SYSTEM_NAME]: SEMCONV.DB_SYSTEM_NAME_VALUE_POSTGRESQL,
      [SEMCONV.DB_OPERATION_NAME]: operation,
      ...(table ? { [SEMCONV.DB_COLLECTION_NAME]: table } : {}),
      [SEMCONV.DB_QUERY_SUMMARY]: summary,
      [ATTR.DB_STATEMENT_HASH]: createHash('sha256').update(sql).digest('hex').slice(0, 16),
    },
  };
}
