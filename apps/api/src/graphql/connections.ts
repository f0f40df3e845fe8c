import type { Page } from '@clientele/domain';

/** Field resolvers of a Relay connection type whose parent is a domain Page. */
export function connectionFields<T>() {
  return {
    edges: (page: Page<T>) => page.nodes.map((node, i) => ({ cursor: page.cursors[i] ?? '', node })),
    nodes: (page: Page<T>) => page.nodes,
    pageInfo: (page: Page<T>) => ({
      hasNextPage: page.hasNextPage,
      hasPreviousPage: page.hasPreviousPage,
      startCursor: page.cursors[0] ?? null,
      endCursor: page.cursors.at(-1) ?? null,
    }),
    totalCount: (page: Page<T>) => (page.totalCount ? page.totalCount() : page.nodes.length),
  };
}
