import type { IncomingMessage, ServerResponse } from 'node:http';
import { once } from 'node:events';
import { errorBody, httpStatusOf, type ErrorCode } from '../../lib/errors.js';
import { HttpError, readBody, sendJson } from '../../lib/http.js';
import type { ExecutionScope } from '../engine.js';
import { sequenceOf } from './credentials.js';
import type { FeedItem, SubscriptionHub } from './hub.js';

/** Whether a request asks for GraphQL over Server-Sent Events (the graphql-sse protocol). */
export function wantsEventStream(req: IncomingMessage): boolean {
  return /(^|,)\s*text\/event-stream\s*(;|,|$)/i.test(req.headers.accept ?? '');
}

function parseJsonParam(value: string | null, name: string): Record<string, unknown> | undefined {
  if (value === null || value === '') return undefined;
  try {
    const parsed = JSON.parse(value) as unknown;
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new HttpError('BAD_REQUEST', `${name} must be a JSON object`);
}

interface SseRequest {
  query: string;
  variables?: Record<string, unknown> | undefined;
  operationName?: string | undefined;
  extensions?: Record<string, unknown> | undefined;
}

async function requestOf(req: IncomingMessage, maxBodyBytes: number): Promise<SseRequest> {
  const method = (req.method ?? 'GET').toUpperCase();
  if (method === 'GET') {
    const params = new URL(req.url ?? '/', 'http://gateway').searchParams;
    const query = params.get('query');
    if (!query) throw new HttpError('BAD_REQUEST', 'query is required');
    return { query, variables: parseJsonParam(params.get('variables'), 'variables'), operationName: params.get('operationName') ?? undefined, extensions: parseJsonParam(params.get('extensions'), 'extensions') };
  }
  if (method !== 'POST') throw new HttpError('METHOD_NOT_ALLOWED', 'Event streams are opened with GET or POST', { allow: 'GET, POST' });
  if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) throw new HttpError('UNSUPPORTED_MEDIA_TYPE', 'POST a JSON body (content-type: application/json)');
  let body: unknown;
  try {
    body = JSON.parse((await readBody(req, maxBodyBytes)).toString('utf8'));
  } catch (error) {
    if (error instanceof HttpError) throw error;
    throw new HttpError('BAD_REQUEST', 'Request body is not valid JSON');
  }
  const b = body as Partial<Record<keyof SseRequest, unknown>>;
  if (typeof body !== 'object' || body === null || typeof b.query !== 'string') throw new HttpError('BAD_REQUEST', 'query is required');
  const object = (value: unknown, name: string) => {
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
    throw new HttpError('BAD_REQUEST', `${name} must be a JSON object`);
  };
  return { query: b.query, variables: object(b.variables, 'variables'), operationName: typeof b.operationName === 'string' ? b.operationName : undefined, extensions: object(b.extensions, 'extensions') };
}

/** One Server-Sent Event: `id` (the stream sequence) when it is an event, data on one line (JSON has no raw newlines). */
function frame(item: FeedItem): string {
  if (item.kind === 'event') return `event: next\nid: ${item.id}\ndata: ${JSON.stringify(item.result)}\n\n`;
  return `event: next\ndata: ${JSON.stringify({ errors: [{ message: item.end.message, extensions: { code: item.end.code } }] })}\n\n`;
}

/**
 * GraphQL over Server-Sent Events, the graphql-sse protocol's distinct-connections mode: one
 * subscription per request (GET with query parameters or POST with a JSON body, and
 * `Accept: text/event-stream`), `next` events with each result and its id, a final `complete`.
 * `Last-Event-ID` (or `extensions.resumeAfter`) resumes after that event. A write the connection
 * cannot take yet is waited for ('drain') before the next event is resolved, so a slow reader
 * fills only its own buffer.
 */
export function createSseHandler(options: { hub: SubscriptionHub; maxBodyBytes: number }) {
  return async (req: IncomingMessage, res: ServerResponse, scope: ExecutionScope, expiresAt: number | undefined): Promise<void> => {
    const request = await requestOf(req, options.maxBodyBytes);
    const lastEventId = req.headers['last-event-id'];
    const after = sequenceOf(typeof lastEventId === 'string' ? lastEventId : request.extensions?.resumeAfter);
    if (after === 'invalid') throw new HttpError('BAD_USER_INPUT', 'Last-Event-ID must be the id of an event (a positive integer)');
    const opened = await options.hub.open({ scope, expiresAt, request, afterSequence: after });
    if (!opened.ok) {
      const code: ErrorCode = opened.code;
      sendJson(res, httpStatusOf(code), errorBody(code, opened.message, opened.extensions ?? {}));
      return;
    }
    const { feed } = opened;
    let gone = false;
    res.once('close', () => {
      gone = true;
      void feed.close();
    });
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
    res.flushHeaders();
    try {
      for (;;) {
        const item = await feed.next();
        if (!item || gone) break;
        if (!res.write(frame(item))) await Promise.race([once(res, 'drain'), once(res, 'close')]);
        if (item.kind === 'end') break;
      }
    } finally {
      await feed.close();
      if (!gone) res.end('event: complete\ndata:\n\n');
    }
  };
}
