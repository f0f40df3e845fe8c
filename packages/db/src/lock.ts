import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSetupError } from './errors.js';

// PGlite is a single-process database: two processes opening the same folder would corrupt
// it. A pid file in the data folder makes the second one stop with a clear message instead.

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, 'clientele.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new DatabaseSetupError(
          `cannot write to the data folder ${dataDir} (${(error as Error).message}): fix its permissions or set CLIENTELE_DATA_DIR`,
        );
      }
      const owner = Number.parseInt(readFileSync(file, 'utf8'), 10);
      if (Number.isInteger(owner) && isAlive(owner)) {
        throw new DatabaseSetupError(
          `the data folder ${dataDir} is in use by process ${owner} (a running server?): stop it first, or set DATABASE_URL to share a PostgreSQL database`,
        );
      }
      // The owner is gone (a crash or kill -9): the lock is stale.
      rmSync(file, { force: true });
    }
  }
  throw new DatabaseSetupError(`could not lock the data folder ${dataDir}: try again`);
}
