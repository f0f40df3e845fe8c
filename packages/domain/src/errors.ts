export type DomainErrorCode = 'BAD_USER_INPUT' | 'NOT_FOUND' | 'CONFLICT';

/** A mistake in what the caller asked for; the message names the input and what was expected. */
export class DomainError extends Error {
  readonly code: DomainErrorCode;
  readonly field: string | undefined;
  constructor(code: DomainErrorCode, message: string, field?: string) {
    super(message);
    this.name = 'DomainError';
    this.code = code;
    this.field = field;
  }
}
