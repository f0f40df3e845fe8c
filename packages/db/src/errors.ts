/**
 * A database problem the operator can fix (bad URL, server down, data folder unusable or in
 * use). Its message is one line saying what is wrong and what to do.
 */
export class DatabaseSetupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DatabaseSetupError';
  }
}
