// The console's only way to the server: the session endpoints, the readiness probe and GraphQL.
// Everything goes to the same origin (the API serves the console in production; Vite proxies
// in development), so the httpOnly session cookie travels with `credentials: 'same-origin'`.

export type Role = 'admin' | 'marketer' | 'viewer';

export interface User {
  id: string;
  email: string;
  role: Role;
}

export interface Readiness {
  /** The HTTP status of /readyz: 200 when ready, 503 when not. */
  httpStatus: number;
  status: 'ready' | 'not_ready';
  /** One entry per dependency: "ok" or a message saying what is wrong. */
  checks: Record<string, string>;
}

/** One entry of a GraphQL response's `errors`. */
export interface GraphQLErrorEntry {
  message: string;
  code: string | undefined;
  path: ReadonlyArray<string | number> | undefined;
}

/**
 * A failed call. `code` is the server's own code (`UNAUTHENTICATED`, `BAD_USER_INPUT`,
 * `RATE_LIMITED`, …), or one of the console's: `NETWORK_ERROR` when the server could not be
 * reached, `HTTP_ERROR` when it answered with something that is not the API's JSON.
 */
export class ApiError extends Error {
  override readonly name: string = 'ApiError';
  constructor(
    message: string,
    readonly code: string,
    readonly status: number | undefined,
  ) {
    super(message);
  }
}

/** A GraphQL response that carried `errors`. `message` and `code` are those of the first. */
export class GraphQLRequestError extends ApiError {
  override readonly name = 'GraphQLRequestError';
  constructor(
    readonly errors: readonly GraphQLErrorEntry[],
    status: number,
    /** Whatever `data` came with the errors (partial results), if any. */
    readonly data: unknown,
  ) {
    const first = errors[0];
    super(first?.message ?? 'The GraphQL request failed', first?.code ?? 'GRAPHQL_ERROR', status);
  }
}

export type Variables = Record<string, unknown>;

export interface ApiClient {
  /** Runs a GraphQL operation; resolves with `data`, rejects with GraphQLRequestError. */
  graphql<TData, TVariables extends Variables = Variables>(
    query: string,
    variables?: TVariables,
  ): Promise<TData>;
  /** The signed-in user, or null when there is no valid session. */
  getSession(): Promise<User | null>;
  signIn(email: string, password: string): Promise<User>;
  signOut(): Promise<void>;
  /** GET /readyz; a 503 "not ready" answer resolves, it is information, not a failure. */
  getReadiness(): Promise<Readiness>;
  /** Called whenever the server says the session is gone (a GraphQL UNAUTHENTICATED). */
  onUnauthenticated(listener: () => void): () => void;
}

export interface ApiClientOptions {
  /** Prefix for every path; '' (same origin) in the app, a server's URL in tests. */
  baseUrl?: string;
  fetch?: typeof globalThis.fetch;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads a JSON body; undefined when there is none or it is not JSON. */
async function readJson(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function describeStatus(response: Response): string {
  return `${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
}

/** Turns the API's `{ error: { code, message } }` (or anything else) into an ApiError. */
function restError(response: Response, body: unknown): ApiError {
  const error = isRecord(body) ? body.error : undefined;
  if (isRecord(error) && typeof error.message === 'string') {
    const code = typeof error.code === 'string' ? error.code : 'HTTP_ERROR';
    return new ApiError(error.message, code, response.status);
  }
  return new ApiError(
    `The server answered ${describeStatus(response)} without an explanation`,
    'HTTP_ERROR',
    response.status,
  );
}

function parseGraphQLErrors(value: unknown): GraphQLErrorEntry[] | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  return value.map((entry): GraphQLErrorEntry => {
    if (!isRecord(entry)) return { message: String(entry), code: undefined, path: undefined };
    const extensions = isRecord(entry.extensions) ? entry.extensions : {};
    return {
      message: typeof entry.message === 'string' ? entry.message : 'Unknown GraphQL error',
      code: typeof extensions.code === 'string' ? extensions.code : undefined,
      path: Array.isArray(entry.path) ? (entry.path as Array<string | number>) : undefined,
    };
  });
}

function parseUser(value: unknown): User {
  const user = isRecord(value) ? value.user : undefined;
  if (
    isRecord(user) &&
    typeof user.id === 'string' &&
    typeof user.email === 'string' &&
    (user.role === 'admin' || user.role === 'marketer' || user.role === 'viewer')
  ) {
    return { id: user.id, email: user.email, role: user.role };
  }
  throw new ApiError('The server sent a session without a valid user', 'HTTP_ERROR', undefined);
}

export function createApiClient(options: ApiClientOptions = {}): ApiClient {
  const baseUrl = options.baseUrl?.replace(/\/+$/, '') ?? '';
  const listeners = new Set<() => void>();

  async function send(path: string, init: RequestInit = {}): Promise<Response> {
    const doFetch = options.fetch ?? globalThis.fetch;
    try {
      return await doFetch(`${baseUrl}${path}`, {
        credentials: 'same-origin',
        ...init,
        headers: { accept: 'application/json', ...init.headers },
      });
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new ApiError(`Could not reach the server (${reason})`, 'NETWORK_ERROR', undefined);
    }
  }

  function postJson(path: string, body: unknown): Promise<Response> {
    return send(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  return {
    async graphql<TData, TVariables extends Variables = Variables>(
      query: string,
      variables?: TVariables,
    ): Promise<TData> {
      const response = await postJson('/graphql', { query, variables: variables ?? {} });
      const body = await readJson(response);
      const errors = isRecord(body) ? parseGraphQLErrors(body.errors) : undefined;
      if (errors) {
        if (errors.some((error) => error.code === 'UNAUTHENTICATED')) {
          for (const listener of listeners) listener();
        }
        throw new GraphQLRequestError(errors, response.status, isRecord(body) ? body.data : null);
      }
      if (!response.ok || !isRecord(body) || !isRecord(body.data)) {
        throw restError(response, body);
      }
      return body.data as TData;
    },

    async getSession() {
      const response = await send('/auth/session');
      const body = await readJson(response);
      if (response.status === 401) return null;
      if (!response.ok) throw restError(response, body);
      return parseUser(body);
    },

    async signIn(email, password) {
      const response = await postJson('/auth/session', { email, password });
      const body = await readJson(response);
      if (!response.ok) throw restError(response, body);
      return parseUser(body);
    },

    async signOut() {
      const response = await send('/auth/session', { method: 'DELETE' });
      if (!response.ok) throw restError(response, await readJson(response));
    },

    async getReadiness() {
      const response = await send('/readyz');
      const body = await readJson(response);
      if (
        (response.status === 200 || response.status === 503) &&
        isRecord(body) &&
        (body.status === 'ready' || body.status === 'not_ready')
      ) {
        const checks: Record<string, string> = {};
        if (isRecord(body.checks)) {
          for (const [name, value] of Object.entries(body.checks)) checks[name] = String(value);
        }
        return { httpStatus: response.status, status: body.status, checks };
      }
      throw restError(response, body);
    },

    onUnauthenticated(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  };
}
