import { describePrincipal, requireScope, type AuthError } from '@clientele/auth';
import { IMPORT_KINDS, ImportError, importFile, type ImportFormat, type ImportKind } from '@clientele/ingest';
import { Router, type Request, type Response } from 'express';
import type { Services } from '../context.js';
import { authenticate, MISSING_CREDENTIALS } from './principal.js';
import { requestLogger } from './request-log.js';

// POST /imports?kind=customers|items|interactions|online-retail — the request body is the
// file itself (text/csv or application/x-ndjson), streamed into the import as it arrives, so
// an upload of any size uses flat memory. The response, when the import ends, is its summary;
// while it runs, GraphQL `imports` / `importJob(id)` show its progress and rejections.

const FORMAT_BY_TYPE: Record<string, ImportFormat> = {
  'text/csv': 'csv',
  'text/tab-separated-values': 'csv',
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
  'application/jsonl': 'ndjson',
};

function fail(res: Response, status: number, code: string, message: string, field?: string): void {
  res.status(status).json({ error: { code, message, ...(field ? { field } : {}) } });
}

function single(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function importRoutes(services: Services): Router {
  const router = Router();
  router.post('/', async (req: Request, res: Response) => {
    const credentials = await authenticate(req, services);
    if (credentials.kind !== 'ok') {
      fail(res, 401, 'UNAUTHENTICATED', credentials.kind === 'invalid' ? credentials.reason : MISSING_CREDENTIALS);
      return;
    }
    try {
      requireScope(credentials.principal, 'write');
    } catch (error) {
      fail(res, 403, (error as AuthError).code, (error as Error).message);
      return;
    }
    const kind = single(req.query['kind']);
    if (!kind || !(IMPORT_KINDS as readonly string[]).includes(kind)) {
      fail(res, 400, 'BAD_USER_INPUT', `kind: expected one of ${IMPORT_KINDS.join(', ')}, got ${kind === undefined ? 'nothing' : `'${kind}'`}`, 'kind');
      return;
    }
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    const formatParam = single(req.query['format']);
    if (formatParam !== undefined && formatParam !== 'csv' && formatParam !== 'ndjson') {
      fail(res, 400, 'BAD_USER_INPUT', `format: expected csv or ndjson, got '${formatParam}'`, 'format');
      return;
    }
    const format: ImportFormat | undefined = formatParam ?? FORMAT_BY_TYPE[contentType];
    const fileName = (single(req.query['fileName']) ?? 'upload').slice(0, 200);
    const unknown = single(req.query['unknown']);
    if (unknown !== undefined && unknown !== 'create' && unknown !== 'reject') {
      fail(res, 400, 'BAD_USER_INPUT', `unknown: expected create or reject, got '${unknown}'`, 'unknown');
      return;
    }
    const length = Number(req.headers['content-length']);
    // A client that goes away mid-upload cancels the import between batches.
    const controller = new AbortController();
    req.on('close', () => {
      if (!req.complete) controller.abort(new Error('the upload was interrupted'));
    });
    try {
      const summary = await importFile(services.database, {
        stream: req,
        fileName,
        kind: kind as ImportKind,
        store: services.store,
        actor: describePrincipal(credentials.principal),
        signal: controller.signal,
        ...(format ? { format } : {}),
        ...(Number.isFinite(length) && length > 0 ? { size: length } : {}),
        ...(unknown ? { unknownReferences: unknown } : {}),
        ...(single(req.query['delimiter']) ? { delimiter: single(req.query['delimiter']) } : {}),
      });
      res.json(summary);
    } catch (error) {
      if (error instanceof ImportError) {
        if (error.jobId) res.setHeader('x-import-job', error.jobId);
        fail(res, error.code === 'NOT_FOUND' ? 404 : 400, error.code, error.message, error.field);
        return;
      }
      if (controller.signal.aborted) return; // nobody is listening any more
      requestLogger(services.logger, req).error({ err: error }, 'import failed');
      fail(res, 500, 'INTERNAL_SERVER_ERROR', 'the import failed; see the import job for how far it got');
    }
  });
  return router;
}
