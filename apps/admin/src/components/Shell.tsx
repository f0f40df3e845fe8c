import { useState } from 'react';
import { Link, NavLink, Outlet } from 'react-router';
import { ApiError } from '../api';
import { sections } from '../sections';
import { useSession, useUser } from '../session';
import { productName } from '../use-document-title';
import { Logo } from './Logo';

/** The signed-in frame: top bar, side navigation, and the current page. */
export function Shell() {
  const user = useUser();
  const { signOut } = useSession();
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function onSignOut() {
    setPending(true);
    setError(null);
    try {
      await signOut();
    } catch (caught) {
      setError(
        caught instanceof ApiError
          ? `Could not sign out: ${caught.message}`
          : 'Could not sign out.',
      );
      setPending(false);
    }
  }

  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/" className="topbar__brand">
          <Logo />
          <span>{productName}</span>
        </Link>
        <div className="topbar__user">
          {error && (
            <span className="topbar__error" role="alert">
              {error}
            </span>
          )}
          <span className="topbar__identity">
            <span className="visually-hidden">Signed in as </span>
            <span className="topbar__email" data-testid="current-user-email">
              {user.email}
            </span>
            <span className="visually-hidden">, role </span>
            <span className={`badge badge--${user.role}`} data-testid="current-user-role">
              {user.role}
            </span>
          </span>
          <button
            type="button"
            className="button button--ghost"
            onClick={() => void onSignOut()}
            disabled={pending}
          >
            {pending ? 'Signing out…' : 'Sign out'}
          </button>
        </div>
      </header>
      <div className="shell__body">
        <nav className="sidenav" aria-label="Sections">
          <ul>
            {sections.map((section) => (
              <li key={section.path}>
                <NavLink
                  to={section.path}
                  end={section.path === '/'}
                  className={({ isActive }) =>
                    isActive ? 'sidenav__link sidenav__link--active' : 'sidenav__link'
                  }
                >
                  {section.label}
                </NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <main id="main" className="content" tabIndex={-1}>
          <Outlet />
        </main>
      </div>
    </div>
  );
}
