import { unwrapResolverError } from '@apollo/server/errors';
import { AuthError } from '@clientele/auth';
import { DomainError } from '@clientele/domain';
import { JobNotFoundError, UnknownJobKindError } from '@clientele/jobs';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';

// The codes clients can rely on, in `extensions.code`.
export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'CONFLICT'
  | 'INTERNAL_SERVER_ERROR';

const HTTP_STATUS: Record<string, number> = { UNAUTHENTICATED: 401, FORBIDDEN: 403 };

/** Our own errors, which carry a message meant for the caller. */
export function userErrorCode(error: unknown): ErrorCode | null {
  if (error instanceof AuthError || error instanceof DomainError) return error.code;
  if (error instanceof JobNotFoundError) return 'NOT_FOUND';
  if (error instanceof UnknownJobKindError) return 'BAD_USER_INPUT';
  return null;
}

export function graphqlError(code: ErrorCode, message: string, extra: Record<string, unknown> = {}): GraphQLError {
  const status = HTTP_STATUS[code];
  return new GraphQLError(message, {
    extensions: { code, ...extra, ...(status ? { http: { status } } : {}) },
  });
}

// Codes produced by graphql-js and Apollo for malformed requests; their messages are safe.
const REQUEST_ERROR_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
]);

/**
 * Shapes every error leaving the API: our own errors keep their message and code; request
 * errors from graphql-js pass through; anything else is masked as an internal error (it is
 * logged with the request id by the error-logging plugin).
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  const code = userErrorCode(original);
  if (code) {
    const field = original instanceof DomainError && original.field ? { field: original.field } : {};
    return { ...formatted, message: (original as Error).message, extensions: { code, ...field } };
  }
  const existing = formatted.extensions?.['code'];
  if (typeof existing === 'string' && REQUEST_ERROR_CODES.has(existing)) {
    const { http: _http, stacktrace: _stack, ...extensions } = formatted.extensions ?? {};
    return { ...formatted, extensions };
  }
  return {
    message: 'Internal server error',
    ...(formatted.path ? { path: formatted.path } : {}),
    extensions: { code: 'INTERNAL_SERVER_ERROR' },
  };
}

/** True when the error is not the caller's doing and deserves a log line. */
export function isInternal(error: unknown): boolean {
  const original = unwrapResolverError(error);
  if (userErrorCode(original)) return false;
  if (original instanceof GraphQLError) {
    const code = original.extensions['code'];
    return !(typeof code === 'string' && REQUEST_ERROR_CODES.has(code));
  }
  return true;
}

/** The code of a plain HTTP error answer ({ error: { code, message } }) for its status. */
export function httpErrorCode(status: number): 'NOT_FOUND' | 'BAD_REQUEST' | 'INTERNAL_SERVER_ERROR' {
  return status === 404 ? 'NOT_FOUND' : status < 500 ? 'BAD_REQUEST' : 'INTERNAL_SERVER_ERROR';
}
