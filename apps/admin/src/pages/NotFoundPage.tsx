import { Link, useLocation } from 'react-router';
import { PageHeader } from '../components/PageHeader';

export function NotFoundPage() {
  const location = useLocation();
  return (
    <>
      <PageHeader
        title="Page not found"
        description={`There is no page at ${location.pathname}.`}
      />
      <p>
        <Link to="/">Go to the overview</Link>
      </p>
    </>
  );
}
