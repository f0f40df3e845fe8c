// @vitest-environment node
// The api module against a real HTTP server on a random local port.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError, createApiClient, GraphQLRequestError } from '../src/api';

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

type Handler = (request: Received, response: ServerResponse) => void;

let server: Server;
let baseUrl: string;
let handler: Handler;
let received: Received[];

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  response.end(JSON.stringify(body));
}

beforeAll(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const entry: Received = {
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      received.push(entry);
      handler(entry, response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve, reject) =>
    server.close((error) => (error ? reject(error) : resolve())),
  );
});

beforeEach(() => {
  received = [];
  handler = (_request, response) => json(response, 500, { error: { code: 'X', message: 'unset' } });
});

const user = { id: 'u_1', email: 'ada@example.com', role: 'admin' };

describe('graphql()', () => {
  it('posts the query and variables as JSON and resolves with data', async () => {
    handler = (_request, response) => json(response, 200, { data: { viewer: { kind: 'USER' } } });
    const api = createApiClient({ baseUrl });

    const data = await api.graphql<{ viewer: { kind: string } }>(
      'query ($id: ID!) { customer(id: $id) { id } }',
      { id: 'c-42' },
    );

    expect(data).toEqual({ viewer: { kind: 'USER' } });
    expect(received).toHaveLength(1);
    const [request] = received;
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe('/graphql');
    expect(request?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(request?.body ?? '')).toEqual({
      query: 'query ($id: ID!) { customer(id: $id) { id } }',
      variables: { id: 'c-42' },
    });
  });

  it('surfaces errors[].message and errors[].extensions.code', async () => {
    handler = (_request, response) =>
      json(response, 200, {
        data: null,
        errors: [
          {
            message: 'Customer "c-9" was not found',
            path: ['customer'],
            extensions: { code: 'NOT_FOUND' },
          },
          { message: 'second', extensions: { code: 'FORBIDDEN' } },
        ],
      });
    const api = createApiClient({ baseUrl });

    const error = await api.graphql('{ customer(id: "c-9") { id } }').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(GraphQLRequestError);
    const graphqlError = error as GraphQLRequestError;
    expect(graphqlError.message).toBe('Customer "c-9" was not found');
    expect(graphqlError.code).toBe('NOT_FOUND');
    expect(graphqlError.status).toBe(200);
    expect(graphqlError.errors).toEqual([
      { message: 'Customer "c-9" was not found', code: 'NOT_FOUND', path: ['customer'] },
      { message: 'second', code: 'FORBIDDEN', path: undefined },
    ]);
  });

  it('reads the errors of a non-2xx GraphQL answer (validation errors come with 400)', async () => {
    handler = (_request, response) =>
      json(response, 400, {
        errors: [
          {
            message: 'Cannot query field "nope" on type "Query".',
            extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
          },
        ],
      });
    const api = createApiClient({ baseUrl });

    await expect(api.graphql('{ nope }')).rejects.toMatchObject({
      name: 'GraphQLRequestError',
      code: 'GRAPHQL_VALIDATION_FAILED',
      status: 400,
      message: 'Cannot query field "nope" on type "Query".',
    });
  });

  it('tells session listeners when the server answers UNAUTHENTICATED, and only then', async () => {
    const api = createApiClient({ baseUrl });
    const listener = vi.fn();
    const unsubscribe = api.onUnauthenticated(listener);

    handler = (_request, response) =>
      json(response, 200, { errors: [{ message: 'no', extensions: { code: 'FORBIDDEN' } }] });
    await expect(api.graphql('{ viewer { kind } }')).rejects.toBeInstanceOf(GraphQLRequestError);
    expect(listener).not.toHaveBeenCalled();

    handler = (_request, response) =>
      json(response, 200, {
        errors: [{ message: 'Sign in first', extensions: { code: 'UNAUTHENTICATED' } }],
      });
    await expect(api.graphql('{ viewer { kind } }')).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    });
    expect(listener).toHaveBeenCalledTimes(1);

    unsubscribe();
    await expect(api.graphql('{ viewer { kind } }')).rejects.toBeInstanceOf(GraphQLRequestError);
    expect(listener).toHaveBeenCalledTimes(1);
  });

  it('reports an answer that is not the API JSON as HTTP_ERROR with its status', async () => {
    handler = (_request, response) => {
      response.writeHead(502, { 'content-type': 'text/html' });
      response.end('<h1>Bad gateway</h1>');
    };
    const api = createApiClient({ baseUrl });

    const error = await api.graphql('{ viewer { kind } }').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ApiError);
    expect(error).not.toBeInstanceOf(GraphQLRequestError);
    expect(error).toMatchObject({ code: 'HTTP_ERROR', status: 502 });
    expect((error as ApiError).message).toContain('502');
  });

  it('reports an unreachable server as NETWORK_ERROR', async () => {
    // A port that was just free: listen, note it, close.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const api = createApiClient({ baseUrl: `http://127.0.0.1:${port}` });

    await expect(api.graphql('{ viewer { kind } }')).rejects.toMatchObject({
      name: 'ApiError',
      code: 'NETWORK_ERROR',
      status: undefined,
    });
  });

  it("sends the session cookie with credentials: 'same-origin'", async () => {
    handler = (_request, response) => json(response, 200, { data: { ok: true } });
    const seen: RequestInit[] = [];
    const api = createApiClient({
      baseUrl,
      fetch: (input, init) => {
        seen.push(init ?? {});
        return fetch(input, init);
      },
    });

    await api.graphql('{ ok }');
    await api.getSession().catch(() => undefined);

    expect(seen.map((init) => init.credentials)).toEqual(['same-origin', 'same-origin']);
  });
});

describe('session endpoints', () => {
  it('signIn posts the credentials and returns the user', async () => {
    handler = (_request, response) => json(response, 200, { user });
    const api = createApiClient({ baseUrl });

    await expect(api.signIn('ada@example.com', 's3cret')).resolves.toEqual(user);
    expect(received[0]).toMatchObject({ method: 'POST', url: '/auth/session' });
    expect(received[0]?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(received[0]?.body ?? '')).toEqual({
      email: 'ada@example.com',
      password: 's3cret',
    });
  });

  it.each([
    [401, 'UNAUTHENTICATED', 'Wrong email or password'],
    [400, 'BAD_USER_INPUT', 'email: expected an email address, got "ada"'],
    [429, 'RATE_LIMITED', 'Too many sign-in attempts; try again in 60 seconds'],
  ])(
    'signIn rejects a %i with the server code %s and its message',
    async (status, code, message) => {
      handler = (_request, response) => json(response, status, { error: { code, message } });
      const api = createApiClient({ baseUrl });

      await expect(api.signIn('ada', 'x')).rejects.toMatchObject({
        name: 'ApiError',
        code,
        message,
        status,
      });
    },
  );

  it('getSession returns the user, or null on 401', async () => {
    const api = createApiClient({ baseUrl });
    handler = (_request, response) => json(response, 200, { user });
    await expect(api.getSession()).resolves.toEqual(user);

    handler = (_request, response) =>
      json(response, 401, { error: { code: 'UNAUTHENTICATED', message: 'No session' } });
    await expect(api.getSession()).resolves.toBeNull();
    expect(received.map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET /auth/session',
      'GET /auth/session',
    ]);
  });

  it('getSession rejects a user with an unknown role instead of trusting it', async () => {
    handler = (_request, response) => json(response, 200, { user: { ...user, role: 'root' } });
    await expect(createApiClient({ baseUrl }).getSession()).rejects.toBeInstanceOf(ApiError);
  });

  it('signOut sends DELETE and accepts 204', async () => {
    handler = (_request, response) => {
      response.writeHead(204);
      response.end();
    };
    await expect(createApiClient({ baseUrl }).signOut()).resolves.toBeUndefined();
    expect(received[0]).toMatchObject({ method: 'DELETE', url: '/auth/session' });
  });
});

describe('getReadiness()', () => {
  it('returns a 503 "not ready" answer as information, with its checks', async () => {
    handler = (_request, response) =>
      json(response, 503, {
        status: 'not_ready',
        checks: { database: 'connect ECONNREFUSED 127.0.0.1:5432' },
      });

    await expect(createApiClient({ baseUrl }).getReadiness()).resolves.toEqual({
      httpStatus: 503,
      status: 'not_ready',
      checks: { database: 'connect ECONNREFUSED 127.0.0.1:5432' },
    });
    expect(received[0]).toMatchObject({ method: 'GET', url: '/readyz' });
  });

  it('returns ready', async () => {
    handler = (_request, response) =>
      json(response, 200, { status: 'ready', checks: { database: 'ok' } });
    await expect(createApiClient({ baseUrl }).getReadiness()).resolves.toEqual({
      httpStatus: 200,
      status: 'ready',
      checks: { database: 'ok' },
    });
  });
});
