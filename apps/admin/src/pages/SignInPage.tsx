import { useId, useRef, useState, type FormEvent } from 'react';
import { Navigate, useSearchParams } from 'react-router';
import { ApiError } from '../api';
import { FullPageStatus, safeNextPath, useSession } from '../session';
import { productName, useDocumentTitle } from '../use-document-title';
import { Logo } from '../components/Logo';

function messageFor(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  return 'Something went wrong while signing in. Try again.';
}

export function SignInPage() {
  useDocumentTitle('Sign in');
  const { state, signIn } = useSession();
  const [params] = useSearchParams();
  const next = safeNextPath(params.get('next'));
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const emailRef = useRef<HTMLInputElement>(null);
  const passwordRef = useRef<HTMLInputElement>(null);
  const errorId = useId();

  // Already signed in, or just signed in: go where the user was heading.
  if (state.status === 'signed-in') return <Navigate to={next} replace />;
  if (state.status === 'loading') {
    return (
      <FullPageStatus>
        <p role="status">Loading…</p>
      </FullPageStatus>
    );
  }

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (pending) return;
    const trimmed = email.trim();
    if (trimmed === '') {
      setError('Enter your email address.');
      emailRef.current?.focus();
      return;
    }
    if (password === '') {
      setError('Enter your password.');
      passwordRef.current?.focus();
      return;
    }
    setError(null);
    setPending(true);
    try {
      await signIn(trimmed, password);
      // The session is now signed in; the render above redirects.
    } catch (caught) {
      setError(messageFor(caught));
      setPending(false);
    }
  }

  const notice =
    state.status === 'signed-out' && state.reason === 'expired'
      ? 'Your session has ended. Sign in again to continue.'
      : state.status === 'signed-out' && state.reason === 'signed-out'
        ? 'You have signed out.'
        : null;

  return (
    <div className="sign-in">
      <main className="sign-in__card" aria-labelledby="sign-in-heading">
        <div className="sign-in__brand">
          <Logo />
          <span>{productName}</span>
        </div>
        <h1 id="sign-in-heading">Sign in to the console</h1>
        {notice && (
          <p className="notice" role="status">
            {notice}
          </p>
        )}
        {state.status === 'error' && (
          <p className="notice notice--warning" role="status">
            {state.error.message}
          </p>
        )}
        <form
          className="form"
          noValidate
          onSubmit={(event) => void onSubmit(event)}
          aria-describedby={error ? errorId : undefined}
        >
          <div className="field">
            <label htmlFor="sign-in-email">Email</label>
            <input
              ref={emailRef}
              id="sign-in-email"
              name="email"
              type="email"
              autoComplete="username"
              inputMode="email"
              autoFocus
              required
              value={email}
              onChange={(event) => setEmail(event.target.value)}
              aria-invalid={error !== null && email.trim() === '' ? true : undefined}
            />
          </div>
          <div className="field">
            <label htmlFor="sign-in-password">Password</label>
            <input
              ref={passwordRef}
              id="sign-in-password"
              name="password"
              type="password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(event) => setPassword(event.target.value)}
            />
          </div>
          {error && (
            <div id={errorId} className="form__error" role="alert">
              {error}
            </div>
          )}
          <button
            type="submit"
            className="button button--primary button--block"
            disabled={pending}
            aria-busy={pending || undefined}
          >
            {pending ? 'Signing in…' : 'Sign in'}
          </button>
        </form>
      </main>
    </div>
  );
}
