import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../src/logger.js';
import { startTestApp, type TestApp } from './helpers.js';

interface Line {
  level: number;
  msg: string;
  reqId?: string;
  method?: string;
  url?: string;
  status?: number;
  ms?: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('request ids and access lines', () => {
  let app: TestApp;
  const lines: Line[] = [];
  const access = () => lines.filter((l) => l.msg === 'request completed' || l.msg === 'request aborted');
  beforeAll(async () => {
    const logger = createLogger({ logLevel: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Line) });
    app = await startTestApp({}, { logger });
  });
  afterAll(async () => {
    await app?.close();
  });

  const post = (headers: Record<string, string>, key?: string) =>
    fetch(`${app.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
      body: JSON.stringify({ query: '{ __typename }' }),
    });

  it('keeps a well-formed caller id, echoes it, and writes one access line with it', async () => {
    const key = await app.key(['read']);
    const response = await post({ 'x-request-id': 'trace-42.a_b' }, key);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-request-id')).toBe('trace-42.a_b');
    await expect.poll(() => access().filter((l) => l.reqId === 'trace-42.a_b').length).toBe(1);
    const [line] = access().filter((l) => l.reqId === 'trace-42.a_b');
    expect(line).toMatchObject({ level: 30, msg: 'request completed', method: 'POST', url: '/graphql', status: 200 });
    expect(line?.ms).toBeGreaterThanOrEqual(0);
  });

  it('replaces a malformed or missing id with a fresh one, and logs refusals too', async () => {
    const malformed = await post({ 'x-request-id': 'has spaces; and more' });
    expect(malformed.status).toBe(401);
    const given = malformed.headers.get('x-request-id') ?? '';
    expect(given).toMatch(UUID);
    await expect.poll(() => access().some((l) => l.reqId === given)).toBe(true);
    expect(access().find((l) => l.reqId === given)).toMatchObject({ level: 30, status: 401 });
    const none = await post({});
    const fresh = none.headers.get('x-request-id') ?? '';
    expect(fresh).toMatch(UUID);
    expect(fresh).not.toBe(given);
  });

  it('logs an internal error of a GraphQL operation with the request id the client was given', async () => {
    const key = await app.key(['read']);
    const list = vi.spyOn(app.services.jobs, 'list').mockRejectedValueOnce(new Error('disk on fire'));
    try {
      const response = await fetch(`${app.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ query: '{ jobs { id } }' }),
      });
      const body = (await response.json()) as { errors?: { message: string; extensions?: { code?: string } }[] };
      expect(body.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
      expect(body.errors?.[0]?.message).not.toMatch(/disk on fire/);
      const id = response.headers.get('x-request-id');
      const logged = lines.find((l) => l.msg === 'internal error in GraphQL operation');
      expect(logged).toMatchObject({ level: 50, reqId: id });
      expect(JSON.stringify(logged)).toMatch(/disk on fire/);
    } finally {
      list.mockRestore();
    }
  });

  it('writes the access line of a failed request at error level', async () => {
    const resolve = vi.spyOn(app.services.apiKeys, 'resolve').mockRejectedValueOnce(new Error('key store unreachable'));
    try {
      const response = await post({ 'x-request-id': 'broken-1' }, 'clt_any');
      expect(response.status).toBe(500);
      await expect.poll(() => access().some((l) => l.reqId === 'broken-1')).toBe(true);
      expect(access().find((l) => l.reqId === 'broken-1')).toMatchObject({ level: 50, msg: 'request completed', status: 500 });
    } finally {
      resolve.mockRestore();
    }
  });

  it('writes a warning when the client leaves before the answer', async () => {
    const { hostname, port } = new URL(app.url);
    const request = http.request({ hostname, port, path: '/graphql', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': '100', 'x-request-id': 'left-early' } });
    request.on('error', () => undefined);
    request.write('{"query":'); // and never the rest
    await new Promise((resolve) => setTimeout(resolve, 200));
    request.destroy();
    await expect.poll(() => access().some((l) => l.reqId === 'left-early')).toBe(true);
    expect(access().find((l) => l.reqId === 'left-early')).toMatchObject({ level: 40, msg: 'request aborted', method: 'POST', url: '/graphql', status: 499 });
  });

  it('writes no access line for probes', async () => {
    const before = access().length;
    const health = await fetch(`${app.url}/healthz`);
    expect(health.status).toBe(200);
    expect(health.headers.get('x-request-id')).toMatch(UUID);
    // A logged request after it: once its line is there, the probe's would have been too.
    const after = await post({ 'x-request-id': 'after-probe' });
    expect(after.status).toBe(401);
    await expect.poll(() => access().some((l) => l.reqId === 'after-probe')).toBe(true);
    expect(access().slice(before).map((l) => l.url)).toEqual(['/graphql']);
  });
});
