import { createContext, useContext, type ReactNode } from 'react';
import { createApiClient, type ApiClient } from './api';

// One client for the whole app, handed down by context so tests (and later, storybook-like
// fixtures) can give the tree a client that talks to a server of their own.
const ApiContext = createContext<ApiClient | null>(null);

export function ApiProvider({ client, children }: { client: ApiClient; children: ReactNode }) {
  return <ApiContext.Provider value={client}>{children}</ApiContext.Provider>;
}

export function useApi(): ApiClient {
  const client = useContext(ApiContext);
  if (!client) throw new Error('useApi() needs an <ApiProvider> above it');
  return client;
}

/** The client the app uses in the browser: same origin, the session cookie attached. */
export const defaultApiClient: ApiClient = createApiClient();
