import http from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers.js';

// POST /graphql with a JSON body is served without Express (src/http/graphql-route.ts); other
// requests to /graphql still go through Express. Both must answer alike (the direct route's 400
// messages say more: what was wrong with the body).

let app: TestApp;
let key: string;

beforeAll(async () => {
  app = await startTestApp();
  key = await app.key(['read']);
});
afterAll(async () => {
  await app?.close();
});

function post(body: string | Buffer, headers: Record<string, string> = {}, path = '/graphql') {
  return fetch(`${app.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers }, body });
}

/** The value of a counter or histogram count line of /metrics for the labels given. */
async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${key}` } })).text();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && wanted.every((w) => l.includes(w)));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

describe('the direct GraphQL route', () => {
  it('answers a query with variables, a query string and a charset, and counts it under /graphql', async () => {
    const before = await metric('clientele_http_request_duration_seconds_count', { route: '/graphql', status: '200' });
    const response = await post(JSON.stringify({ query: 'query($n: Int) { customers(first: $n) { totalCount } }', variables: { n: 2 } }), { 'content-type': 'application/json; charset=utf-8' }, '/graphql?x=1');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(await response.json()).toEqual({ data: { customers: { totalCount: 0 } } });
    expect(await metric('clientele_http_request_duration_seconds_count', { route: '/graphql', status: '200' })).toBe(before + 1);
  });

  it('refuses a body that is not JSON, or JSON but not an object, with 400 and where the problem is', async () => {
    const broken = await post('{"query": "{ __typename }"');
    expect(broken.status).toBe(400);
    const body = (await broken.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('BAD_REQUEST');
    expect(body.error.message).toMatch(/^request body: .*JSON/);
    const scalar = await post('"{ __typename }"');
    expect(scalar.status).toBe(400);
    expect(((await scalar.json()) as { error: { message: string } }).error.message).toBe('request body: expected a JSON object or array');
  });

  it('accepts a body that starts with a byte-order mark, as express.json does', async () => {
    const response = await post(`\uFEFF ${JSON.stringify({ query: '{ __typename }' })}`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { __typename: 'Query' } });
  });

  it('answers an empty body as Apollo does a missing one (400)', async () => {
    const response = await post('');
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/POST body missing/);
  });

  it('refuses a body over 20 MiB with 413, by its declared length and while reading', async () => {
    const big = Buffer.alloc(20 * 1024 * 1024 + 10, 0x20);
    const declared = await post(big);
    expect(declared.status).toBe(413);
    expect(((await declared.json()) as { error: { message: string } }).error.message).toBe('request body too large');
    // Chunked, so only the reading can tell.
    const { hostname, port } = new URL(app.url);
    const status = await new Promise<number>((resolve, reject) => {
      const request = http.request({ hostname, port, path: '/graphql', method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      request.on('error', reject);
      for (let i = 0; i < 21; i++) request.write(Buffer.alloc(1024 * 1024, 0x20));
      request.end();
    });
    expect(status).toBe(413);
    // The server goes on serving.
    expect((await post(JSON.stringify({ query: '{ __typename }' }))).status).toBe(200);
  });

  it('answers "Expect: 100-continue" with 413 before the body when the declared length is over the limit', async () => {
    const { hostname, port } = new URL(app.url);
    const send = (length: number, body: string) =>
      new Promise<{ status: number; continued: boolean; text: string }>((resolve, reject) => {
        let continued = false;
        const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'content-length': String(length), expect: '100-continue' };
        const request = http.request({ hostname, port, path: '/graphql', method: 'POST', headers }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, continued, text }));
        });
        request.on('error', reject);
        // The body goes only once the server says to continue.
        request.on('continue', () => {
          continued = true;
          request.end(body);
        });
      });
    const refused = await send(64 * 1024 * 1024, '');
    expect(refused).toMatchObject({ status: 413, continued: false });
    const query = JSON.stringify({ query: '{ __typename }' });
    const served = await send(Buffer.byteLength(query), query);
    expect(served).toMatchObject({ status: 200, continued: true });
    expect(JSON.parse(served.text)).toEqual({ data: { __typename: 'Query' } });
  });

  it('refuses a request without credentials as before', async () => {
    const response = await fetch(`${app.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ __typename }' }) });
    expect(response.status).toBe(401);
    const body = (await response.json()) as { errors: { extensions: { code: string } }[] };
    expect(body.errors[0]?.extensions.code).toBe('UNAUTHENTICATED');
  });

  it('leaves compressed bodies, other content types and GET to Express, with the same answers', async () => {
    const query = JSON.stringify({ query: '{ __typename }' });
    const gzipped = await post(gzipSync(query), { 'content-encoding': 'gzip' });
    expect(gzipped.status).toBe(200);
    expect(await gzipped.json()).toEqual({ data: { __typename: 'Query' } });
    const get = await fetch(`${app.url}/graphql?query=${encodeURIComponent('{ __typename }')}`, { headers: { authorization: `Bearer ${key}`, 'apollo-require-preflight': 'true' } });
    expect(get.status).toBe(200);
    expect(await get.json()).toEqual({ data: { __typename: 'Query' } });
    const text = await post(query, { 'content-type': 'text/plain' });
    expect(text.status).toBe(400);
  });
});
