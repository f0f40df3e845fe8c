import type { Database } from '@clientele/db';
import type { ContactCipher } from '@clientele/privacy';

/** What the domain rules need: the database, the contact-data cipher, the accepted types. */
export interface Store {
  db: Database;
  cipher: ContactCipher;
  /** Interaction types accepted (built-in plus configured). */
  interactionTypes: readonly string[];
}
