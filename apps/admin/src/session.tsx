import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { Navigate, useLocation } from 'react-router';
import { ApiError, type User } from './api';
import { useApi } from './api-context';

// Who is signed in. The server owns the session (an httpOnly cookie); the console only asks
// GET /auth/session once at start, and follows sign-in, sign-out and any UNAUTHENTICATED
// answer from GraphQL (an expired session).

/** Why there is no session: never had one, signed out here, or the server ended it. */
export type SignedOutReason = 'none' | 'signed-out' | 'expired';

export type SessionState =
  | { status: 'loading' }
  | { status: 'signed-out'; reason: SignedOutReason }
  | { status: 'signed-in'; user: User }
  | { status: 'error'; error: ApiError };

export interface Session {
  state: SessionState;
  /** Signs in; rejects with the server's ApiError (e.g. UNAUTHENTICATED, RATE_LIMITED). */
  signIn(email: string, password: string): Promise<User>;
  signOut(): Promise<void>;
  /** Asks the server again (after a failed start, e.g. the API was down). */
  refresh(): void;
}

const SessionContext = createContext<Session | null>(null);

function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  return new ApiError(error instanceof Error ? error.message : String(error), 'UNKNOWN', undefined);
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const api = useApi();
  const [state, setState] = useState<SessionState>({ status: 'loading' });

  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let current = true;
    api.getSession().then(
      (user) => {
        if (current) {
          setState(user ? { status: 'signed-in', user } : { status: 'signed-out', reason: 'none' });
        }
      },
      (error: unknown) => {
        if (current) setState({ status: 'error', error: toApiError(error) });
      },
    );
    return () => {
      current = false;
    };
  }, [api, attempt]);

  useEffect(
    () =>
      api.onUnauthenticated(() =>
        setState((previous) =>
          previous.status === 'signed-in' ? { status: 'signed-out', reason: 'expired' } : previous,
        ),
      ),
    [api],
  );

  const session = useMemo<Session>(
    () => ({
      state,
      async signIn(email, password) {
        const user = await api.signIn(email, password);
        setState({ status: 'signed-in', user });
        return user;
      },
      async signOut() {
        await api.signOut();
        setState({ status: 'signed-out', reason: 'signed-out' });
      },
      refresh() {
        setState({ status: 'loading' });
        setAttempt((n) => n + 1);
      },
    }),
    [api, state],
  );

  return <SessionContext.Provider value={session}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession() needs a <SessionProvider> above it');
  return session;
}

/** The signed-in user; only for components rendered inside <RequireAuth>. */
export function useUser(): User {
  const { state } = useSession();
  if (state.status !== 'signed-in') throw new Error('useUser() used outside <RequireAuth>');
  return state.user;
}

/**
 * Where to go after signing in: the `next` query parameter when it is a path on this site
 * (never another origin, so a crafted link cannot send the user away), otherwise home.
 */
export function safeNextPath(next: string | null): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/';
  if (next === '/sign-in' || next.startsWith('/sign-in?')) return '/';
  return next;
}

/** The sign-in URL that comes back to `path` afterwards. */
export function signInPath(path: string): string {
  return path === '/' ? '/sign-in' : `/sign-in?next=${encodeURIComponent(path)}`;
}

export function FullPageStatus({ children }: { children: ReactNode }) {
  return (
    <div className="full-page">
      <div className="full-page__box">{children}</div>
    </div>
  );
}

function SessionError({ error, retry }: { error: ApiError; retry: () => void }) {
  return (
    <FullPageStatus>
      <h1>Cannot reach Clientele</h1>
      <p role="alert">{error.message}</p>
      <button type="button" className="button button--primary" onClick={retry}>
        Try again
      </button>
    </FullPageStatus>
  );
}

/** Renders its children for a signed-in user; sends anyone else to /sign-in?next=<here>. */
export function RequireAuth({ children }: { children: ReactNode }) {
  const { state, refresh } = useSession();
  const location = useLocation();
  switch (state.status) {
    case 'loading':
      return (
        <FullPageStatus>
          <p role="status">Loading…</p>
        </FullPageStatus>
      );
    case 'error':
      return <SessionError error={state.error} retry={refresh} />;
    case 'signed-out':
      // After an explicit sign-out there is nothing to come back to.
      return (
        <Navigate
          to={
            state.reason === 'signed-out'
              ? '/sign-in'
              : signInPath(location.pathname + location.search + location.hash)
          }
          replace
        />
      );
    case 'signed-in':
      return <>{children}</>;
  }
}
