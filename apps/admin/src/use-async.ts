import { useCallback, useEffect, useState } from 'react';
import { ApiError } from './api';

export interface AsyncState<T> {
  /** The last successful result (kept while reloading, so the page does not flicker). */
  data: T | undefined;
  /** The error of the last attempt, if it failed. */
  error: ApiError | undefined;
  pending: boolean;
  /** When `data` or `error` last arrived. */
  settledAt: Date | undefined;
}

function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  return new ApiError(error instanceof Error ? error.message : String(error), 'UNKNOWN', undefined);
}

/**
 * Runs `load` on mount and whenever `reload()` is called or `load` changes (wrap it in
 * useCallback). Results of an attempt that was superseded or unmounted are dropped.
 */
export function useAsync<T>(load: () => Promise<T>): AsyncState<T> & { reload: () => void } {
  const [attempt, setAttempt] = useState(0);
  const [state, setState] = useState<AsyncState<T>>({
    data: undefined,
    error: undefined,
    pending: true,
    settledAt: undefined,
  });

  useEffect(() => {
    let current = true;
    load().then(
      (data) => {
        if (current) setState({ data, error: undefined, pending: false, settledAt: new Date() });
      },
      (error: unknown) => {
        if (current) {
          setState((previous) => ({
            data: previous.data,
            error: toApiError(error),
            pending: false,
            settledAt: new Date(),
          }));
        }
      },
    );
    return () => {
      current = false;
    };
  }, [load, attempt]);

  const reload = useCallback(() => {
    setState((previous) => ({ ...previous, pending: true }));
    setAttempt((n) => n + 1);
  }, []);

  return { ...state, reload };
}
