import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer } from '@apollo/server';
import type { Context } from '../context.js';
import { httpErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import { requestLogger } from './request-log.js';

/**
 * The common GraphQL request — POST /graphql with a plain JSON body — served by Apollo Server
 * straight from Node's HTTP server, without Express.
 *
 * Why: under a steady load, every request that went through Express 5's router outlived the
 * young generation. Measured with a bare server at 500 requests/s (bench/paced.mjs), Express
 * with one route promoted about 25 MB to the old generation in 8 s and each scavenge paused the
 * process 6–9 ms; Node's HTTP server alone promoted 0.1 MB with 0.5 ms scavenges. Those pauses
 * and the major collections that follow set the API's tail latency.
 *
 * Anything else (another path or method, a compressed body, another content type or charset)
 * returns false and goes to the Express app, which serves it as before: `express.json` and
 * the Apollo middleware are still mounted at /graphql.
 */
export interface GraphqlRouteOptions {
  apollo: ApolloServer<Context>;
  /** The GraphQL context of a request (throws to refuse it, e.g. without credentials). */
  context: (req: IncomingMessage, requestId: string) => Promise<Context>;
  /** Called first, before anything is read: access log and metrics; returns the request id. */
  begin: (req: IncomingMessage, res: ServerResponse) => string;
  /** Largest body accepted, in bytes (as `express.json`'s limit). */
  limitBytes: number;
  logger: Logger;
}

const JSON_TYPE = /^application\/json\s*(;\s*charset="?utf-8"?\s*)?$/i;

/** Whether this request takes the direct path (see GraphqlRouteOptions). */
function direct(req: IncomingMessage): boolean {
  if (req.method !== 'POST') return false;
  const url = req.url ?? '';
  if (url !== '/graphql' && !url.startsWith('/graphql?')) return false;
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return false;
  return JSON_TYPE.test(req.headers['content-type'] ?? '');
}

/** The body shape of the Express app's error handler (the messages here say more: what was wrong with the body). */
function sendError(res: ServerResponse, status: number, message: string): void {
  const body = JSON.stringify({ error: { code: httpErrorCode(status), message } });
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(body);
}

/**
 * Returns a handler that serves a request and returns true, or returns false to pass it on.
 * `expectsContinue`: the client sent `Expect: 100-continue` and waits for "100 Continue" before
 * the body, which the handler sends only once it has not refused the request by its declared
 * length (Node's server would send it for every request and the client would upload a body
 * bound for a 413).
 */
export function graphqlRoute(options: GraphqlRouteOptions): (req: IncomingMessage, res: ServerResponse, expectsContinue?: boolean) => boolean {
  const { apollo, context, begin, limitBytes, logger } = options;

  async function serve(req: IncomingMessage, res: ServerResponse, requestId: string, text: string): Promise<void> {
    // As express.json (strict): a byte-order mark is dropped, an empty body is {}, anything but
    // an object or array is refused.
    let body: unknown = {};
    const trimmed = text.replace(/^\uFEFF/, '').replace(/^[ \t\r\n]+/, '');
    if (trimmed !== '') {
      if (trimmed[0] !== '{' && trimmed[0] !== '[') {
        sendError(res, 400, 'request body: expected a JSON object or array');
        return;
      }
      try {
        body = JSON.parse(trimmed);
      } catch (error) {
        sendError(res, 400, `request body: ${(error as Error).message}`);
        return;
      }
    }
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    const url = req.url ?? '';
    const query = url.indexOf('?');
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: 'POST', headers, search: query < 0 ? '' : url.slice(query), body },
      context: () => context(req, requestId),
    });
    for (const [key, value] of response.headers) res.setHeader(key, value);
    res.statusCode = response.status ?? 200;
    if (response.body.kind === 'complete') {
      res.setHeader('content-length', Buffer.byteLength(response.body.string));
      res.end(response.body.string);
      return;
    }
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  }

  return (req, res, expectsContinue = false) => {
    if (!direct(req)) return false;
    const requestId = begin(req, res);
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limitBytes) {
      res.setHeader('connection', 'close');
      sendError(res, 413, 'request body too large');
      req.resume();
      return true;
    }
    if (expectsContinue) res.writeContinue();
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > limitBytes) {
        refused = true;
        chunks.length = 0;
        res.setHeader('connection', 'close');
        sendError(res, 413, 'request body too large');
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (refused) return;
      const text = chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks, size).toString('utf8');
      serve(req, res, requestId, text).catch((error: unknown) => {
        // executeHTTPGraphQLRequest answers errors itself; this is a failure to write the answer.
        requestLogger(logger, requestId).error({ err: error }, 'unhandled error');
        if (!res.headersSent) sendError(res, 500, 'Internal server error');
        else res.destroy(error as Error);
      });
    });
    // A client that leaves mid-body: nothing to answer; logRequest's close handler logs it.
    req.on('error', () => undefined);
    return true;
  };
}
