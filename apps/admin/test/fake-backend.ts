// A stand-in for the API in component tests: a fetch function that answers with real
// Response objects, so the app's real api module parses them. Each route can be replaced per
// test, and every call is recorded.
import { createApiClient, type ApiClient, type User } from '../src/api';

export interface Call {
  method: string;
  path: string;
  body: unknown;
}

export type RouteHandler = (call: Call) => Response | Promise<Response>;

export function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json' },
  });
}

export function errorResponse(status: number, code: string, message: string): Response {
  return jsonResponse(status, { error: { code, message } });
}

/** A promise and the function that settles it, to hold a response back. */
export function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

export const ada: User = { id: 'usr_01', email: 'ada@example.com', role: 'admin' };

export interface FakeBackend {
  client: ApiClient;
  calls: Call[];
  /** The user GET /auth/session reports; POST sets it, DELETE clears it. */
  user: User | null;
  routes: Record<string, RouteHandler>;
  callsTo(route: string): Call[];
}

export function createFakeBackend(options: { user?: User | null; password?: string } = {}) {
  const password = options.password ?? 'correct horse';
  const backend: FakeBackend = {
    calls: [],
    user: options.user ?? null,
    callsTo: (route) => backend.calls.filter((c) => `${c.method} ${c.path}` === route),
    client: undefined as unknown as ApiClient,
    routes: {
      'GET /auth/session': () =>
        backend.user
          ? jsonResponse(200, { user: backend.user })
          : errorResponse(401, 'UNAUTHENTICATED', 'Not signed in'),
      'POST /auth/session': ({ body }) => {
        const credentials = body as { email: string; password: string };
        if (credentials.email === ada.email && credentials.password === password) {
          backend.user = ada;
          return jsonResponse(200, { user: ada });
        }
        return errorResponse(401, 'UNAUTHENTICATED', 'Wrong email or password');
      },
      'DELETE /auth/session': () => {
        backend.user = null;
        return new Response(null, { status: 204 });
      },
      'GET /readyz': () => jsonResponse(200, { status: 'ready', checks: { database: 'ok' } }),
      'POST /graphql': () =>
        backend.user
          ? jsonResponse(200, {
              data: {
                viewer: {
                  kind: 'USER',
                  name: backend.user.email,
                  role: backend.user.role,
                  scopes: [],
                },
              },
            })
          : jsonResponse(200, {
              data: null,
              errors: [{ message: 'Sign in first', extensions: { code: 'UNAUTHENTICATED' } }],
            }),
    },
  };

  const fetchStub: typeof fetch = async (input, init) => {
    const url = new URL(String(input), 'http://console.test');
    const method = (init?.method ?? 'GET').toUpperCase();
    const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as unknown) : undefined;
    const call: Call = { method, path: url.pathname, body };
    backend.calls.push(call);
    const route = backend.routes[`${method} ${url.pathname}`];
    if (!route) return new Response('not found', { status: 404 });
    return route(call);
  };

  backend.client = createApiClient({ fetch: fetchStub });
  return backend;
}
