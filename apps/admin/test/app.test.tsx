import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter, useLocation } from 'react-router';
import { describe, expect, it } from 'vitest';
import { App } from '../src/app';
import { sections } from '../src/sections';
import { safeNextPath, signInPath } from '../src/session';
import {
  ada,
  createFakeBackend,
  deferred,
  errorResponse,
  jsonResponse,
  type FakeBackend,
} from './fake-backend';

function LocationProbe() {
  const location = useLocation();
  return <output data-testid="location">{location.pathname + location.search}</output>;
}

function renderApp(backend: FakeBackend, path: string) {
  const user = userEvent.setup();
  render(
    <MemoryRouter initialEntries={[path]}>
      <App client={backend.client} />
      <LocationProbe />
    </MemoryRouter>,
  );
  return user;
}

const location = () => screen.getByTestId('location').textContent;

describe('sign-in', () => {
  it('sends an unauthenticated visit to /sign-in and back to the requested route afterwards', async () => {
    const backend = createFakeBackend();
    const user = renderApp(backend, '/customers?page=2');

    expect(await screen.findByRole('heading', { name: 'Sign in to the console' })).toBeVisible();
    expect(location()).toBe('/sign-in?next=%2Fcustomers%3Fpage%3D2');

    await user.type(screen.getByLabelText('Email'), 'ada@example.com');
    await user.type(screen.getByLabelText('Password'), 'correct horse');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));

    expect(await screen.findByRole('heading', { level: 1, name: 'Customers' })).toBeVisible();
    expect(location()).toBe('/customers?page=2');
    expect(screen.getByTestId('current-user-email')).toHaveTextContent('ada@example.com');
    expect(screen.getByTestId('current-user-role')).toHaveTextContent('admin');
    expect(backend.callsTo('POST /auth/session')[0]?.body).toEqual({
      email: 'ada@example.com',
      password: 'correct horse',
    });
  });

  it("disables the button while pending and shows the server's error", async () => {
    const backend = createFakeBackend();
    const held = deferred<Response>();
    backend.routes['POST /auth/session'] = () => held.promise;
    const user = renderApp(backend, '/sign-in');

    await user.type(await screen.findByLabelText('Email'), 'ada@example.com');
    await user.type(screen.getByLabelText('Password'), 'wrong');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));

    const pendingButton = await screen.findByRole('button', { name: 'Signing in…' });
    expect(pendingButton).toBeDisabled();
    // A second click while pending sends nothing more.
    await user.click(pendingButton);
    expect(backend.callsTo('POST /auth/session')).toHaveLength(1);

    held.resolve(errorResponse(401, 'UNAUTHENTICATED', 'Wrong email or password'));

    expect(await screen.findByRole('alert')).toHaveTextContent('Wrong email or password');
    expect(screen.getByRole('button', { name: 'Sign in' })).toBeEnabled();
    expect(location()).toBe('/sign-in');
  });

  it.each([
    [400, 'BAD_USER_INPUT', 'email: expected an email address, got "ada"'],
    [429, 'RATE_LIMITED', 'Too many sign-in attempts; try again in a minute'],
  ])('shows the specific message of a %i %s', async (status, code, message) => {
    const backend = createFakeBackend();
    backend.routes['POST /auth/session'] = () => errorResponse(status, code, message);
    const user = renderApp(backend, '/sign-in');

    await user.type(await screen.findByLabelText('Email'), 'ada');
    await user.type(screen.getByLabelText('Password'), 'x');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));

    expect(await screen.findByRole('alert')).toHaveTextContent(message);
  });

  it('asks for the missing field without calling the server', async () => {
    const backend = createFakeBackend();
    const user = renderApp(backend, '/sign-in');

    await user.click(await screen.findByRole('button', { name: 'Sign in' }));
    expect(screen.getByRole('alert')).toHaveTextContent('Enter your email address.');
    expect(screen.getByLabelText('Email')).toHaveFocus();

    await user.type(screen.getByLabelText('Email'), 'ada@example.com');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(screen.getByRole('alert')).toHaveTextContent('Enter your password.');
    expect(backend.callsTo('POST /auth/session')).toHaveLength(0);
  });

  it('sends a signed-in user on from /sign-in, ignoring a next that leaves the site', async () => {
    const backend = createFakeBackend({ user: ada });
    renderApp(backend, '/sign-in?next=%2F%2Fevil.example%2Fphish');

    expect(await screen.findByRole('heading', { level: 1, name: 'Overview' })).toBeVisible();
    expect(location()).toBe('/');
  });

  it('offers a retry when the API cannot be reached at start', async () => {
    const backend = createFakeBackend({ user: ada });
    backend.routes['GET /auth/session'] = () => Promise.reject(new TypeError('fetch failed'));
    const user = renderApp(backend, '/jobs');

    expect(await screen.findByRole('heading', { name: 'Cannot reach Clientele' })).toBeVisible();
    expect(screen.getByRole('alert')).toHaveTextContent(
      'Could not reach the server (fetch failed)',
    );

    backend.routes['GET /auth/session'] = () => jsonResponse(200, { user: ada });
    await user.click(screen.getByRole('button', { name: 'Try again' }));

    expect(await screen.findByRole('heading', { level: 1, name: 'Jobs' })).toBeVisible();
  });
});

describe('shell', () => {
  it('has the navigation sections, and marks the current one', async () => {
    const backend = createFakeBackend({ user: ada });
    const user = renderApp(backend, '/');

    const nav = await screen.findByRole('navigation', { name: 'Sections' });
    const links = within(nav).getAllByRole('link');
    expect(links.map((link) => link.textContent)).toEqual([
      'Overview',
      'Customers',
      'Items',
      'Segments',
      'Campaigns',
      'Models',
      'Jobs',
      'API keys',
      'Audit log',
    ]);
    expect(within(nav).getByRole('link', { name: 'Overview' })).toHaveAttribute(
      'aria-current',
      'page',
    );

    await user.click(within(nav).getByRole('link', { name: 'API keys' }));
    expect(await screen.findByRole('heading', { level: 1, name: 'API keys' })).toBeVisible();
    expect(location()).toBe('/api-keys');
    expect(within(nav).getByRole('link', { name: 'API keys' })).toHaveAttribute(
      'aria-current',
      'page',
    );
    expect(within(nav).getByRole('link', { name: 'Overview' })).not.toHaveAttribute('aria-current');
    expect(document.title).toBe('API keys · Clientele');
  });

  it('renders every section with its heading and description', async () => {
    for (const section of sections.filter((s) => s.path !== '/')) {
      const backend = createFakeBackend({ user: ada });
      const { unmount } = render(
        <MemoryRouter initialEntries={[section.path]}>
          <App client={backend.client} />
        </MemoryRouter>,
      );
      expect(await screen.findByRole('heading', { level: 1, name: section.label })).toBeVisible();
      expect(screen.getByText(section.description)).toBeVisible();
      unmount();
    }
  });

  it('shows the signed-in user, the API readiness and the GraphQL principal on the overview', async () => {
    const backend = createFakeBackend({ user: ada });
    renderApp(backend, '/');

    const signedIn = await screen.findByRole('region', { name: 'Signed in' });
    expect(within(signedIn).getByText('ada@example.com')).toBeVisible();
    expect(within(signedIn).getByText('usr_01')).toBeVisible();

    const health = screen.getByRole('region', { name: 'API health' });
    expect(await within(health).findByTestId('readiness-status')).toHaveTextContent('Ready');
    expect(within(health).getByText('database')).toBeVisible();
    expect(within(health).getByText('ok')).toBeVisible();

    const viewer = await screen.findByTestId('viewer');
    expect(viewer).toHaveTextContent('USER');
    expect(backend.callsTo('POST /graphql')[0]?.body).toMatchObject({
      query: expect.stringContaining('viewer') as unknown,
    });
  });

  it('shows a database that is not ready, and checks again on request', async () => {
    const backend = createFakeBackend({ user: ada });
    backend.routes['GET /readyz'] = () =>
      jsonResponse(503, { status: 'not_ready', checks: { database: 'connection refused' } });
    const user = renderApp(backend, '/');

    const health = await screen.findByRole('region', { name: 'API health' });
    expect(await within(health).findByTestId('readiness-status')).toHaveTextContent('Not ready');
    expect(within(health).getByText('connection refused')).toBeVisible();

    backend.routes['GET /readyz'] = () =>
      jsonResponse(200, { status: 'ready', checks: { database: 'ok' } });
    await user.click(within(health).getByRole('button', { name: 'Check again' }));
    await waitFor(() =>
      expect(within(health).getByTestId('readiness-status')).toHaveTextContent(/^Ready$/),
    );
    expect(backend.callsTo('GET /readyz')).toHaveLength(2);
  });

  it('shows a GraphQL error with its code', async () => {
    const backend = createFakeBackend({ user: ada });
    backend.routes['POST /graphql'] = () =>
      jsonResponse(200, {
        data: null,
        errors: [{ message: 'Not allowed to read the viewer', extensions: { code: 'FORBIDDEN' } }],
      });
    renderApp(backend, '/');

    const principal = await screen.findByRole('region', { name: 'GraphQL principal' });
    const alert = await within(principal).findByRole('alert');
    expect(alert).toHaveTextContent('Not allowed to read the viewer');
    expect(alert).toHaveTextContent('FORBIDDEN');
  });

  it('signs out through DELETE /auth/session and lands on the sign-in page', async () => {
    const backend = createFakeBackend({ user: ada });
    const user = renderApp(backend, '/segments');

    await user.click(await screen.findByRole('button', { name: 'Sign out' }));

    expect(await screen.findByRole('heading', { name: 'Sign in to the console' })).toBeVisible();
    expect(screen.getByText('You have signed out.')).toBeVisible();
    expect(location()).toBe('/sign-in');
    expect(backend.callsTo('DELETE /auth/session')).toHaveLength(1);
  });

  it('returns to sign-in when GraphQL says the session has ended', async () => {
    const backend = createFakeBackend({ user: ada });
    backend.routes['POST /graphql'] = () =>
      jsonResponse(200, {
        errors: [{ message: 'Session expired', extensions: { code: 'UNAUTHENTICATED' } }],
      });
    renderApp(backend, '/');

    expect(
      await screen.findByText('Your session has ended. Sign in again to continue.'),
    ).toBeVisible();
    expect(location()).toBe('/sign-in');
  });

  it('shows a not-found page for an unknown route', async () => {
    const backend = createFakeBackend({ user: ada });
    renderApp(backend, '/no/such/page');
    expect(await screen.findByRole('heading', { level: 1, name: 'Page not found' })).toBeVisible();
  });
});

describe('redirect targets', () => {
  it.each([
    [null, '/'],
    ['', '/'],
    ['/customers?q=1', '/customers?q=1'],
    ['//evil.example', '/'],
    ['/\\evil.example', '/'],
    ['https://evil.example/', '/'],
    ['/sign-in?next=/x', '/'],
  ])('safeNextPath(%j) is %j', (input, expected) => {
    expect(safeNextPath(input)).toBe(expected);
  });

  it('signInPath keeps the way back', () => {
    expect(signInPath('/')).toBe('/sign-in');
    expect(signInPath('/jobs?x=1')).toBe('/sign-in?next=%2Fjobs%3Fx%3D1');
  });
});
