import { useEffect } from 'react';

export const productName = 'Clientele';

/** Sets the tab title to "<page> · Clientele" (screen readers announce it on navigation). */
export function useDocumentTitle(page: string | undefined): void {
  useEffect(() => {
    document.title = page ? `${page} · ${productName}` : productName;
  }, [page]);
}
