import { useCallback } from 'react';
import type { ApiError, Readiness } from '../api';
import { useApi } from '../api-context';
import { PageHeader } from '../components/PageHeader';
import { overviewSection as section } from '../sections';
import { useUser } from '../session';
import { useAsync } from '../use-async';

export const VIEWER_QUERY = /* GraphQL */ `
  query ConsoleViewer {
    viewer {
      kind
      name
      role
      scopes
    }
  }
`;

export interface ViewerData {
  viewer: {
    kind: string;
    name: string;
    role: string | null;
    scopes: string[] | null;
  } | null;
}

function formatTime(date: Date | undefined): string {
  return date ? date.toLocaleTimeString() : '';
}

function ErrorLine({ error }: { error: ApiError }) {
  return (
    <p className="card__error" role="alert">
      {error.message}
      {error.code !== 'UNKNOWN' ? (
        <>
          {' '}
          <code>{error.code}</code>
        </>
      ) : null}
    </p>
  );
}

function ReadinessCard() {
  const api = useApi();
  const load = useCallback(() => api.getReadiness(), [api]);
  const { data, error, pending, settledAt, reload } = useAsync<Readiness>(load);

  return (
    <section className="card" aria-labelledby="health-heading" aria-busy={pending}>
      <div className="card__header">
        <h2 id="health-heading">API health</h2>
        <button type="button" className="button button--small" onClick={reload} disabled={pending}>
          {pending ? 'Checking…' : 'Check again'}
        </button>
      </div>
      {data && (
        <>
          <p>
            <span
              className={`status status--${data.status === 'ready' ? 'ok' : 'bad'}`}
              data-testid="readiness-status"
            >
              {data.status === 'ready' ? 'Ready' : 'Not ready'}
            </span>
          </p>
          <dl className="details">
            {Object.entries(data.checks).map(([name, value]) => (
              <div key={name} className="details__row">
                <dt>{name}</dt>
                <dd className={value === 'ok' ? 'text-ok' : 'text-bad'}>{value}</dd>
              </div>
            ))}
          </dl>
        </>
      )}
      {error && <ErrorLine error={error} />}
      {!data && !error && <p role="status">Checking…</p>}
      {settledAt && <p className="card__meta">Checked at {formatTime(settledAt)} (GET /readyz)</p>}
    </section>
  );
}

function PrincipalCard() {
  const api = useApi();
  const load = useCallback(() => api.graphql<ViewerData>(VIEWER_QUERY), [api]);
  const { data, error } = useAsync(load);
  const viewer = data?.viewer;

  return (
    <section className="card" aria-labelledby="principal-heading">
      <div className="card__header">
        <h2 id="principal-heading">GraphQL principal</h2>
      </div>
      {viewer && (
        <dl className="details" data-testid="viewer">
          <div className="details__row">
            <dt>Kind</dt>
            <dd>{viewer.kind}</dd>
          </div>
          <div className="details__row">
            <dt>Name</dt>
            <dd>{viewer.name}</dd>
          </div>
          <div className="details__row">
            <dt>Role</dt>
            <dd>{viewer.role ?? '—'}</dd>
          </div>
          <div className="details__row">
            <dt>Scopes</dt>
            <dd>{viewer.scopes && viewer.scopes.length > 0 ? viewer.scopes.join(', ') : '—'}</dd>
          </div>
        </dl>
      )}
      {data && !viewer && <p>The API did not return a principal.</p>}
      {error && <ErrorLine error={error} />}
      {!data && !error && <p role="status">Loading…</p>}
      <p className="card__meta">
        From <code>query {'{ viewer { kind name role scopes } }'}</code>
      </p>
    </section>
  );
}

export function OverviewPage() {
  const user = useUser();
  return (
    <>
      <PageHeader title={section.label} description={section.description} />
      <div className="cards">
        <section className="card" aria-labelledby="user-heading">
          <div className="card__header">
            <h2 id="user-heading">Signed in</h2>
          </div>
          <dl className="details">
            <div className="details__row">
              <dt>Email</dt>
              <dd>{user.email}</dd>
            </div>
            <div className="details__row">
              <dt>Role</dt>
              <dd>
                <span className={`badge badge--${user.role}`}>{user.role}</span>
              </dd>
            </div>
            <div className="details__row">
              <dt>User id</dt>
              <dd>
                <code>{user.id}</code>
              </dd>
            </div>
          </dl>
        </section>
        <ReadinessCard />
        <PrincipalCard />
      </div>
    </>
  );
}
