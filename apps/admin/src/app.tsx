import type { ApiClient } from './api';
import { ApiProvider } from './api-context';
import { AppRoutes } from './routes';
import { SessionProvider } from './session';

/**
 * The console without its router, so the browser can use a BrowserRouter and tests a
 * MemoryRouter: `<BrowserRouter><App client={…} /></BrowserRouter>`.
 */
export function App({ client }: { client: ApiClient }) {
  return (
    <ApiProvider client={client}>
      <SessionProvider>
        <AppRoutes />
      </SessionProvider>
    </ApiProvider>
  );
}
