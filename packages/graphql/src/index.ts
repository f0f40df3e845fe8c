import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export type * from './generated/types.js';

/** Folder holding the SDL files; shipped with the package. */
export const schemaFolder = fileURLToPath(new URL('../schema', import.meta.url));

/** The SDL files' contents, in a stable order (base first). */
export function loadTypeDefs(): string[] {
  const files = readdirSync(schemaFolder)
    .filter((name) => name.endsWith('.graphql'))
    .sort((a, b) => (a === 'base.graphql' ? -1 : b === 'base.graphql' ? 1 : a.localeCompare(b)));
  return files.map((name) => readFileSync(path.join(schemaFolder, name), 'utf8'));
}
