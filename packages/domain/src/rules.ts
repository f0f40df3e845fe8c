// The package's rules without its database layer: `@clientele/domain/rules`, for threads that
// check rows (the bulk import's readers) and need neither drizzle nor a connection.
export { DomainError } from './errors.js';
export { contentEventId, RATING_MAX, RATING_MIN, validateInteraction, type InteractionInput, type InteractionRow } from './interaction-rules.js';
