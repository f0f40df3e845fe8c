import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers.js';

async function signIn(app: TestApp, email: string, password: string) {
  return fetch(`${app.url}/auth/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
}

function sessionCookie(response: Response): string {
  const header = response.headers.get('set-cookie') ?? '';
  const match = /clientele_session=([^;]+)/.exec(header);
  if (!match) throw new Error(`no session cookie in '${header}'`);
  return `clientele_session=${match[1]}`;
}

describe('console sessions', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('signs in with an httpOnly, SameSite=Strict cookie that authorises GraphQL by role', async () => {
    const viewer = await app.user('viewer');
    const response = await signIn(app, viewer.email, viewer.password);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ user: { email: viewer.email, role: 'viewer' } });
    const setCookie = response.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);
    const cookie = sessionCookie(response);

    const me = await fetch(`${app.url}/auth/session`, { headers: { cookie } });
    expect(await me.json()).toMatchObject({ user: { email: viewer.email } });
    const read = await app.graphql('{ viewer { kind role scopes } customers { totalCount } }', { cookie });
    expect(read.body.data).toMatchObject({ viewer: { kind: 'USER', role: 'VIEWER', scopes: ['READ'] } });
    const write = await app.graphql('mutation { upsertCustomers(customers: [{ id: "v" }]) { createdCount } }', { cookie });
    expect(write.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const out = await fetch(`${app.url}/auth/session`, { method: 'DELETE', headers: { cookie } });
    expect(out.status).toBe(204);
    expect((await fetch(`${app.url}/auth/session`, { headers: { cookie } })).status).toBe(401);
    const after = await app.graphql('{ viewer { kind } }', { cookie });
    expect(after.status).toBe(401);
    expect(after.body.errors?.[0]?.message).toMatch(/session has expired/);
  });

  it('gives the same answer for a wrong password and an unknown email', async () => {
    const admin = await app.user('admin');
    const wrong = await signIn(app, admin.email, 'not the password');
    const unknown = await signIn(app, 'nobody@example.com', 'not the password');
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(await wrong.json()).toEqual(await unknown.json());
  });

  it('validates the sign-in body', async () => {
    const missing = await fetch(`${app.url}/auth/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"email":"a@b.c"}' });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toEqual({ error: { code: 'BAD_USER_INPUT', message: 'password: expected your password' } });
    const form = await fetch(`${app.url}/auth/session`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'email=a&password=b' });
    expect(form.status).toBe(415);
    const broken = await fetch(`${app.url}/auth/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' });
    expect(broken.status).toBe(400);
  });

  it('slows down password guessing after ten failures', async () => {
    const target = await app.user('marketer');
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await signIn(app, target.email, `guess-${i}-wrong`)).status);
    expect(statuses.slice(0, 10).every((s) => s === 401)).toBe(true);
    expect(statuses[10]).toBe(429);
    // Even the right password waits until the window passes.
    expect((await signIn(app, target.email, target.password)).status).toBe(429);
  });
});
