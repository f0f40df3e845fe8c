import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request } from 'express';
import type { Logger } from '../logger.js';

/** A caller's own request id is kept when it looks like one (it ends up in logs and headers). */
const REQUEST_ID = /^[\w.-]{1,100}$/;
/** Probes and static files are not worth a log line each. */
const UNLOGGED = /^\/(healthz|readyz|metrics|assets\/)/;

/** The id logRequest gave this request: the `x-request-id` header of its response. */
export function requestId(req: Request): string {
  const id = req.res?.getHeader('x-request-id');
  return typeof id === 'string' ? id : 'none';
}

/** A logger bound to the request's id, for the rare lines a request writes besides its access line. */
export function requestLogger(logger: Logger, req: Request | string): Logger {
  return logger.child({ reqId: typeof req === 'string' ? req : requestId(req) });
}

/**
 * Gives the request an id (the `x-request-id` header of its response) and writes one access line
 * when it ends: id, method, URL, status and milliseconds; `error` level for 5xx, `warn` (status
 * 499 when nothing was sent) when the client went away first. Returns the id.
 *
 * Written by hand instead of pino-http, which builds two child loggers per request and
 * serialises the request into them up front: at 500 requests/s those were the largest
 * allocation of the whole request path (a third of what outlived the young generation in a
 * heap profile of the serving benchmark), whatever the log level.
 */
export function logRequest(logger: Logger, req: IncomingMessage, res: ServerResponse): string {
  const started = performance.now();
  const url = req.url ?? '';
  const incoming = req.headers['x-request-id'];
  const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
  res.setHeader('x-request-id', id);
  if (!UNLOGGED.test(url)) {
    res.once('close', () => {
      const finished = res.writableFinished;
      const level = !finished ? 'warn' : res.statusCode >= 500 ? 'error' : 'info';
      if (!logger.isLevelEnabled(level)) return;
      const ms = Math.round((performance.now() - started) * 10) / 10;
      // A client that left before any answer was sent gets nginx's 499 (client closed request),
      // not the 200 a response object starts with.
      const status = finished || res.headersSent ? res.statusCode : 499;
      logger[level]({ reqId: id, method: req.method, url, status, ms }, finished ? 'request completed' : 'request aborted');
    });
  }
  return id;
}
